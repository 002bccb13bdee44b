"""The block stage driver: warm up the supernet once, search each library member, derive cells.

Steps (each resumable from the run store):

1. build the supernet; split the training set in two halves (weights on one, alpha on the other);
2. warm-up: ``block.warmup_epochs`` of weight-only training, shared by every library member
   (``block/warm.pt``);
3. for each entry of ``block.library`` (strategy options that differ per member, e.g. ``lam``):
   start from the warm supernet, run ``block.epochs`` of bilevel search, log alpha and op
   probabilities per epoch (``block/alpha.jsonl``), stop early if skip connections dominate
   the cell the distribution prefers (counted before the collapse guard caps them), derive a
   genotype (``block/member_<i>.json``, with what the guard could not do and the health
   warnings of :mod:`.health`, both also printed);
4. merge identical genotypes into the library with their costs (``blocks.json``).

A checkpoint (``block/ckpt.pt``: supernet, optimisers, epoch) is written after every epoch, so
a killed search loses at most the epoch in progress.
"""

from __future__ import annotations

import math
import time
from typing import Any, Dict, List, Optional

import torch

from ..config import RunConfig
from ..data import Dataset, batches
from ..device import derive_seed
from ..progress import Progress
from ..space.genotype import BlockGenotype
from ..space.library import LibraryEntry, block_costs, load_library, save_library
from ..store.layout import ALPHA_LOG, BLOCK_CKPT, BLOCK_MEMORY, BLOCK_WARM, BLOCKS, block_member
from .derive import count_ops
from .health import check_member, distribution_stats
from .strategies.base import build_strategy, member_options
from .supernet import KINDS, Supernet


def build_supernet(cfg: RunConfig, data: Dataset, device) -> Supernet:
    torch.manual_seed(derive_seed(cfg.seed, "supernet"))
    b = cfg.block
    net = Supernet(cfg.cell.ops, cfg.cell.nodes, b.width, b.cells, data.in_chans, data.num_classes, data.image_size)
    return net.to(device).set_channels_last(b.channels_last)


