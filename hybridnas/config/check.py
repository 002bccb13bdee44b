"""The checks of a config's meaning: ranges, consistency, the size of the space.

:func:`check` runs after conversion (which checked keys and types) and refuses, with one
:class:`~hybridnas.config.source.Checks` line naming the key, what types cannot: out-of-range
values, sections that contradict each other, a population larger than the space. Checks that need
what a higher layer owns - the known ops, a tabular space's table, the block strategies,
evaluators, engines and predictors - are hooks those layers register in
:data:`hybridnas.registry.CONFIG_HOOKS` under the key they check; this package imports none of
them, and calls each at its place in the order below. Checks that need the data or the machine
are :func:`check_against_data` and the pipeline's ``validate``.
"""

from __future__ import annotations

import os
from typing import Mapping, Optional, Sequence, Tuple, Union

from ..registry import CONFIG_HOOKS
from .convert import absolute_data_path, from_dict, to_dict
from .schema import (
    OBJECTIVES,
    BlockConfig,
    CellConfig,
    ConstraintsConfig,
    DataConfig,
    EngineConfig,
    EvaluationConfig,
    LatencyConfig,
    NetworkConfig,
    RunConfig,
    SurrogateConfig,
    TrainConfig,
)
from .source import Checks

# A population, initial design or batch of networks beyond this is a typo rather than a search: it
# would not fit in memory long before it finished (distinct networks are also bounded by the space).
MAX_POPULATION = 100_000
# Sides, stages and cells per stage beyond these are typos too: no network of them fits in memory.
MAX_IMAGE_SIZE = 4096
MAX_STAGES = 64
MAX_BLOCKS = 1000


def plain_name(name: str) -> bool:
    """A folder name a user can type back: no separators, no control characters, no blank or
    padded name, not ``.`` or ``..``."""
    return (name.strip() == name and name not in ("", ".", "..") and "/" not in name and os.sep not in name
            and not (os.altsep and os.altsep in name) and name.isprintable())


def check(cfg: RunConfig, source: str = "config") -> None:
    """Check what types cannot: known names, ranges, consistency. Raises :class:`UserError`.

    Checks that need the data or the machine (batch sizes, folds, cutout against the images;
    precision against the device) are :func:`check_against_data` and the pipeline's
    ``validate``, run before a run directory is made."""
    ck = Checks(source)
    _check_run(cfg, ck)
    size = _check_tabular(cfg, ck) if cfg.tabular else _check_network_space(cfg, ck)
    _check_constraints(cfg.constraints, ck)
    _check_evaluation(cfg, ck)
    check_train(cfg.train, source)
    if cfg.data is not None:
        train_data_config(cfg.data, cfg.train, source)
    _check_evaluator_kind(cfg.evaluation, cfg.tabular, ck)
    _check_fidelity(cfg.evaluation, cfg.tabular, ck)
    _check_latency(cfg.latency, ck)
    _check_engine(cfg.engine, ck, size)


def _check_run(cfg: RunConfig, ck: Checks) -> None:
    """The top-level keys: seed, threads, name, device."""
    if not 0 <= cfg.seed < 2**32:
        ck.bad("seed", f"must be an integer from 0 to 2**32 - 1, got {cfg.seed}")
    ck.positive("threads", cfg.threads)
    if not plain_name(cfg.name):  # the run's folder is named after it
        ck.bad("name", f"is {cfg.name!r}, not a plain folder name; give a name like 'digits-small'")
    if cfg.device not in ("auto", "cpu", "cuda") and not cfg.device.startswith("cuda:"):
        ck.bad("device", f"must be auto, cpu, cuda or cuda:N, got '{cfg.device}'")


def space_size(cfg: RunConfig) -> int:
    """How many distinct networks (or table rows) the space holds: an upper bound before the block
    stage, each library member counted as a distinct block."""
    if cfg.tabular:
        return CONFIG_HOOKS.get("table")(cfg, "config")
    n = cfg.network
    lo, hi = n.blocks
    per_stage = max(hi - lo + 1, 0) * len(cfg.block.library) * len(set(n.widths)) * len(set(n.downsample))
    size = len(set(n.stem))
    for _ in range(min(max(n.stages, 0), MAX_STAGES)):
        size *= per_stage
        if size > 10**30:  # beyond any population: no need to count on
            break
    return size


