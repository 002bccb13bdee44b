import pytest

from hybridnas.config import load_config, parse_override, to_dict, config_from_dict
from hybridnas.errors import UserError
from tests.conftest import TINY


def write(tmp_path, text, name="s.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_default_space_loads_and_round_trips():
    cfg = load_config()
    assert cfg.data.dataset == "digits"
    assert cfg.block.strategy.name == "enhanced"
    assert config_from_dict(to_dict(cfg)) == cfg


def test_cifar_space_loads():
    cfg = load_config("cifar10")
    assert cfg.data.dataset == "cifar10" and len(cfg.cell.ops) == 8


def test_overrides_are_typed():
    cfg = load_config(None, ["engine.generations=3", "constraints.max_params=1e5", "block.strategy.name=darts"])
    assert cfg.engine.generations == 3
    assert cfg.constraints.max_params == 1e5
    assert cfg.block.strategy.name == "darts"


@pytest.mark.parametrize(
    "override,match",
    [
        ("engine.generation=3", "unknown key 'engine.generation'; did you mean 'generations'"),
        ("engine.generations=three", "'engine.generations' must be an integer"),
        ("cell.ops=[sep_conv_3x3, conv_9x9]", r"'cell.ops\[1\]' is an unknown operation 'conv_9x9'"),
        ("block.strategy.name=dartz", "unknown block strategy 'dartz'"),
        ("engine.name=jmetal", "unknown engine 'jmetal'"),
        ("evaluation.evaluator=slurm", "unknown evaluator 'slurm'"),
        ("network.blocks=[0, 2]", "'network.blocks' must start at >= 1"),
        ("network.blocks=[3, 2]", "empty range"),
        ("network.widths=[-1.0]", r"'network.widths\[0\]' must be > 0"),
        ("data.val_fraction=1.5", "'data.val_fraction' must be between 0 and 1"),
        ("block.library=[{lam: fast}]", "must be a number"),
        ("block.library=[{gamma: 1}]", "unknown key 'gamma'"),
        ("objectives=[error]", "at least two objectives"),
        ("engine", "not key=value"),
        ("evaluation.precision=fp8", "'evaluation.precision' must be one of auto, fp32, bf16, fp16"),
        ("evaluation.timeout_s=0", "'evaluation.timeout_s' must be > 0"),
        ("evaluation.ray.retries=-1", "'evaluation.ray.retries' must be >= 0"),
        ("evaluation.ray.gpus_per_task=1.5", "whole number of GPUs"),
        ("evaluation.ray.cpu_per_task=1", "did you mean 'cpus_per_task'"),
        ("evaluation.channels_last=maybe", "must be true or false"),
    ],
)
def test_bad_values_name_the_key(override, match):
    with pytest.raises(UserError, match=match):
        load_config(None, [override])


def test_missing_required_field(tmp_path):
    p = write(tmp_path, "data: {dataset: digits}\n")
    with pytest.raises(UserError, match="required key 'cell' is missing"):
        load_config(p)


def test_malformed_yaml_names_the_line(tmp_path):
    p = write(tmp_path, "data:\n  dataset: [digits\n")
    with pytest.raises(UserError, match="malformed YAML at line"):
        load_config(p)


def test_extends_merges_sections(tmp_path):
    p = write(tmp_path, "extends: digits\nengine: {generations: 2}\n")
    cfg = load_config(p)
    assert cfg.engine.generations == 2 and cfg.engine.pop_size == load_config().engine.pop_size


def test_unknown_space_name():
    with pytest.raises(UserError, match="not found"):
        load_config("no-such-space")


def test_parse_override_values():
    assert parse_override("a.b=[1, 2]") == (["a", "b"], [1, 2])
    assert parse_override("a=") == (["a"], None)


@pytest.mark.parametrize("key", ["block.strategy.mode", "block.strategy.options.mode"])
def test_strategy_options_are_overridden_by_either_key(key):
    # tiny.yaml (through digits.yaml) writes `mode: additive` beside the strategy's name; the
    # saved config.yaml writes options under `options`: an override must win through both
    cfg = load_config(TINY, [f"{key}=multiplicative"])
    assert cfg.block.strategy.options["mode"] == "multiplicative"
    with pytest.raises(UserError, match="'mode' must be one of additive, multiplicative"):
        load_config(TINY, [f"{key}=weird"])
