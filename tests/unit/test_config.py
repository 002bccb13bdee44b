import numpy as np
import pytest

from hybridnas.config import config_from_dict, load_config, parse_override, to_dict
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


def test_extends_with_another_strategy_drops_the_parents_options_with_a_note(tmp_path):
    p = write(tmp_path, "extends: digits\nblock:\n  strategy: {name: ddpnas, rounds: 2}\n")
    notes = []
    cfg = load_config(str(p), notes=notes)  # was: block.library[0] (ddpnas options): unknown key 'mode'
    assert cfg.block.strategy.name == "ddpnas" and cfg.block.strategy.options == {"rounds": 2}
    assert cfg.block.library == ({},)
    assert len(notes) == 1 and "'ddpnas' replaces 'enhanced'" in notes[0] and "cost, lam, mode" in notes[0]
    assert "library members: 3 -> 1" in notes[0] and "extends digits.yaml" in notes[0]
    # a child's own library and options are its own: kept, and checked
    p = write(tmp_path, "extends: digits\nblock:\n  strategy: {name: darts, order: 2}\n  library: [{}]\n")
    cfg = load_config(str(p), notes=[])
    assert cfg.block.strategy.options == {"order": 2} and cfg.block.library == ({},)
    p = write(tmp_path, "extends: digits\nblock:\n  strategy: {name: darts, mode: additive}\n")
    with pytest.raises(UserError, match="unknown key 'mode'"):
        load_config(str(p))
    # the same strategy inherits the options as before
    p = write(tmp_path, "extends: digits\nblock:\n  strategy: {name: enhanced, lam: 0.2}\n")
    assert load_config(str(p)).block.strategy.options == {"mode": "additive", "cost": "params", "lam": 0.2}


def test_data_paths_resolve_against_the_space_file_and_overrides_against_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "spaces").mkdir()
    (tmp_path / "data").mkdir()
    np.savez(tmp_path / "data" / "x.npz", x=np.zeros((40, 4, 4)), y=np.arange(40) % 2)
    space = tmp_path / "spaces" / "mine.yaml"
    space.write_text("extends: digits\ndata: {dataset: npz, path: ../data/x.npz}\n"
                     "train: {data: {path: ../data/x.npz}}\n")
    monkeypatch.chdir(tmp_path / "spaces")
    cfg = load_config(str(space))
    assert cfg.data.path == str(tmp_path / "data" / "x.npz") and cfg.train.data["path"] == cfg.data.path
    monkeypatch.chdir(tmp_path)  # the space file decides, not where the command runs
    assert load_config(str(space)).data.path == str(tmp_path / "data" / "x.npz")
    assert load_config(str(space), ["data.path=data/x.npz"]).data.path == str(tmp_path / "data" / "x.npz")
    # a missing file says where it looked
    space.write_text("extends: digits\ndata: {dataset: npz, path: nowhere.npz}\n")
    from hybridnas.data import load_dataset

    with pytest.raises(UserError, match=f"looked for {tmp_path}/spaces/nowhere.npz; .* relative to that file"):
        load_dataset(load_config(str(space)).data, 0)


def test_train_data_is_all_of_the_dataset_with_train_data_on_top():
    from hybridnas.config import train_data_config

    cfg = load_config("fashion_mnist")
    assert (cfg.data.image_size, cfg.data.subset, cfg.data.val_subset) == (14, 6000, 2000)
    dc = train_data_config(cfg.data, cfg.train)
    assert (dc.image_size, dc.subset, dc.val_subset, dc.test_subset) == (28, None, None, None)
    assert dc.dataset == "fashion_mnist" and cfg.train.include_val is True
    with pytest.raises(UserError, match=r"'train.data.subset' must be > 0"):
        load_config("fashion_mnist", ["train.data.subset=0"])
    with pytest.raises(UserError, match=r"unknown key 'train.data.sub'; did you mean 'subset'"):
        load_config("fashion_mnist", ["train.data.sub=5"])


@pytest.mark.parametrize("name",
                         sorted(p.stem for p in __import__("hybridnas.config").config.SPACES_DIR.glob("*.yaml")))
def test_every_shipped_space_loads_by_name(name):
    cfg = load_config(name)
    assert config_from_dict(to_dict(cfg)) == cfg


def test_the_fashion_mnist_spaces_search_small_and_train_at_full_resolution():
    from hybridnas.config import train_data_config

    cpu, gpu = load_config("fashion_mnist"), load_config("fashion_mnist_gpu")
    assert cpu.data.dataset == gpu.data.dataset == "fashion_mnist" and cpu.data.download
    assert cpu.data.image_size == 14 and gpu.data.image_size is None and gpu.data.subset is None
    assert train_data_config(cpu.data, cpu.train).image_size == train_data_config(gpu.data, gpu.train).image_size == 28
    assert gpu.engine.pop_size * gpu.engine.generations > cpu.engine.pop_size * cpu.engine.generations


PLUGIN_PACKAGES = ("hybridnas.space", "hybridnas.block", "hybridnas.evaluate", "hybridnas.network")


def test_config_imports_no_plugin_yet_checks_them_when_loaded_first():
    """Importing the config package loads none of the packages above it; a config loaded before any
    of them was imported still has its ops, strategy, evaluator, engine and predictor checked (the
    hooks of registry.CONFIG_HOOKS load the modules that register them)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import hybridnas.config as c\n"
        "from hybridnas.errors import UserError\n"
        f"print(sorted(m for m in sys.modules if m.startswith({PLUGIN_PACKAGES!r})))\n"
        "for o in ('block.strategy.name=dartz', 'engine.algorithm=nsga9', 'engine.surrogate.predictor=gpp',\n"
        "          'cell.ops=[foo]', 'evaluation.evaluator=rayy', 'block.strategy.name=darts'):\n"
        "    try:\n"
        "        notes = []\n"
        "        c.load_config(None, [o], notes=notes)\n"
        "        print('ok', notes)\n"
        "    except UserError as e:\n"
        "        print('error', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0] == "[]"
    assert out[1].startswith("error unknown block strategy 'dartz'")
    assert "'engine.algorithm' is 'nsga9', which engine 'pymoo' does not have" in out[2]
    assert out[3].startswith("error unknown predictor 'gpp'")
    assert "'cell.ops[0]' is an unknown operation 'foo'" in out[4]
    assert out[5].startswith("error unknown evaluator 'rayy'")
    assert "block strategy 'darts' replaces 'enhanced': its options cost, lam, mode are dropped" in out[6]


def test_a_strategy_may_be_written_as_a_name_or_with_its_options_beside_it():
    """StrategyConfig.expand: the short forms of block.strategy, through the general conversion."""
    from hybridnas.config import Checks, StrategyConfig, from_dict

    ck = Checks()
    assert from_dict(StrategyConfig, StrategyConfig.expand("egs", "block.strategy", ck)) == StrategyConfig("egs", {})
    both = StrategyConfig.expand({"name": "shrink", "inner": "egs", "options": {"keep": 2}}, "block.strategy", ck)
    assert both == {"name": "shrink", "options": {"keep": 2, "inner": "egs"}}
