"""The speed switches of evaluation: thread policy, passive OpenMP waiting, channels-last for the
supernet and candidates, longest-first batches, packed tensors between processes, inference mode."""

import pickle

import pytest
import torch

from hybridnas.config import dump_yaml, load_config
from hybridnas.device import DEFAULT_THREADS, passive_wait, process_threads, thread_plan, torch_threads
from hybridnas.evaluate.base import Evaluator
from hybridnas.evaluate.candidate import candidate_cost
from hybridnas.evaluate.packing import Packed, pack_result, unpack_result
from tests.conftest import TINY, population


def test_thread_plan_keeps_workers_times_threads_within_the_cores(monkeypatch):
    monkeypatch.setattr("hybridnas.device.cpu_cores", lambda: 8)
    assert DEFAULT_THREADS == 1
    assert thread_plan(None, 4) == (1, None)  # one thread per worker unless asked
    assert thread_plan(3, 4) == (3, None)
    threads, note = thread_plan(6, 4)  # 2 workers on 8 cores: 4 each at most
    assert threads == 4 and "threads 6 lowered to 4" in note and "8 core" in note
    assert thread_plan(2, 0)[0] == 1  # never zero
    assert process_threads(None) == 1 and process_threads(16) == 8


def test_passive_wait_is_the_default_but_a_users_policy_wins(monkeypatch):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    passive_wait()
    import os

    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert passive_wait() is False  # torch is loaded in this process: only later processes get it
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"


def test_thread_counts_given_back(monkeypatch):
    """device owns torch's thread count: torch_threads and an in-process evaluator give it back."""
    monkeypatch.setattr("hybridnas.device.cpu_cores", lambda: 2)
    seen = []
    monkeypatch.setattr("hybridnas.evaluate.base.run_setup", lambda c, d, s, dev: seen.append(torch.get_num_threads()))
    original = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with torch_threads(1):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        Evaluator(load_config(TINY, ["threads=1"]), None, "cpu")._run(["cand"], lambda c, r: None)
        assert seen == [1] and torch.get_num_threads() == 2  # it trained at 1 and gave the caller's 2 back
    finally:
        torch.set_num_threads(original)


def test_the_layout_is_written_into_the_config():
    text = dump_yaml(load_config(TINY))
    block, evaluation = text.split("\nblock:")[1].split("\nnetwork:")[0], text.split("\nevaluation:")[1]
    assert "channels_last: true" in block and "channels_last: true" in evaluation  # no null a resume must guess


@pytest.mark.parametrize("on", [True, False])
def test_supernet_channels_last_switch(digits, on):
    from hybridnas.block.stage import build_supernet
    from hybridnas.block.supernet import CellWeights

    cfg = load_config(TINY, [f"block.channels_last={str(on).lower()}"])
    net = build_supernet(cfg, digits, "cpu")
    assert (net.stem[0].weight.stride()[1] == 1) is on  # (C, 1, 3, 3): the input-channel stride tells NHWC
    layouts = []
    net.cells[0].register_forward_hook(lambda m, i, o: layouts.append(
        (o.is_contiguous(memory_format=torch.channels_last), o.is_contiguous())))
    ref = build_supernet(load_config(TINY, ["block.channels_last=false"]), digits, "cpu")  # same seed, NCHW
    weights = {k: CellWeights(torch.softmax(net.alphas[k], -1)) for k in ("normal", "reduce")}
    x = digits.train.x[:8]
    assert torch.allclose(net(x, weights), ref(x, weights), atol=1e-5)  # same numbers, another layout
    assert layouts == [(on, not on)]  # the activations follow
    w = {k: CellWeights(torch.softmax(ref.alphas[k], -1)) for k in ("normal", "reduce")}
    ref(x, w).sum().backward()  # the optimiser's parameters keep their identity through the switch
    assert ref.stem[0].weight.grad is not None


def test_packed_tensors_cross_processes_as_a_few_tensors():
    w = torch.randn(2, 3, 4, 4).contiguous(memory_format=torch.channels_last)
    state = {"conv.weight": w, "bn.num_batches_tracked": torch.tensor(7), "fc.bias": torch.randn(5)}
    ckpt = {"model": state, "optimizer": {"state": {0: {"momentum_buffer": 2 * w}},
                                          "param_groups": [{"lr": 0.1, "params": [0]}]}, "epoch": 3}
    p = Packed.pack(ckpt)
    assert sorted(p.flats) == ["float32", "int64"] and p.flats["float32"].numel() == 2 * w.numel() + 5
    out = pickle.loads(pickle.dumps(p)).unpack()
    assert out["epoch"] == 3 and out["optimizer"]["param_groups"] == [{"lr": 0.1, "params": [0]}]
    assert torch.equal(out["model"]["conv.weight"], w) and out["model"]["bn.num_batches_tracked"].item() == 7
    assert torch.equal(out["optimizer"]["state"][0]["momentum_buffer"], 2 * w)
    result = pack_result({"status": "ok", "state": state, "checkpoint": None, "val_acc": 0.5})
    assert isinstance(result["state"], Packed) and result["checkpoint"] is None
    back = unpack_result(result)
    assert back["val_acc"] == 0.5 and all(torch.equal(back["state"][k], v) for k, v in state.items())
    twice = Packed.pack({"a": w, "b": w}).unpack()  # one tensor named twice travels once
    assert twice["a"].data_ptr() == twice["b"].data_ptr()


def test_batches_run_longest_first_and_come_back_in_order():
    cfg, data, cands = population(["evaluation.epochs=1"], n=5)

    class Recording(Evaluator):
        def _run(self, candidates, done):
            self.order = [c.arch_id for c in candidates]
            super()._run(candidates, done)

    seen = []
    with Recording(cfg, data, torch.device("cpu")) as ev:
        results = ev.evaluate_batch(cands, lambda c, r: seen.append(c))
    costs = {c.arch_id: candidate_cost(c) for c in cands}
    assert len(set(costs.values())) > 1
    assert ev.order == sorted(costs, key=costs.get, reverse=True)  # the longest trainings start first
    assert [r["arch_id"] for r in results] == [c.arch_id for c in cands]  # results in the order given
    assert all(any(c is s for s in seen) for c in cands)  # the callback gets the candidates it was given
    assert all(r["status"] == "ok" and isinstance(r["state"], dict) for r in results)
    for r in results:  # every accuracy with its split size and standard error
        assert r["val_n"] == len(data.val) and 0 < r["val_acc_se"] < 0.1 and r["test_n"] == len(data.test)


def test_evaluation_runs_in_inference_mode(digits):
    from hybridnas.training import accuracy

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    modes = []
    model.register_forward_hook(lambda m, i, o: modes.append(torch.is_inference_mode_enabled()))
    acc = accuracy(model, digits.val)
    assert modes and all(modes) and 0 <= acc <= 1
    assert model[1].weight.requires_grad  # the model trains on afterwards