# ---------------------------------------------------------------- the space


def _check_objective_list(objectives: Sequence[str], ck: Checks, known: Optional[Sequence[str]]) -> None:
    if not objectives:
        ck.bad("objectives", "is empty; use e.g. [error, params, flops]")
    if known is not None:
        for i, o in enumerate(objectives):
            if o not in known:
                ck.bad(f"objectives[{i}]", f"is unknown ('{o}'); choose from {', '.join(known)}")
    if len(set(objectives)) != len(objectives):
        ck.bad("objectives", "lists an objective twice")
    if len(objectives) < 2:
        ck.bad("objectives", "needs at least two objectives for a Pareto front")


def _check_tabular(cfg: RunConfig, ck: Checks) -> int:
    """A tabular space: genes, a table and nothing of the network space; the table is read and
    checked against the genes and objectives here (the ``table`` hook), so a bad table fails at
    load time. Returns the number of rows."""
    for k in ("data", "cell", "block", "network"):
        if getattr(cfg, k) is not None:
            ck.bad(k, "has no meaning in a tabular space (genes are declared and looked up in the table); remove it")
    if cfg.table is None:
        ck.bad("table", "is missing: a space that declares genes needs table.path, the CSV of results to look them "
                        "up in")
    if cfg.evaluation.epochs is not None:
        ck.bad("evaluation.epochs", "has no meaning in a tabular space (nothing is trained); remove it")
    _check_objective_list(cfg.objectives, ck, None)
    for i, m in enumerate(cfg.table.maximize):
        if m not in cfg.objectives:
            ck.bad(f"table.maximize[{i}]", f"'{m}' is not one of the objectives ({', '.join(cfg.objectives)})")
        if m == "error":
            ck.bad(f"table.maximize[{i}]", "cannot be 'error' (error is minimised; maximise an accuracy column "
                                           "instead)")
    return CONFIG_HOOKS.get("table")(cfg, ck.source)  # checks genes, columns and values; one-line errors


def _check_network_space(cfg: RunConfig, ck: Checks) -> int:
    """The network space's sections; returns how many distinct networks it holds."""
    for k in ("data", "cell", "block", "network"):
        if getattr(cfg, k) is None:
            ck.missing(k, in_file=True)
    if cfg.table is not None:
        ck.bad("table", "needs 'genes': a tabular space declares its genes; remove 'table' or add 'genes'")
    if cfg.evaluation.epochs is None:
        ck.missing("evaluation.epochs", in_file=True)
    _check_cell(cfg.cell, ck)
    _check_data(cfg.data, "data", ck)
    _check_block(cfg.block, ck)
    CONFIG_HOOKS.get("block.strategy")(cfg, ck.source)  # the strategy's options, alone and per member
    _check_network(cfg.network, ck)
    _check_objective_list(cfg.objectives, ck, OBJECTIVES)
    return space_size(cfg)


def _check_cell(cell: CellConfig, ck: Checks) -> None:
    if not cell.ops:
        ck.bad("cell.ops", "is empty; list at least one operation")
    CONFIG_HOOKS.get("cell.ops")(cell.ops, ck)  # each a known operation
    if len(set(cell.ops)) != len(cell.ops):
        ck.bad("cell.ops", "lists an operation twice; list each once")
    if all(op == "none" for op in cell.ops):
        ck.bad("cell.ops", "has only 'none'; add at least one real operation")
    if not 1 <= cell.nodes <= 8:
        ck.bad("cell.nodes", f"must be between 1 and 8, got {cell.nodes}")


