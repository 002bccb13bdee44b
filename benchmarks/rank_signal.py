"""Do the proxy accuracies rank networks, or noise? The signal check of a space's evaluation settings.

Trains one generation's worth of random networks of the space (``--candidates``, built as the
search builds them, over a fixed library of random cells) with two proxy seeds each, exactly as
the search trains them (the local evaluator, the space's budget), and measures per image which
validation and test images each network gets right. Then, per setting:

- spread: the standard deviation of validation accuracy across the networks, beside the mean
  standard error of one accuracy (from the split size): the spread must stand well above it;
- halves tau: Kendall's tau between the accuracies on two disjoint random halves of the
  validation split (mean over 50 random halvings), same training: how much the split's finite
  size alone reorders the networks (each half has half the images, so this is a lower bound
  for the full split; not measured with ``evaluation.folds``);
- seeds tau: tau between the validation accuracies of the two proxy seeds: how much training
  noise reorders them;
- val-test tau: tau between validation and test accuracy (mean over the seeds): what the user
  cares about, both noises together;
- reference tau (with ``--reference-epochs N``): tau between the proxy's validation accuracy and
  the accuracy of one N-epoch training of each network on validation and test images together:
  whether the proxy ranks as a longer training does;
- and the minutes the trainings took, so a setting's signal can be set against its cost.

    python benchmarks/rank_signal.py                                  # the space as it is
    python benchmarks/rank_signal.py \\
        --setting before:data.val_fraction=0.2,data.test_fraction=0.2,evaluation.epochs=8 \\
        --setting after:                 # side by side: the old and new defaults
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from hybridnas.config import load_config  # noqa: E402
from hybridnas.data import load_dataset  # noqa: E402
from hybridnas.device import derive_seed  # noqa: E402
from hybridnas.evaluate.base import build_evaluator  # noqa: E402
from hybridnas.network.predictors import kendall_tau  # noqa: E402
from hybridnas.network.scheduler import random_candidates  # noqa: E402
from hybridnas.space.builder import build_network  # noqa: E402
from hybridnas.space.genome import ArchSpec  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evaluators import random_block  # noqa: E402

REFERENCE = {}  # (data settings, epochs, networks) -> accuracy of each network's longer training


@torch.inference_mode()
def correct(arch, state, split) -> np.ndarray:
    """Which images of ``split`` the network gets right (bool per image)."""
    model = build_network(ArchSpec.from_json(arch))
    model.load_state_dict(state)
    model.eval()
    return (model(split.x).argmax(1) == split.y).numpy()


def measure(space, overrides, n, seeds, halvings, seed, reference=None):
    cfg = load_config(space, ["device=cpu", *overrides])
    data = load_dataset(cfg.data, cfg.seed)
    rng = np.random.default_rng(seed)
    ops = [op for op in cfg.cell.ops if op != "none"]
    blocks = [random_block(rng, ops, cfg.cell.nodes) for _ in range(3)]
    base = random_candidates(cfg, blocks, data, n, seed=seed)
    cands = [replace(c, seed=derive_seed(c.seed, "signal", s)) if s else c for s in range(seeds) for c in base]
    t0 = time.perf_counter()
    with build_evaluator(cfg, data, torch.device("cpu")) as ev:  # a batch per seed: ids are unique in a batch
        results = [r for s in range(seeds) for r in ev.evaluate_batch(cands[s * n:(s + 1) * n])]
    minutes = (time.perf_counter() - t0) / 60
    ref = None
    if reference:  # one longer training per network (no folds), scored on validation and test images together
        key = (cfg.data, reference, tuple(c.arch_id for c in base))
        if key not in REFERENCE:  # settings that split the data alike share it
            plain = load_config(space, ["device=cpu", *overrides, "evaluation.folds=1"])
            long = [replace(c, epochs=reference, seed=derive_seed(c.seed, "reference")) for c in base]
            with build_evaluator(plain, data, torch.device("cpu")) as ev:
                REFERENCE[key] = [np.concatenate([correct(c.arch, r["state"], data.val),
                                                  correct(c.arch, r["state"], data.test)]).mean()
                                  for c, r in zip(long, ev.evaluate_batch(long))]
        ref = REFERENCE[key]
    failed = [r for r in results if r["status"] != "ok"]
    if failed:
        raise SystemExit(f"candidate {failed[0]['arch_id']} failed: {failed[0].get('reason')}")
    acc = np.array([r["val_acc"] for r in results]).reshape(seeds, n)  # pooled over the folds with folds > 1
    test = np.array([r["test_acc"] for r in results]).reshape(seeds, n)
    halves = []
    if cfg.evaluation.folds == 1:  # which validation images each network gets right (seed 0)
        val = np.array([correct(c.arch, r["state"], data.val) for c, r in zip(cands[:n], results[:n])])
        split_rng = np.random.default_rng(derive_seed(seed, "halves"))
        for _ in range(halvings):
            perm = split_rng.permutation(len(data.val))
            a, b = perm[: len(perm) // 2], perm[len(perm) // 2:]
            halves.append(kendall_tau(val[:, a].mean(1), val[:, b].mean(1)))
    return {
        "val images": results[0]["val_n"],
        "test images": len(data.test),
        "train images": len(data.train),
        "epochs": cfg.evaluation.epochs,
        "folds": cfg.evaluation.folds,
        "mean val acc %": 100 * float(acc.mean()),
        "spread %": 100 * float(np.mean([acc[s].std(ddof=1) for s in range(seeds)])),
        "se %": 100 * float(np.mean([r["val_acc_se"] for r in results])),
        "halves tau": statistics.mean(halves) if halves else float("nan"),
        "seeds tau": statistics.mean(kendall_tau(acc[s], acc[t]) for s in range(seeds) for t in range(s + 1, seeds))
        if seeds > 1 else float("nan"),
        "val-test tau": statistics.mean(kendall_tau(acc[s], test[s]) for s in range(seeds)),
        "reference tau": statistics.mean(kendall_tau(acc[s], ref) for s in range(seeds)) if ref else float("nan"),
        "minutes": minutes,
        "trainings": len(cands),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--space", default="digits")
    ap.add_argument("--candidates", type=int, default=24, help="networks (one generation's worth)")
    ap.add_argument("--seeds", type=int, default=2, help="proxy seeds per network")
    ap.add_argument("--halvings", type=int, default=50, help="random halvings of the validation split")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--reference-epochs", type=int, default=None,
                    help="also train each network this long once; 'reference tau' ranks the proxy against it")
    ap.add_argument("--setting", action="append", default=[], metavar="NAME:key=v,key=v",
                    help="a named list of overrides (repeatable; 'NAME:' alone: the space as it is)")
    args = ap.parse_args()
    settings = args.setting or ["current:"]
    print(f"space {args.space}: {args.candidates} random networks x {args.seeds} proxy seeds per setting; "
          f"load average {os.getloadavg()[0]:.2f} at the start", flush=True)
    rows = []
    for text in settings:
        name, _, over = text.partition(":")
        overrides = [o for o in over.split(",") if o]
        r = measure(args.space, overrides, args.candidates, args.seeds, args.halvings, args.seed, args.reference_epochs)
        rows.append((name, " ".join(overrides) or "(the space as it is)", r))
        print(f"  {name}: {r}", flush=True)
    keys = ["train images", "val images", "epochs", "folds", "mean val acc %", "spread %", "se %", "halves tau",
            "seeds tau", "val-test tau"] + (["reference tau"] if args.reference_epochs else []) + ["minutes"]
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}\n")
    print("| setting | overrides | " + " | ".join(keys) + " |")
    print("|---|---|" + "|".join("---:" for _ in keys) + "|")
    for name, over, r in rows:
        cells = [f"{r[k]:.2f}" if isinstance(r[k], float) else str(r[k]) for k in keys]
        print(f"| {name} | `{over}` | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
