"""The bad-input matrix: every case one test, each through the CLI entry point.

Each case must exit with status 2 and print exactly one line on stderr, ``hybridnas ...: error:
<what is wrong>; <the fix>``, with no traceback, and leave nothing half-written: a new run's
directory is not created, an existing run's files are unchanged.

The docs' reliability page (docs/reliability.md, "Bad input") lists these cases; keep its count in step
with ``CASES``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Callable, Dict, List, NamedTuple

import numpy as np
import pytest

from hybridnas.cli.main import main
from tests.conftest import TINY


def snapshot(root: Path) -> Dict[str, str]:
    """Every file under ``root`` with a hash of its bytes, every folder as ``/`` (empty when ``root``
    does not exist)."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "/"
            for p in sorted(root.rglob("*"))}


def cli(args: List[str], capsys) -> tuple:
    """Run ``hybridnas ARGS`` in-process; returns (exit status, stderr)."""
    capsys.readouterr()
    try:
        rc = main([str(a) for a in args])
    except SystemExit as e:  # argparse exits itself
        rc = e.code
    return rc, capsys.readouterr().err


class Ctx:
    """What a case gets: a scratch folder, the output folder for new runs, a finished run's copy."""

    def __init__(self, tmp: Path, request):
        self.tmp = tmp
        self.out = tmp / "runs"
        self._request = request
        self._run = None

    @property
    def run(self) -> Path:
        """A private copy of a finished tiny run (made on first use)."""
        if self._run is None:
            self._run = self._request.getfixturevalue("run_copy")
        return self._run

    def space(self, text: str) -> Path:
        """A space file that extends the tiny space with ``text``."""
        p = self.tmp / "space.yaml"
        p.write_text(f"extends: {TINY}\n{text}")
        return p

    def file(self, name: str, data: bytes, space: str) -> Path:
        """Write ``data`` to a file and a space naming it (``{}`` in ``space``)."""
        p = self.tmp / name
        p.write_bytes(data)
        return self.space(space.format(p))

    def npz(self, **arrays) -> Path:
        p = self.tmp / "data.npz"
        np.savez(p, **arrays)
        return self.space(f"data:\n  dataset: npz\n  path: {p}\n")

    def search(self, *args) -> List:
        return ["search", *args, "--out", self.out, "--name", "r", "--quiet", "--no-export"]


class Case(NamedTuple):
    id: str
    args: Callable[[Ctx], List]  # builds the inputs, returns the CLI arguments
    says: str  # a fragment the one-line message must contain
    watch: str = "out"  # "out": no run may be created; "run": the finished run stays unchanged


rng = np.random.default_rng(0)
X = rng.random((60, 8, 8)).astype(np.float32)
Y = np.arange(60) % 3


def _npz_bytes() -> bytes:
    import io

    buf = io.BytesIO()
    np.savez(buf, x=X, y=Y)
    return buf.getvalue()


def _corrupt(rel: str, data: bytes):
    def setup(c: Ctx) -> Path:
        (c.run / rel).write_bytes(data)
        return c.run
    return setup


def _front_id(c: Ctx) -> str:
    return json.loads((c.run / "front.json").read_text())["members"][0]["arch_id"]


def _weights(c: Ctx) -> str:
    """Overwrite the saved weights of a front model with garbage; returns its id."""
    members = json.loads((c.run / "front.json").read_text())["members"]
    m = next(m for m in members if (c.run / "weights" / f"{m['arch_id']}.pt").exists())
    (c.run / "weights" / f"{m['arch_id']}.pt").write_bytes(b"\x80\x02garbage, not a torch file")
    return m["arch_id"]


def _unfinished_block_stage(c: Ctx) -> Path:
    """The run as a kill during its block stage leaves it, with a garbage epoch checkpoint."""
    for rel in ("blocks.json", "block/member_1.json", "block/member_0.json"):
        (c.run / rel).unlink()
    (c.run / "block/ckpt.pt").write_bytes(b"PK\x03\x04 cut short")
    return c.run


