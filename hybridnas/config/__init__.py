"""Typed, frozen run configuration: load a space YAML, apply ``--set`` overrides, check, dump.

A space file is YAML whose sections mirror the dataclasses of :mod:`~hybridnas.config.schema`;
``extends: other.yaml`` inherits another file and deep-merges over it
(:mod:`~hybridnas.config.load`). Loading checks types and unknown keys, with a suggestion
(:mod:`~hybridnas.config.convert`); :func:`check` then checks meaning: known ops, strategies,
engines and evaluators, sensible ranges (:mod:`~hybridnas.config.check`). Any problem is one
:class:`~hybridnas.errors.UserError` line naming the key (:mod:`~hybridnas.config.source`).

The package imports no plug-in: the checks that need one are hooks the plug-ins register in
:data:`hybridnas.registry.CONFIG_HOOKS`. The names below are its API.
"""

from .check import (
    MAX_BLOCKS,
    MAX_IMAGE_SIZE,
    MAX_POPULATION,
    MAX_STAGES,
    check,
    check_against_data,
    check_surrogate,
    check_train,
    check_train_against_data,
    plain_name,
    space_size,
    train_data_config,
)
from .convert import absolute_data_path, dump_yaml, from_dict, replace, to_dict
from .load import (
    DEFAULT_SPACE,
    SPACES_DIR,
    apply_overrides,
    config_from_dict,
    deep_merge,
    load_config,
    resolve_space_path,
)
from .schema import (
    MEMBER_KEYS,
    OBJECTIVES,
    BlockConfig,
    CellConfig,
    ConstraintsConfig,
    DataConfig,
    EngineConfig,
    EvaluationConfig,
    FidelityConfig,
    LatencyConfig,
    NetworkConfig,
    RayConfig,
    RunConfig,
    StrategyConfig,
    SurrogateConfig,
    TableConfig,
    TrainConfig,
)
from .source import Checks, Source, parse_override, where

__all__ = [
    "BlockConfig", "CellConfig", "Checks", "ConstraintsConfig", "DataConfig", "DEFAULT_SPACE", "EngineConfig",
    "EvaluationConfig", "FidelityConfig", "LatencyConfig", "MAX_BLOCKS", "MAX_IMAGE_SIZE", "MAX_POPULATION",
    "MAX_STAGES", "MEMBER_KEYS", "NetworkConfig", "OBJECTIVES", "RayConfig", "RunConfig", "SPACES_DIR", "Source",
    "StrategyConfig", "SurrogateConfig", "TableConfig", "TrainConfig", "absolute_data_path", "apply_overrides",
    "check", "check_against_data", "check_surrogate", "check_train", "check_train_against_data", "config_from_dict",
    "deep_merge", "dump_yaml", "from_dict", "load_config", "parse_override", "plain_name", "replace",
    "resolve_space_path", "space_size", "to_dict", "train_data_config", "where",
]
