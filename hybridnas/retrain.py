"""Full training of a picked model: the paper's final stage (``hybridnas train``).

The search ranks networks after a short proxy training; the model a user deploys is trained
for long (DARTS' final stage, Liu et al. 2019, https://arxiv.org/abs/1806.09055: a long cosine
schedule, cutout, drop-path and an auxiliary head). :func:`train_model`

1. resolves the settings: the space's ``train`` section, then overrides (CLI flags and
   ``--set``), checked like the file;
2. loads the data it trains on (:func:`~hybridnas.config.train_data_config`): by default all of
   the search's dataset - its caps (``subset``, ``val_subset``, ``test_subset``) do not apply -
   with the training and validation splits together and the test split untouched (the same
   seeded split as the search's); ``train.data`` changes any ``data`` key, e.g. the image size
   (the network is rebuilt at that resolution: cells and head do not depend on it);
3. rebuilds the network of a run's record (with an auxiliary head when ``aux_weight`` > 0);
4. resumes from ``trained/<id>/ckpt.pt`` when one exists for the same settings (automatic), and
   refuses a checkpoint made with other settings unless asked to restart;
5. trains with :func:`hybridnas.training.fit`, writing a checkpoint (weights, optimiser, RNG)
   and a line of ``history.jsonl`` after every epoch - a resumed training continues exactly as
   an uninterrupted one would on CPU;
6. writes ``trained/<id>/model.pt`` (the auxiliary head removed: the deployable network,
   which ``hybridnas export`` then prefers), ``metrics.json``, and appends a record to
   ``trained.jsonl`` with the proxy accuracy beside the full one, the data it was trained on
   (dataset, splits, sizes, image size, preprocessing) and its FLOPs at that image size.

Everything is written through a :class:`~hybridnas.store.RunStore` rooted at
``trained/<id>/`` (atomic files, a lock per model, so two models of a run can train at once).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, Dict, Mapping, Optional

from .config import Checks, TrainConfig, check_train, check_train_against_data, from_dict, to_dict, train_data_config
from .errors import UserError
from .progress import Progress
from .results import RunResults
from .store import RunStore
from .store.layout import MODEL, TRAIN_CKPT, TRAIN_HISTORY, TRAIN_METRICS, TRAINED, trained_dir


def resolve_settings(results: RunResults, overrides: Optional[Dict[str, Any]] = None) -> TrainConfig:
    """The run's ``train`` section with ``overrides`` (``None`` values ignored; ``data`` merges
    into ``train.data``), typed and checked like the space file."""
    base = results.config.train
    over = {k: v for k, v in (overrides or {}).items() if v is not None}
    if isinstance(over.get("data"), Mapping):
        over["data"] = {**base.data, **over["data"]}
    tc = from_dict(TrainConfig, {**to_dict(base), **over}, source="training settings", prefix="train")
    if tc.augment is None:
        tc = dataclasses.replace(tc, augment=results.config.data.augment)
    check_train(tc, source="training settings")
    return tc


def _test_logging(tc: TrainConfig, monitor: str) -> str:
    """How often the test accuracy is shown during training, said beside the test split's size."""
    if monitor != "test":
        return ""
    if tc.eval_every:
        return f"; their accuracy is shown every {tc.eval_every} epochs, for information"
    return "; their accuracy is measured once, at the end"


def train_settings(tc: TrainConfig):
    """The :class:`~hybridnas.training.TrainSettings` of a ``train`` section."""
    from .training import TrainSettings

    names = {f.name for f in dataclasses.fields(TrainSettings)}
    return TrainSettings(**{k: v for k, v in to_dict(tc).items() if k in names})