def _cut_middle(c: Ctx) -> Path:
    p = c.run / "evaluations.jsonl"
    lines = p.read_text().splitlines(keepends=True)
    lines[2] = lines[2][: len(lines[2]) // 2] + "\n"
    p.write_text("".join(lines))
    return c.run


def _format(c: Ctx) -> Path:
    m = json.loads((c.run / "manifest.json").read_text())
    (c.run / "manifest.json").write_text(json.dumps({**m, "format_version": 99, "hybridnas": "9.9.9"}))
    return c.run


def _utf16_space(c: Ctx) -> Path:
    p = c.tmp / "space16.yaml"
    p.write_bytes(f"extends: {TINY}\nseed: 1\n".encode("utf-16"))  # starts with a byte-order mark
    return p


def _named(c: Ctx, name: str) -> List:
    """A new search into ``runs/sub/<name>``, next to a folder of the user's (``runs/sub/mine``)."""
    mine = c.out / "sub" / "mine"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("the user's own file")
    return ["search", TINY, "--out", c.out / "sub", "--name", name, "--quiet", "--no-export"]


def _not_writable(c: Ctx) -> List:
    if os.geteuid() == 0:  # root writes through chmod: use a path under a regular file instead
        blocker = c.tmp / "a-file"
        blocker.write_text("")
        return ["search", TINY, "--out", blocker / "sub", "--name", "r", "--quiet"]
    c.out.mkdir()
    c.out.chmod(0o555)
    return c.search(TINY)


def _idx_cut(c: Ctx) -> Path:
    """MNIST's four idx files, the training images cut short."""
    import gzip
    import struct

    folder = c.tmp / "mnist"
    folder.mkdir()
    images = struct.pack(">IIII", 0x803, 20, 28, 28) + bytes(20 * 28 * 28)
    labels = struct.pack(">II", 0x801, 20) + bytes(range(10)) * 2
    for stem, data in (("train-images-idx3-ubyte", images[:-100]), ("train-labels-idx1-ubyte", labels),
                       ("t10k-images-idx3-ubyte", images), ("t10k-labels-idx1-ubyte", labels)):
        (folder / f"{stem}.gz").write_bytes(gzip.compress(data))
    return c.space(f"data:\n  dataset: mnist\n  path: {c.tmp}\n")



def _fp16_here(c: Ctx) -> List:
    """fp16 with the device left to ``auto``: refused on a machine without a CUDA GPU."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("fp16 is valid on a machine with a CUDA GPU")
    return c.search(TINY, "--set", "evaluation.precision=fp16")


def _with_name(c: Ctx, name: str) -> List:
    return ["search", TINY, "--out", c.out, "--name", name, "--quiet", "--no-export"]


def _huge_label() -> np.ndarray:
    y = Y.copy()
    y[0] = 10**9
    return y


CASES = [
    # the space file and --set
    Case("malformed-yaml", lambda c: c.search(c.space("cell:\n  ops: [max_pool_3x3\n")), "malformed YAML"),
    Case("space-not-found", lambda c: c.search(c.tmp / "nope.yaml"), "not found"),
    Case("unknown-op", lambda c: c.search(c.space("cell:\n  ops: [max_pool_3x3, conv_9x9]\n")), "unknown operation 'conv_9x9'"),
    Case("unknown-strategy", lambda c: c.search(TINY, "--set", "block.strategy.name=nope"), "nope"),
    Case("unknown-engine", lambda c: c.search(TINY, "--set", "engine.name=nope"), "nope"),
    Case("unknown-evaluator", lambda c: c.search(TINY, "--set", "evaluation.evaluator=nope"), "nope"),
    Case("unknown-key", lambda c: c.search(TINY, "--set", "engine.popsize=8"), "engine.popsize"),
    Case("wrong-type", lambda c: c.search(TINY, "--set", "engine.generations=many"), "engine.generations"),
    Case("zero-blocks", lambda c: c.search(TINY, "--set", "network.blocks=[0,2]"), "network.blocks"),
    Case("empty-block-range", lambda c: c.search(TINY, "--set", "network.blocks=[3,1]"), "network.blocks"),
    Case("zero-stages", lambda c: c.search(TINY, "--set", "network.stages=0"), "network.stages"),
    Case("negative-width", lambda c: c.search(TINY, "--set", "network.widths=[-0.5,1.0]"), "network.widths[0]"),
    Case("negative-supernet-width", lambda c: c.search(TINY, "--set", "block.width=-4"), "block.width"),
    Case("impossible-max-params", lambda c: c.search(TINY, "--set", "constraints.max_params=100"), "max_params"),
    Case("impossible-max-flops", lambda c: c.search(TINY, "--set", "constraints.max_flops=1000"), "max_flops"),
    Case("space-not-utf8", lambda c: c.search(_utf16_space(c)), "not UTF-8"),
    Case("negative-seed", lambda c: c.search(TINY, "--set", "seed=-1"), "'seed'"),
    Case("huge-seed", lambda c: c.search(TINY, "--set", "seed=99999999999999999999999"), "'seed'"),
    Case("negative-threads", lambda c: c.search(TINY, "--set", "threads=-1"), "'threads'"),
    Case("adam-beta-above-1", lambda c: c.search(TINY, "--set", "block.arch_betas=[2,3]"), "block.arch_betas[0]"),
    # every value checked before anything is written (issue 21)
    Case("block-weight-decay-nan", lambda c: c.search(TINY, "--set", "block.weight_decay=nan"), "'block.weight_decay'"),
    Case("block-grad-clip-nan", lambda c: c.search(TINY, "--set", "block.grad_clip=nan"), "'block.grad_clip'"),
    Case("evaluation-weight-decay-negative", lambda c: c.search(TINY, "--set", "evaluation.weight_decay=-1"),
         "'evaluation.weight_decay'"),
    Case("evaluation-label-smoothing-2", lambda c: c.search(TINY, "--set", "evaluation.label_smoothing=2"),
         "'evaluation.label_smoothing'"),
    Case("block-batch-size-huge", lambda c: c.search(TINY, "--set", "block.batch_size=1e12"), "'block.batch_size'"),
    Case("evaluation-batch-size-huge", lambda c: c.search(TINY, "--set", "evaluation.batch_size=1e12"),
         "'evaluation.batch_size'"),
    Case("labels-huge", lambda c: c.search(c.npz(x=X, y=_huge_label())), "label 1000000000"),
    Case("npz-test-images-without-labels", lambda c: c.search(c.npz(x=X, y=Y, x_test=X)), "y_test"),
    Case("unknown-algorithm", lambda c: c.search(TINY, "--set", "engine.algorithm=nsga9"), "'engine.algorithm'"),
    Case("algorithm-of-another-engine", lambda c: c.search(TINY, "--set", "engine.name=deap", "--set",
                                                           "engine.algorithm=smsemoa"), "'engine.algorithm'"),
    Case("folds-above-the-data", lambda c: c.search(TINY, "--set", "evaluation.folds=100000"), "'evaluation.folds'"),
    Case("strategy-option-wrong-type", lambda c: c.search(TINY, "--set", "block.strategy.lam=abc"), "lam"),
    Case("fp16-without-a-gpu", _fp16_here, "'evaluation.precision'"),
    Case("memory-limit-negative", lambda c: c.search(TINY, "--set", "block.memory_limit_gb=-1"),
         "'block.memory_limit_gb'"),
    Case("supernet-over-memory-limit", lambda c: c.search(TINY, "--set", "block.memory_limit_gb=1e-9"),
         "block.memory_limit_gb"),  # found by the block stage: the new run, with nothing computed, is removed
    Case("image-size-beyond-memory", lambda c: c.search(TINY, "--set", "data.image_size=4096"), "data.image_size"),
    Case("pop-size-huge", lambda c: c.search(TINY, "--set", "engine.pop_size=10000000000000"), "'engine.pop_size'"),
    Case("surrogate-initial-huge", lambda c: c.search(TINY, "--set", "engine.surrogate.initial=10000000000000"),
         "'engine.surrogate.initial'"),
    Case("surrogate-best-above-one", lambda c: c.search(TINY, "--set", "engine.surrogate.best=1.5"),
         "'engine.surrogate.best'"),
    Case("surrogate-local-negative", lambda c: c.search(TINY, "--set", "engine.surrogate.local=-0.1"),
         "'engine.surrogate.local'"),
    Case("surrogate-target-unknown", lambda c: c.search(TINY, "--set", "engine.surrogate.target=rank"),
         "'engine.surrogate.target'"),
    Case("surrogate-error-margin-above-one", lambda c: c.search(TINY, "--set", "engine.surrogate.error_margin=2"),
         "'engine.surrogate.error_margin'"),
    Case("surrogate-samples-zero", lambda c: c.search(TINY, "--set", "engine.surrogate.samples=0"),
         "'engine.surrogate.samples'"),
    Case("evaluation-lr-nan", lambda c: c.search(TINY, "--set", "evaluation.lr=nan"), "'evaluation.lr'"),
    Case("block-lr-nan", lambda c: c.search(TINY, "--set", "block.lr=nan"), "'block.lr'"),
    Case("evaluation-lr-inf", lambda c: c.search(TINY, "--set", "evaluation.lr=.inf"), "'evaluation.lr'"),
    Case("skip-stop-negative", lambda c: c.search(TINY, "--set", "block.skip_stop=-5"), "'block.skip_stop'"),
    Case("timeout-nan", lambda c: c.search(TINY, "--set", "evaluation.timeout_s=nan"), "'evaluation.timeout_s'"),
    Case("max-loss-nan", lambda c: c.search(TINY, "--set", "evaluation.max_loss=nan"), "'evaluation.max_loss'"),
    Case("train-cutout-in-space-above-image", lambda c: c.search(TINY, "--set", "train.cutout=1000"), "'train.cutout'"),
    Case("impossible-max-latency", lambda c: c.search(TINY, "--set", "constraints.max_latency_ms=1e-9"),
         "'constraints.max_latency_ms'"),
    Case("name-blank", lambda c: _with_name(c, " "), "--name"),
    Case("name-with-newline", lambda c: _with_name(c, "a\nb"), "--name"),
    Case("set-typo-names-set", lambda c: c.search(TINY, "--set", "engine.generatons=1"), "--set engine.generatons=1"),
    # data
    Case("empty-dataset", lambda c: c.search(c.npz(x=X[:0], y=Y[:0])), "empty"),
    Case("images-2d", lambda c: c.search(c.npz(x=X.reshape(60, 64), y=Y)), "shape"),
    Case("labels-length", lambda c: c.search(c.npz(x=X, y=Y[:50])), "one label per image"),
    Case("labels-negative", lambda c: c.search(c.npz(x=X, y=Y - 1)), "out of range"),
    Case("labels-fractional", lambda c: c.search(c.npz(x=X, y=Y + 0.5)), "integers"),
    Case("test-images-other-shape", lambda c: c.search(c.npz(x=X, y=Y, x_test=X[:, :4, :4], y_test=Y)), "same shape"),
    Case("images-nan", lambda c: c.search(c.npz(x=np.where(X > 0.99, np.nan, X), y=Y)), "NaN"),
    Case("data-not-npz", lambda c: c.search(c.file("data.npz", b"not an archive", "data:\n  dataset: npz\n  path: {}\n")),
         "not a .npz archive"),
    Case("data-truncated-npz", lambda c: c.search(c.file("data.npz", _npz_bytes()[:300], "data:\n  dataset: npz\n  path: {}\n")),
         "not a .npz archive"),
    Case("data-object-arrays", lambda c: c.search(c.npz(x=np.array([{"a": 1}] * 60, dtype=object), y=Y)),
         "not a .npz archive"),
    Case("data-missing-path", lambda c: c.search(c.space(f"data:\n  dataset: npz\n  path: {c.tmp / 'none.npz'}\n")),
         "does not exist"),
    Case("named-dataset-missing", lambda c: c.search(c.space(f"data:\n  dataset: fashion_mnist\n  path: {c.tmp}\n")),
         "fashion_mnist not found"),
    Case("idx-truncated", lambda c: c.search(_idx_cut(c)), "download it again"),
    Case("val-subset-zero", lambda c: c.search(TINY, "--set", "data.val_subset=0"), "data.val_subset"),
    # a damaged run store
    Case("resume-corrupted-blocks", lambda c: ["search", "--resume", _corrupt("blocks.json", b'{"blocks": [')(c), "--quiet"],
         "blocks.json", "run"),
    Case("resume-corrupted-manifest", lambda c: ["search", "--resume", _corrupt("manifest.json", b"\x00\x01")(c), "--quiet"],
         "cannot be rebuilt", "run"),
    Case("pick-corrupted-manifest", lambda c: ["pick", _corrupt("manifest.json", b"{")(c)], "manifest.json", "run"),
    Case("resume-corrupted-config", lambda c: ["search", "--resume", _corrupt("config.yaml", b"seed: [\n")(c), "--quiet"],
         "config.yaml", "run"),
    Case("pick-corrupted-config", lambda c: ["pick", _corrupt("config.yaml", b"engine: {name: [}\n")(c)], "config.yaml", "run"),
    Case("resume-truncated-evaluations", lambda c: ["search", "--resume", _cut_middle(c), "--quiet"], "line 3", "run"),
    Case("pick-truncated-evaluations", lambda c: ["pick", _cut_middle(c)], "line 3", "run"),
    Case("export-garbage-weights", lambda c: ["export", c.run, "--id", _weights(c)], "hybridnas train", "run"),
    Case("resume-garbage-checkpoint", lambda c: ["search", "--resume", _unfinished_block_stage(c), "--quiet"],
         "ckpt.pt", "run"),
    Case("resume-other-format", lambda c: ["search", "--resume", _format(c), "--quiet"], "run format 99", "run"),
    Case("pick-other-format", lambda c: ["pick", _format(c)], "run format 99", "run"),
    Case("resume-not-a-run", lambda c: ["search", "--resume", c.tmp], "not a hybridnas run"),
    # a missing run directory
    *[Case(f"{cmd}-missing-run", (lambda cmd: lambda c: [cmd, *(["--resume"] if cmd == "search" else []),
                                                         c.tmp / "no-run", *(["--id", "abc"] if cmd in ("export", "train") else [])])(cmd),
           "does not exist")
      for cmd in ("search", "pick", "plot", "export", "train", "report")],
    # where the output goes
    Case("out-not-writable", _not_writable, "cannot"),
    Case("name-parent-folder", lambda c: _named(c, ".."), "not a plain folder name"),
    Case("name-with-slash", lambda c: _named(c, "a/b"), "not a plain folder name"),
    Case("name-of-a-foreign-folder", lambda c: _named(c, "mine"), "is not a hybridnas run"),
    # flags
    Case("unknown-flag", lambda c: c.search(TINY, "--no-such-flag"), "--no-such-flag"),
    Case("bad-set-syntax", lambda c: c.search(TINY, "--set", "engine.generations"), "key=value"),
    Case("bad-device", lambda c: c.search(TINY, "--device", "tpu"), "device"),
    Case("resume-with-set", lambda c: ["search", "--resume", c.run, "--set", "seed=1", "--quiet"], "--set", "run"),
    Case("pick-unknown-rule", lambda c: ["pick", c.run, "--rule", "best"], "best", "run"),
    Case("export-unknown-format", lambda c: ["export", c.run, "--id", _front_id(c), "--format", "gif"], "gif", "run"),
    Case("export-unknown-id", lambda c: ["export", c.run, "--id", "zzzz"], "zzzz", "run"),
    Case("train-set-other-section", lambda c: ["train", c.run, "--id", _front_id(c), "--set", "engine.generations=2"],
         "train takes data.KEY", "run"),
    Case("train-data-bad-size", lambda c: ["train", c.run, "--id", _front_id(c), "--set", "data.image_size=0"],
         "train.data.image_size", "run"),
    Case("train-negative-epochs", lambda c: ["train", c.run, "--id", _front_id(c), "--epochs", "-3"], "epochs", "run"),
    Case("zero-threads", lambda c: c.search(TINY, "--threads", "0"), "--threads"),
    Case("resume-with-threads", lambda c: ["search", "--resume", c.run, "--threads", "2", "--quiet"], "--threads", "run"),
    Case("train-threads-not-a-number", lambda c: ["train", c.run, "--id", _front_id(c), "--threads", "two"], "--threads",
         "run"),
    Case("train-weight-decay-nan", lambda c: ["train", c.run, "--id", _front_id(c), "--epochs", "1", "--weight-decay",
                                              "nan"], "weight_decay", "run"),
    Case("train-lr-nan", lambda c: ["train", c.run, "--id", _front_id(c), "--lr", "nan"], "'train.lr'", "run"),
    Case("train-aux-weight-nan", lambda c: ["train", c.run, "--id", _front_id(c), "--aux-weight", "nan"], "aux_weight",
         "run"),
    Case("train-cutout-above-image", lambda c: ["train", c.run, "--id", _front_id(c), "--cutout", "1000"], "cutout",
         "run"),
    Case("export-out-unwritable", lambda c: ["export", c.run, "--id", _front_id(c), "--out", "/proc/hn-export"],
         "/proc/hn-export", "run"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_exit_2_nothing_written(case: Case, tmp_path, request, capsys):
    c = Ctx(tmp_path, request)
    args = case.args(c)
    watched = c.run if case.watch == "run" else c.out
    before = snapshot(watched)
    try:
        rc, err = cli(args, capsys)
    finally:
        if c.out.exists():
            c.out.chmod(0o755)
    lines = err.strip().splitlines()
    assert rc == 2, f"exit status {rc}; stderr: {err}"
    assert len(lines) == 1, f"expected one line, got:\n{err}"
    assert lines[0].startswith("hybridnas") and "error:" in lines[0], lines[0]
    assert "Traceback" not in err
    assert case.says in lines[0], f"'{case.says}' not named in: {lines[0]}"
    after = snapshot(watched)
    assert after == before, f"files changed: {set(after.items()) ^ set(before.items())}"
    if case.watch == "out":
        assert not (c.out / "r").exists() or not any((c.out / "r").iterdir()), "a half-made run directory was left"
        assert not (c.out / "r").exists(), "an empty run directory was left"
    else:
        assert not (watched / ".lock").exists()


def test_the_docs_state_the_number_of_cases():
    from tests.conftest import ROOT

    page = (ROOT / "docs" / "reliability.md").read_text()
    assert f"{len(CASES)} cases, each a test in `tests/reliability/test_bad_input.py`" in page


def test_limit_below_the_library_is_refused_before_any_network_is_trained(tmp_path, capsys):
    """Above the space's bound but below every network of the searched library (tiny: bound 142
    params, library's smallest about 350): refused after the block stage, which is kept."""
    rc, err = cli(["search", TINY, "--out", tmp_path, "--name", "r", "--quiet", "--set", "constraints.max_params=200"],
                  capsys)
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1, err
    assert "smallest network of the block library has" in lines[0] and "blocks.json" in lines[0]
    run = tmp_path / "r"
    assert (run / "blocks.json").exists() and not (run / "evaluations.jsonl").exists()
    assert not (run / ".lock").exists()