def _check_block(b: BlockConfig, ck: Checks) -> None:
    """The block section, but for the strategy's options (the ``block.strategy`` hook)."""
    for k in ("width", "cells", "epochs", "batch_size", "reference_width"):
        ck.positive(f"block.{k}", getattr(b, k))
    for k in ("warmup_epochs", "max_parameter_free", "weight_decay", "arch_weight_decay", "grad_clip"):
        ck.positive(f"block.{k}", getattr(b, k), allow_zero=True)
    for k in ("lr", "arch_lr", "memory_limit_gb"):
        ck.positive(f"block.{k}", getattr(b, k))
    ck.positive("block.skip_stop", b.skip_stop, allow_zero=True)
    _check_sgd(b, ck, "block.")
    for i, beta in enumerate(b.arch_betas):
        ck.within(f"block.arch_betas[{i}]", beta, 0, 1, hi_open=True, why=" (Adam's betas)")
    if b.width % 2:
        ck.bad("block.width", f"must be even (reduction cells halve it in two branches), got {b.width}")
    if b.cells < 3:
        ck.bad("block.cells", f"must be >= 3 so the supernet has normal and reduction cells, got {b.cells}")
    if not b.library:
        ck.bad("block.library", "is empty; give at least one member (e.g. [{}])")
    for i, member in enumerate(b.library):
        if not isinstance(member, Mapping):
            ck.bad(f"block.library[{i}]", "must be a mapping of strategy options, e.g. {lam: 0.5}")


def _check_network(n: NetworkConfig, ck: Checks) -> None:
    ck.positive("network.stages", n.stages)
    ck.at_most("network.stages", n.stages, MAX_STAGES, "no network that deep fits in memory")
    lo, hi = n.blocks
    ck.at_most("network.blocks", hi, MAX_BLOCKS, "no stage of that many cells fits in memory")
    if lo < 1:
        ck.bad("network.blocks", f"must start at >= 1 block per stage, got [{lo}, {hi}]")
    if hi < lo:
        ck.bad("network.blocks", f"is an empty range [{lo}, {hi}]; use [low, high] with low <= high")
    if not n.widths:
        ck.bad("network.widths", "is empty; give at least one width multiplier")
    for i, w in enumerate(n.widths):
        ck.positive(f"network.widths[{i}]", w)
    if not n.stem:
        ck.bad("network.stem", "is empty; give at least one stem width")
    for i, s in enumerate(n.stem):
        ck.positive(f"network.stem[{i}]", s)
    ck.positive("network.base_width", n.base_width)
    if not n.downsample or any(v not in (0, 1) for v in n.downsample):
        ck.bad("network.downsample", f"must list allowed flags from 0 and 1, got {list(n.downsample)}")


def _check_data(d: DataConfig, key: str, ck: Checks) -> None:
    for k in ("val_fraction", "test_fraction"):
        if not 0 < getattr(d, k) < 1:
            ck.bad(f"{key}.{k}", f"must be between 0 and 1 (exclusive), got {getattr(d, k)}")
    if d.val_fraction + d.test_fraction >= 0.9:
        ck.bad(f"{key}.val_fraction", "plus data.test_fraction leaves under 10% for training; lower them")
    for k in ("subset", "val_subset", "test_subset"):
        ck.positive(f"{key}.{k}", getattr(d, k))
    ck.positive(f"{key}.image_size", d.image_size)
    ck.at_most(f"{key}.image_size", d.image_size, MAX_IMAGE_SIZE, "images that large do not fit in memory")


# ---------------------------------------------------------------- the search


def _check_constraints(c: ConstraintsConfig, ck: Checks) -> None:
    for k in ("max_params", "max_flops", "max_latency_ms"):
        ck.positive(f"constraints.{k}", getattr(c, k))


def _check_evaluation(cfg: RunConfig, ck: Checks) -> None:
    """The candidates' training, Ray placement and precision, and the evaluator's own checks
    (the ``evaluation.evaluator`` hook)."""
    e = cfg.evaluation
    for k in ("epochs", "batch_size", "lr", "workers", "timeout_s", "max_loss"):
        ck.positive(f"evaluation.{k}", getattr(e, k))
    ck.positive("evaluation.weight_decay", e.weight_decay, allow_zero=True)
    ck.within("evaluation.label_smoothing", e.label_smoothing, 0, 1, hi_open=True)
    _check_sgd(e, ck, "evaluation.")
    r = e.ray
    for k in ("num_cpus", "cpus_per_task"):
        ck.positive(f"evaluation.ray.{k}", getattr(r, k))
    for k in ("num_gpus", "gpus_per_task", "retries"):
        ck.positive(f"evaluation.ray.{k}", getattr(r, k), allow_zero=True)
    if r.gpus_per_task is not None and r.gpus_per_task > 1 and not float(r.gpus_per_task).is_integer():
        ck.bad("evaluation.ray.gpus_per_task", f"above 1 must be a whole number of GPUs, got {r.gpus_per_task}")
    if cfg.device == "cpu" and e.precision == "fp16":
        ck.bad("evaluation.precision", "'fp16' needs a CUDA GPU; use bf16 or fp32 on CPU")
    CONFIG_HOOKS.get("evaluation.evaluator")(cfg, ck.source)