def train_model(
    run,
    ident: str,
    overrides: Optional[Dict[str, Any]] = None,
    *,
    device: Optional[str] = None,
    restart: bool = False,
    progress: Optional[Progress] = None,
    on_epoch: Optional[Callable[[int, Dict[str, float]], None]] = None,
    threads: Optional[int] = None,
) -> Dict[str, Any]:
    """Train the model ``ident`` (arch id or unique prefix) of ``run`` fully; return its record.

    ``on_epoch(epoch, metrics)`` runs after each epoch's checkpoint is on disk. ``threads``: torch
    threads for this training (default: the run's ``threads``, else one; at most the cores) - a
    speed setting of this session, not part of the settings a resume must match.
    """
    import torch

    from .data import load_dataset
    from .device import configure, derive_seed, resolve_device, restore_threads, seed_everything
    from .space.builder import build_network, strip_aux
    from .space.costs import network_cost
    from .training import DivergedError, fit, make_optimizer

    results = run if isinstance(run, RunResults) else RunResults(run)
    progress = progress or Progress(quiet=True)
    cfg = results.config
    record = results.record(ident)
    if record.get("status") != "ok":
        raise UserError(f"model {record['arch_id']} failed during the search "
                        f"({record.get('reason', 'no reason')}); pick another")
    aid = record["arch_id"]
    spec = results.spec(record)
    tc = resolve_settings(results, overrides)
    data_cfg = train_data_config(cfg.data, tc, source="training settings")
    known_size = _image_size(results, data_cfg)
    if known_size is not None:  # before anything is written; else once the data is loaded
        check_train_against_data(tc, known_size, Checks("training settings", prefix="train."))
    settings = train_settings(tc)
    seed = derive_seed(cfg.seed, "train", aid)
    key = {"settings": to_dict(tc), "seed": seed}

    store = RunStore(results.root / trained_dir(aid))
    store.ensure_writable()
    store.lock()
    threads_before = None
    try:
        done = store.read_json(TRAIN_METRICS, default=None)
        if done is not None and not restart:
            if done.get("key") == key:
                progress.info(f"model {aid} is already trained with these settings ({trained_dir(aid)}); "
                              "--restart to train again")
                return done["record"]
            raise UserError(
                f"model {aid} was already trained with other settings ({_diff(done.get('key'), key)}); "
                "pass --restart to train it again with the new ones"
            )
        dev = resolve_device(device or cfg.device)
        threads_before = configure(dev, cfg.deterministic, threads or cfg.threads)
        # the same seed as the search's: the same test split, which training never sees
        data = load_dataset(data_cfg, cfg.seed, merge_val=tc.include_val)
        check_train_against_data(tc, tuple(data.image_size), Checks("training settings", prefix="train."))
        spec = _spec_for(spec, data, data_cfg)
        seed_everything(seed)
        model = build_network(spec, aux_head=tc.aux_weight > 0).to(dev)
        opt = make_optimizer(model, settings)
        start = 0
        if store.exists(TRAIN_CKPT) and not restart:
            ckpt = store.load_tensors(TRAIN_CKPT)
            if ckpt.get("key") != _key_text(key):
                raise UserError(
                    f"{trained_dir(aid)}/{TRAIN_CKPT} was made with other settings "
                    f"({_diff(_parse_key(ckpt.get('key')), key)}); "
                    "pass --restart to discard it, or give the same settings to resume"
                )
            model.load_state_dict(ckpt["model"])
            opt.load_state_dict(ckpt["optimizer"])
            torch.set_rng_state(ckpt["rng"])
            if "cuda_rng" in ckpt and dev.type == "cuda":
                torch.cuda.set_rng_state(ckpt["cuda_rng"], dev)
            start = int(ckpt["epoch"])
            progress.info(f"resuming {aid} at epoch {start + 1}/{tc.epochs}")
        elif restart:
            for rel in (TRAIN_CKPT, TRAIN_METRICS, TRAIN_HISTORY, MODEL):
                if store.exists(rel):
                    store.path(rel).unlink()
        data = data.to(dev)
        splits = "train+val" if tc.include_val else "train"
        monitor = "test" if tc.include_val else "val"  # only logged: nothing is selected by it
        cost = network_cost(spec)
        h, w = data.image_size
        progress.info(
            f"training {aid} ({record['genome']}, {record['params']:,} params, {cost.flops:,} FLOPs at {h}x{w}) for "
            f"{tc.epochs} epochs on {dev}: {splits}, {len(data.train):,} images ({len(data.test):,} test images, never "
            f"trained on and choosing nothing{_test_logging(tc, monitor)}); "
            f"lr {tc.lr}, batch {tc.batch_size}, cutout {tc.cutout}, drop-path {tc.drop_path}, "
            f"aux weight {tc.aux_weight}"
        )
        bar = progress.bar(f"train {aid}", tc.epochs)
        t0 = time.perf_counter()

        def checkpoint(epoch: int, m: Dict[str, float]) -> None:
            state = {
                "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                "optimizer": opt.state_dict(),
                "rng": torch.get_rng_state(),
                "epoch": epoch + 1,
                "key": _key_text(key),
            }
            if dev.type == "cuda":  # drop-path samples on the GPU draw from its generator
                state["cuda_rng"] = torch.cuda.get_rng_state(dev)
            store.save_tensors(TRAIN_CKPT, state)  # the checkpoint first: history never runs ahead of it
            store.append(TRAIN_HISTORY, {"epoch": epoch + 1, **m, "seconds": time.perf_counter() - t0})
            acc = m.get(f"{monitor}_acc")
            bar.update(epoch + 1, f"loss {m['train_loss']:.3f}" + (f" {monitor} {acc:.4f}" if acc is not None else ""))
            if on_epoch is not None:
                on_epoch(epoch, m)

        with bar:
            try:
                metrics = fit(model, data, settings, seed, eval_splits=("test",) if tc.include_val else ("val", "test"),
                              start_epoch=start, optimizer=opt, on_epoch=checkpoint, eval_every=tc.eval_every,
                              monitor=monitor)
            except DivergedError as exc:  # the settings, not a bug: the checkpoint of the last good epoch stays
                raise UserError(f"training {aid} diverged ({exc}) with lr {tc.lr}, weight decay {tc.weight_decay}; "
                                f"lower --lr (or --weight-decay) and run again with --restart") from None
        history = store.records(TRAIN_HISTORY)
        out = {
            "arch_id": aid,
            "genome": record["genome"],
            "params": record["params"],
            "macs": cost.macs,
            "flops": cost.flops,
            "image_size": [h, w],
            "proxy_val_acc": record.get("val_acc"),
            "proxy_test_acc": record.get("test_acc"),
            "proxy_epochs": record.get("epochs"),
            "val_acc": metrics.get("val_acc"),  # none when the validation split was trained on
            "test_acc": metrics["test_acc"],
            "train_loss": history[-1]["train_loss"] if history else metrics["train_loss"],
            "epochs": tc.epochs,
            "resumed_at": start,
            "seconds": sum(_epoch_seconds(history)),
            "device": str(dev),
            "threads": torch.get_num_threads(),
            "settings": to_dict(tc),
            "data": {**data.info(), "splits": splits, "config": to_dict(data_cfg)},
            "seed": seed,
            "weights": f"{trained_dir(aid)}/{MODEL}",
            "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        if [h, w] != list(results.dataset["image_size"]):  # the search's costs were at its resolution
            out.update(search_image_size=list(results.dataset["image_size"]), search_macs=record["macs"],
                       search_flops=record["flops"])
        # the deployable network: no auxiliary head, so export and the cost model see `spec` only
        # Order matters for a kill in between: the record first (a rerun resumes from the last
        # checkpoint, re-measures and appends the same numbers; readers keep the latest per id),
        # then the weights that export prefers, then metrics.json that marks the training done.
        results.store.append(TRAINED, out)
        store.save_tensors(MODEL, strip_aux({k: v.detach().cpu() for k, v in model.state_dict().items()}))
        store.write_json(TRAIN_METRICS, {"key": key, "record": out})
        store.path(TRAIN_CKPT).unlink()  # finished: model.pt and metrics.json replace it
        return out
    finally:
        restore_threads(threads_before)
        store.unlock()


def _image_size(results: RunResults, data_cfg) -> Optional[tuple]:
    """The training images' size without loading them: ``train.data.image_size``, else the
    search's (``dataset.json``) when the training reads the search's dataset; ``None`` otherwise."""
    if data_cfg.image_size:
        return (data_cfg.image_size, data_cfg.image_size)
    search = results.config.data
    if (data_cfg.dataset, data_cfg.path) == (search.dataset, search.path) and not search.image_size:
        size = (results.dataset or {}).get("image_size")
        return tuple(size) if size else None
    return None


def _spec_for(spec, data, data_cfg):
    """The network of ``spec`` for ``data``: the same channels and classes, at its image size."""
    if (data.in_chans, data.num_classes) != (spec.in_chans, spec.num_classes):
        raise UserError(
            f"the training data ({data_cfg.dataset}: {data.in_chans} channels, {data.num_classes} classes) does not "
            f"fit the network ({spec.in_chans} channels, {spec.num_classes} classes); train on data of that shape"
        )
    if tuple(data.image_size) == tuple(spec.image_size):
        return spec
    return dataclasses.replace(spec, image_size=tuple(data.image_size))


def _epoch_seconds(history):
    """Seconds per epoch from the cumulative times in ``history.jsonl`` (across resumes)."""
    out, last = [], 0.0
    for h in history:
        s = float(h.get("seconds", 0.0))
        out.append(s - last if s >= last else s)  # a resume restarts the clock
        last = s
    return out


def _key_text(key: Dict[str, Any]) -> str:
    import json

    return json.dumps(key, sort_keys=True)


def _parse_key(text) -> Dict[str, Any]:
    import json

    try:
        return json.loads(text) if isinstance(text, str) else {}
    except ValueError:
        return {}


def _diff(old: Optional[Dict[str, Any]], new: Dict[str, Any]) -> str:
    old_s = (old or {}).get("settings", {})
    parts = [f"{k} {old_s.get(k)} -> {v}" for k, v in new["settings"].items() if old_s.get(k) != v]
    if (old or {}).get("seed") != new["seed"]:
        parts.append("seed differs")
    return ", ".join(parts) or "unknown settings"