class BlockStage:
    def __init__(self, cfg: RunConfig, data: Dataset, store, device, progress: Optional[Progress] = None):
        self.cfg = cfg
        self.data = data
        self.store = store
        self.device = device
        self.progress = progress or Progress(quiet=True)
        self.w_half, self.a_half = data.train.halves(derive_seed(cfg.seed, "halves"))
        self.batch_size = cfg.block.batch_size

    # ------------------------------------------------------------------ driver

    def run(self) -> List[LibraryEntry]:
        if self.store.exists(BLOCKS):
            entries = load_library(self.store)
            self.progress.info(f"block stage: library of {len(entries)} block(s) found in the run, reusing it")
            return entries
        self.store.repair(ALPHA_LOG)
        net = build_supernet(self.cfg, self.data, self.device)
        init_alpha = {k: net.alphas[k].detach().clone() for k in KINDS}
        self.batch_size = self._fit_memory(net)
        self._warmup(net)
        warm_state = self.store.load_tensors(BLOCK_WARM, map_location=self.device)
        genotypes = []
        for i, overrides in enumerate(self.cfg.block.library):
            rel = block_member(i)
            if not self.store.exists(rel):
                net.load_state_dict(warm_state)
                with torch.no_grad():
                    for k in KINDS:
                        net.alphas[k].copy_(self._member_alpha(init_alpha[k], overrides, k))
                self._search_member(net, i, dict(overrides))
            genotypes.append(self.store.read_json(rel))
        entries = self._library(genotypes)
        b = self.cfg.block
        save_library(self.store, entries, b.reference_width, b.cells, self.cfg.cell.nodes)
        return entries

    # ------------------------------------------------------------------ phases

    def _member_alpha(self, alpha: torch.Tensor, overrides: Dict[str, Any], kind: str) -> torch.Tensor:
        """The shared initial alpha, or a fresh draw when the member sets its own ``seed``."""
        if "seed" not in overrides:
            return alpha
        g = torch.Generator().manual_seed(derive_seed(self.cfg.seed, "member-alpha", int(overrides["seed"]), kind))
        return (1e-3 * torch.randn(alpha.shape, generator=g)).to(alpha.device)

    def _fit_memory(self, net: Supernet) -> int:
        """Estimate the search's memory once, shrink the batch if needed (``block/memory.json``)."""
        if self.store.exists(BLOCK_MEMORY):
            return int(self.store.read_json(BLOCK_MEMORY)["batch_size"])
        from ..core.memory import available_bytes
        from .memory import estimate, fit_batch_size

        b = self.cfg.block
        strategy = build_strategy(b.strategy.name, net, b, member_options(b.strategy.options, {}))
        d = self.data
        est = estimate(strategy, (d.in_chans, *d.image_size), d.num_classes, b.batch_size)
        batch, note = fit_batch_size(est, self.device, b.memory_limit_gb)
        if note:
            self.progress.info(note)
        avail = available_bytes(self.device, b.memory_limit_gb)
        self.store.write_json(
            BLOCK_MEMORY,
            {
                "configured_batch_size": b.batch_size,
                "batch_size": batch,
                "estimate_bytes": est.total(batch),
                "activation_bytes_per_sample": est.activation_bytes_per_sample,
                "state_bytes": est.state_bytes,
                "available_bytes": avail,
                "device": str(self.device),
                "note": "estimate = saved activations x batch + weights, gradients, optimiser state",
            },
        )
        return batch

    def _n_steps(self) -> int:
        """Bilevel steps per epoch (both halves are cut with ``drop_last``)."""
        return max(1, min(len(self.w_half), len(self.a_half)) // self.batch_size)

    def _epoch_batches(self, tag, epoch):
        b = self.batch_size
        g1 = torch.Generator().manual_seed(derive_seed(self.cfg.seed, tag, epoch, "w"))
        g2 = torch.Generator().manual_seed(derive_seed(self.cfg.seed, tag, epoch, "a"))
        return (
            batches(self.w_half, b, shuffle=True, generator=g1, augment=self.cfg.data.augment, drop_last=True),
            batches(self.a_half, b, shuffle=True, generator=g2, drop_last=True),
        )

    def _resume_point(self, phase: str, net, strategy) -> int:
        """Load ``block/ckpt.pt`` if it belongs to ``phase``; return the first epoch to run."""
        if not self.store.exists(BLOCK_CKPT):
            return 0
        ck = self.store.load_tensors(BLOCK_CKPT, map_location=self.device)
        if ck.get("phase") != phase:
            return 0
        net.load_state_dict(ck["net"])
        strategy.load_state_dict(ck["strategy"])
        torch.set_rng_state(ck["rng"]["cpu"])
        if "cuda" in ck["rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(ck["rng"]["cuda"])
        return int(ck["epoch"]) + 1

    def _checkpoint(self, phase: str, epoch: int, net, strategy) -> None:
        rng = {"cpu": torch.get_rng_state()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        self.store.save_tensors(
            BLOCK_CKPT,
            {"phase": phase, "epoch": epoch, "net": net.state_dict(), "strategy": strategy.state_dict(), "rng": rng},
        )

    def _warmup(self, net: Supernet) -> None:
        if self.store.exists(BLOCK_WARM):
            return
        b = self.cfg.block
        strategy = build_strategy(b.strategy.name, net, b, member_options(b.strategy.options, {}))
        torch.manual_seed(derive_seed(self.cfg.seed, "warmup"))  # each phase's randomness is its own
        start = self._resume_point("warmup", net, strategy)
        if b.warmup_epochs == 0:  # nothing to warm up: no bar that counts to nothing
            self.store.save_tensors(BLOCK_WARM, net.state_dict())
            return
        with self.progress.bar("block warm-up", b.warmup_epochs) as bar:
            bar.update(start)
            for epoch in range(start, b.warmup_epochs):
                strategy.begin_epoch(epoch, b.warmup_epochs + b.epochs)
                w_batches, _ = self._epoch_batches("warmup", epoch)
                m = [strategy.warmup_step((x, y)) for x, y in w_batches]
                self._checkpoint("warmup", epoch, net, strategy)
                bar.update(epoch + 1, f"loss {_mean(m, 'loss'):.3f} acc {_mean(m, 'acc'):.3f}")
        self.store.save_tensors(BLOCK_WARM, net.state_dict())

    def _search_member(self, net: Supernet, i: int, overrides: Dict[str, Any]) -> None:
        b = self.cfg.block
        phase = f"member_{i}"
        strategy = build_strategy(b.strategy.name, net, b, member_options(b.strategy.options, overrides))
        torch.manual_seed(derive_seed(self.cfg.seed, phase))
        strategy.begin_search(b.warmup_epochs, b.epochs, self._n_steps())
        start = self._resume_point(phase, net, strategy)
        label = f"block search {i + 1}/{len(b.library)}" + (f" {_brief(overrides)}" if overrides else "")
        stopped = False
        epochs_run = start
        with self.progress.bar(label, b.epochs) as bar:
            bar.update(start)
            for epoch in range(start, b.epochs):
                t0 = time.perf_counter()
                # the schedule continues from the warm-up, so the learning rate keeps decaying
                strategy.begin_epoch(b.warmup_epochs + epoch, b.warmup_epochs + b.epochs)
                w_batches, a_batches = self._epoch_batches(phase, epoch)
                metrics = [strategy.step(tr, va) for tr, va in zip(w_batches, a_batches)]
                metrics.append(strategy.end_epoch())
                self._checkpoint(phase, epoch, net, strategy)
                epochs_run = epoch + 1
                derived = strategy.derivation()
                self._log_alpha(i, epoch, strategy, derived, metrics, time.perf_counter() - t0)
                skips = count_ops(derived.unguarded.normal, ("skip_connect",))
                bar.update(epoch + 1,
                           f"loss {_mean(metrics, 'loss'):.3f} acc {_mean(metrics, 'acc'):.3f} skips {skips}")
                if b.skip_stop is not None and skips > b.skip_stop:
                    last = epoch + 1 == b.epochs  # nothing left to stop: say so, not "early"
                    self.progress.info(
                        f"block search {i + 1}: {skips} skip connections in the normal cell the search prefers "
                        f"(> skip_stop {b.skip_stop}, counted before max_parameter_free caps them); "
                        + (f"epoch {epoch + 1} was this member's last anyway" if last else
                           f"stopping this member early, after epoch {epoch + 1} of {b.epochs}")
                    )
                    stopped = not last
                    break
        derived = strategy.derivation()
        health = check_member([r for r in alpha_history(self.store) if r["member"] == i], b, self.data.num_classes)
        for line in derived.notes + tuple(health):
            self._warn(f"block search {i + 1}: {line}")
        self.store.write_json(
            block_member(i),
            {
                "member": i,
                "strategy": b.strategy.name,
                "options": member_options(b.strategy.options, overrides),
                "overrides": overrides,
                "genotype": derived.block.to_string(),
                "epochs_run": epochs_run,
                "stopped_early": stopped,
                "guard_notes": list(derived.notes),
                "health": health,
            },
        )

    def _warn(self, msg: str) -> None:
        """A warning about the result (``--quiet`` leaves it to the member file and the report)."""
        self.progress.info(f"warning: {msg}")

    def _log_alpha(self, member, epoch, strategy, derived, metrics, seconds) -> None:
        record = {
            "member": member,
            "epoch": epoch,
            "ops": list(strategy.net.op_names),
            "genotype": derived.block.to_string(),
            "unguarded": derived.unguarded.to_string(),
            "seconds": seconds,
            "train_loss": _mean(metrics, "loss"),
            "train_acc": _mean(metrics, "acc"),
            "val_loss": _mean(metrics, "val_loss"),
        }
        for kind in KINDS:
            p = strategy.probabilities(kind)
            record[kind] = {
                "alpha": strategy.net.alphas[kind].detach().cpu().tolist(),
                "probs": p.cpu().tolist(),
                **distribution_stats(strategy.distributions(kind)),
            }
        self.store.append(ALPHA_LOG, record)

    def _library(self, members: List[Dict[str, Any]]) -> List[LibraryEntry]:
        by_genotype: Dict[str, List[Dict[str, Any]]] = {}
        for m in members:
            by_genotype.setdefault(m["genotype"], []).append(m)
        entries = []
        b, d = self.cfg.block, self.data
        for text, ms in by_genotype.items():
            g = BlockGenotype.parse(text)
            costs = block_costs(g, b.reference_width, b.cells, self.cfg.cell.nodes, d.in_chans, d.num_classes,
                                d.image_size)
            entries.append(
                LibraryEntry(
                    genotype=g,
                    members=tuple(m["member"] for m in ms),
                    options=tuple(m["options"] for m in ms),
                    strategy=ms[0]["strategy"],
                    stopped_early=any(m["stopped_early"] for m in ms),
                    **costs,
                )
            )
        return entries


def alpha_history(store) -> List[Dict[str, Any]]:
    """The alpha log with duplicate (member, epoch) records (from a resumed epoch) collapsed."""
    last: Dict[Any, Dict[str, Any]] = {}
    for r in store.records(ALPHA_LOG):
        last[(r["member"], r["epoch"])] = r
    return [last[k] for k in sorted(last)]


def _mean(ms, key) -> float:
    vals = [m[key] for m in ms if key in m and m[key] is not None and not math.isnan(m[key])]
    return sum(vals) / len(vals) if vals else float("nan")


def _brief(d: Dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in d.items())