def _check_evaluator_kind(e: EvaluationConfig, tabular: bool, ck: Checks) -> None:
    """The ``table`` evaluator exactly for a tabular space."""
    if (e.evaluator == "table") != tabular:
        if tabular:
            ck.bad("evaluation.evaluator", f"is '{e.evaluator}', but this space declares genes and a table; "
                                           "set it to 'table'")
        ck.bad("evaluation.evaluator", "'table' needs a tabular space: declare 'genes' and a 'table' section")


def _check_fidelity(e: EvaluationConfig, tabular: bool, ck: Checks) -> None:
    """Successive halving's budgets, and cross-validation folds (which exclude each other)."""
    fid = e.fidelity
    if fid.budgets:
        if tabular:
            ck.bad("evaluation.fidelity.budgets", "has no meaning in a tabular space (nothing is trained); remove it")
        for i, b in enumerate(fid.budgets):
            ck.positive(f"evaluation.fidelity.budgets[{i}]", b)
        steps = list(fid.budgets) + [e.epochs]
        if any(a >= b for a, b in zip(steps, steps[1:])):
            ck.bad("evaluation.fidelity.budgets", f"must increase and stay below evaluation.epochs ({e.epochs}), "
                                                  f"got {list(fid.budgets)}")
    ck.within("evaluation.fidelity.promote", fid.promote, 0, 1, lo_open=True)
    ck.positive("evaluation.folds", e.folds)
    if e.folds > 1 and (fid.budgets or tabular):
        ck.bad("evaluation.folds", "above 1 cannot be combined with " + (
            "a tabular space (nothing is trained)" if tabular
            else "evaluation.fidelity.budgets (a rung continues one network); set folds to 1 or drop the budgets"))


def _check_latency(lat: LatencyConfig, ck: Checks) -> None:
    for k in ("batch_size", "repeats"):
        ck.positive(f"latency.{k}", getattr(lat, k))
    ck.positive("latency.warmup", lat.warmup, allow_zero=True)


def _check_engine(g: EngineConfig, ck: Checks, size: int) -> None:
    """The engine (its name and algorithm: the ``engine`` hook), its population and budget
    against the space's ``size``, and the surrogate's settings."""
    CONFIG_HOOKS.get("engine")(g, ck)
    if g.pop_size < 4:
        ck.bad("engine.pop_size", f"must be >= 4, got {g.pop_size}")
    ck.positive("engine.generations", g.generations)
    ck.positive("engine.evaluations", g.evaluations)
    if g.generations is None and g.evaluations is None:
        ck.bad("engine.generations", "is unset and so is engine.evaluations; set one of them "
                                     "(the search stops at the first reached)")
    sg = g.surrogate
    check_surrogate(sg, ck)
    # every member of a population, initial design or batch is a distinct network
    for key, v in (("engine.pop_size", g.pop_size), ("engine.surrogate.initial", sg.initial),
                   ("engine.surrogate.batch", sg.batch)):
        ck.at_most(key, v, size, f"the space holds only {size:,} distinct networks")
    for key, v in (("engine.pop_size", g.pop_size), ("engine.surrogate.initial", sg.initial),
                   ("engine.surrogate.batch", sg.batch), ("engine.surrogate.inner_pop", sg.inner_pop)):
        ck.at_most(key, v, MAX_POPULATION, "a larger population would not fit in memory")
    ck.within("engine.crossover_prob", g.crossover_prob, 0, 1)
    ck.within("engine.mutation_prob", g.mutation_prob, 0, 1)


