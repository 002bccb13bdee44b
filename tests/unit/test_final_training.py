"""The pieces of full training: the auxiliary head, its removal, the `train` section."""

import random

import pytest
import torch

from hybridnas.config import load_config
from hybridnas.errors import UserError
from hybridnas.space.builder import build_network, strip_aux
from hybridnas.space.costs import network_cost
from hybridnas.space.genome import ArchSpec, Genome, Stage
from hybridnas.space.genotype import BlockGenotype
from hybridnas.training import TrainSettings, accuracy, fit
from tests.unit.test_genotype import random_cell


def spec(nodes=3, size=(8, 8)):
    rng = random.Random(nodes)
    blocks = (BlockGenotype(random_cell(rng, nodes), random_cell(rng, nodes)),)
    genome = Genome(8, (Stage(2, 0, 1.0, False), Stage(1, 0, 1.0, True), Stage(1, 0, 1.0, True)))
    return ArchSpec(genome, blocks, 8, nodes, 1, 10, size)


@pytest.mark.parametrize("size", [(8, 8), (7, 9), (16, 16)])
def test_aux_head_trains_and_leaves_the_deployable_network_exact(size):
    s = spec(size=size)
    model = build_network(s, aux_head=True).train()
    logits, aux = model(torch.randn(4, 1, *size))
    assert logits.shape == aux.shape == (4, 10)
    model.eval()
    assert model(torch.randn(2, 1, *size)).shape == (2, 10)  # eval: logits only
    state = strip_aux(model.state_dict())
    assert (any(k.startswith("aux_head.") for k in model.state_dict())
            and not any(k.startswith("aux_head.") for k in state))
    plain = build_network(s)
    plain.load_state_dict(state)  # strict: exactly the keys of the network without the head
    assert sum(p.numel() for p in plain.parameters()) == network_cost(s).params
    x = torch.randn(3, 1, *size)
    assert torch.equal(plain.eval()(x), model(x))


def test_fit_uses_the_aux_loss_and_drop_path():
    from hybridnas.data import Dataset, Split

    g = torch.Generator().manual_seed(0)
    split = Split(torch.randn(64, 1, 8, 8, generator=g), torch.randint(0, 10, (64,), generator=g))
    val = Split(torch.randn(48, 1, 8, 8, generator=g), torch.randint(0, 10, (48,), generator=g))
    data = Dataset("random", split, val, split, 10, (0.0,), (1.0,))
    torch.manual_seed(0)
    model = build_network(spec(), aux_head=True)
    before = {k: v.clone() for k, v in model.state_dict().items() if k.startswith("aux_head.")}
    out = fit(model, data, TrainSettings(epochs=2, batch_size=32, aux_weight=0.4, drop_path=0.3, cutout=2), seed=0)
    assert model.drop_path_prob == pytest.approx(0.3 * 1 / 2)
    # what fit reports is the trained network's accuracy on the validation split, as measured afterwards
    # (eval mode: no drop path, logits only)
    assert out["val_acc"] == accuracy(model, val)
    after = model.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before), "the auxiliary head was not trained"


def test_fit_monitors_the_split_it_is_told_and_measures_the_last_epoch_once(monkeypatch):
    """With the validation split trained on, ``hybridnas train`` watches the test split: every
    ``eval_every`` epochs and after the last, whose accuracy is the final one (not measured twice)."""
    import hybridnas.training as training
    from hybridnas.data import Dataset, Split

    g = torch.Generator().manual_seed(0)
    split = Split(torch.randn(64, 1, 8, 8, generator=g), torch.randint(0, 10, (64,), generator=g))
    test = Split(torch.randn(32, 1, 8, 8, generator=g), torch.randint(0, 10, (32,), generator=g))
    data = Dataset("random", split, split, test, 10, (0.0,), (1.0,))
    measured = []
    real = training.accuracy
    monkeypatch.setattr(training, "accuracy", lambda model, sp, **kw: measured.append(sp) or real(model, sp, **kw))
    logged = {}
    out = fit(build_network(spec()), data, TrainSettings(epochs=3, batch_size=32), seed=0, eval_splits=("test",),
              eval_every=2, monitor="test", on_epoch=lambda e, m: logged.__setitem__(e, m))
    assert ([e for e, m in logged.items() if "test_acc" in m] == [1, 2]
            and not any("val_acc" in m for m in logged.values()))
    assert measured == [test, test] and out["test_acc"] == logged[2]["test_acc"]


def test_train_section_defaults_and_checks():
    cfg = load_config()
    assert cfg.train.epochs == 60 and cfg.train.drop_path == 0.1
    c10 = load_config("cifar10")
    assert (c10.train.epochs, c10.train.cutout, c10.train.aux_weight) == (600, 16, 0.4)
    for override, match in (("train.epochs=0", "'train.epochs' must be > 0"),
                            ("train.drop_path=1", r"'train.drop_path' must be in \[0, 1\)"),
                            ("train.cutout=-2", "'train.cutout' must be >= 0"),
                            ("train.epoch=3", "did you mean 'epochs'")):
        with pytest.raises(UserError, match=match):
            load_config(None, [override])