def check_surrogate(sg: SurrogateConfig, ck: Optional[Checks] = None) -> None:
    """``engine.surrogate``'s own settings, each against its range; the surrogate loop runs this
    too, for an :class:`EngineConfig` built in code rather than loaded."""
    ck = ck or Checks("engine settings")
    for k in ("initial", "batch", "inner_pop", "inner_generations"):
        ck.positive(f"engine.surrogate.{k}", getattr(sg, k))
    if not isinstance(sg.samples, int) or sg.samples < 1:  # a config built in code has no type check
        ck.bad("engine.surrogate.samples", f"must be an integer >= 1, got {sg.samples}")
    if sg.folds < 2:
        ck.bad("engine.surrogate.folds", f"must be >= 2, got {sg.folds}")
    for k in ("explore", "local", "best", "error_margin"):
        ck.within(f"engine.surrogate.{k}", getattr(sg, k), 0, 1)
    if sg.target not in ("log", "raw"):
        ck.bad("engine.surrogate.target", f"is '{sg.target}'; use log or raw")
    if sg.inner_pop is not None and sg.inner_pop < 4:
        ck.bad("engine.surrogate.inner_pop", f"must be >= 4, got {sg.inner_pop}")
    if sg.predictor != "auto":
        CONFIG_HOOKS.get("engine.surrogate.predictor")(sg.predictor)


# ---------------------------------------------------------------- full training


def _check_sgd(section: Union[BlockConfig, EvaluationConfig, TrainConfig], ck: Checks, prefix: str) -> None:
    """The SGD settings a section shares: momentum in [0, 1), 0 <= lr_min <= lr."""
    ck.within(f"{prefix}momentum", section.momentum, 0, 1, hi_open=True)
    if not 0 <= section.lr_min <= section.lr:
        ck.bad(f"{prefix}lr_min", f"must be between 0 and the lr ({section.lr}), got {section.lr_min}")


def train_data_config(data: DataConfig, t: TrainConfig, source: str = "config") -> DataConfig:
    """The data a full training uses: the search's ``data`` without its caps, ``train.data`` on top."""
    merged = {**to_dict(data), "subset": None, "val_subset": None, "test_subset": None, **dict(t.data)}
    dc = from_dict(DataConfig, absolute_data_path({"data": merged})["data"], source=source, prefix="train.data")
    _check_data(dc, "train.data", Checks(source))
    return dc


def check_train(t: TrainConfig, source: str = "config") -> None:
    """Ranges of the ``train`` section (also checked after CLI overrides of ``hybridnas train``)."""
    ck = Checks(source, prefix="train.")
    for k in ("epochs", "batch_size", "lr"):
        ck.positive(k, getattr(t, k))
    for k in ("lr_min", "weight_decay", "grad_clip", "cutout", "aux_weight", "eval_every", "momentum"):
        ck.positive(k, getattr(t, k), allow_zero=True)
    _check_sgd(t, ck, "")
    ck.within("drop_path", t.drop_path, 0, 1, hi_open=True)
    ck.within("label_smoothing", t.label_smoothing, 0, 1, hi_open=True)


def check_against_data(cfg: RunConfig, n_train: int, image_size: Tuple[int, int], source: str = "config") -> None:
    """The bounds that follow from the data a search trains on (``n_train`` training images of
    ``image_size``): a batch cannot hold more images than the split (a larger one would only ask
    for memory), and the ``train`` section's cutout square must fit in the images it trains on."""
    ck = Checks(source)
    if cfg.block is not None:
        ck.at_most("block.batch_size", cfg.block.batch_size, n_train, f"the training split has {n_train:,} images")
    ck.at_most("evaluation.batch_size", cfg.evaluation.batch_size, n_train,
               f"the training split has {n_train:,} images")
    resized = train_data_config(cfg.data, cfg.train, source).image_size if cfg.data is not None else None
    check_train_against_data(cfg.train, (resized, resized) if resized else image_size, Checks(source, prefix="train."))


def check_train_against_data(t: TrainConfig, image_size: Tuple[int, int], ck: Checks) -> None:
    """A full training's cutout against the images it trains on (``image_size``)."""
    side = min(image_size)
    ck.at_most("cutout", t.cutout, side, f"the images are {image_size[0]}x{image_size[1]} pixels")
