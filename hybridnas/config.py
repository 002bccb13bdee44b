"""Typed, frozen run configuration: load a space YAML, apply ``--set`` overrides, validate, dump.

A space file is YAML whose sections mirror the dataclasses below; ``extends: other.yaml`` inherits
another file (resolved relative to this one) and deep-merges over it. Loading checks types and
unknown keys (with a suggestion); :func:`check` then checks meaning: known ops, strategies,
engines and evaluators, sensible ranges. Any problem is one :class:`UserError` line naming the key.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import difflib
import math
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Literal, Mapping, Optional, Sequence, Tuple, Union

from .errors import UserError

# The spaces ship inside the package (the repository's spaces/ links here), so a space is found
# by name from any folder after `pip install`.
SPACES_DIR = Path(__file__).resolve().parent / "spaces"
DEFAULT_SPACE = "digits"


def _req(default=None, **kw):
    """A field the space file must set (the default only keeps dataclass ordering simple).

    ``unless="key"``: not required when the same section sets ``key`` (a tabular space, which
    declares ``genes``, has no data, cell, block or network section).
    """
    return field(default=default, metadata={"required": True, **kw})


@dataclass(frozen=True)
class DataConfig:
    """``data``: which images, how they are split, capped and resized.

    The splits are made first (an official test split when the dataset has one, else
    ``test_fraction`` of each class; then ``val_fraction`` of each class for validation) and do
    not depend on the caps, so a capped split is a part of the full one.
    """

    dataset: str = _req()
    """The images: ``digits`` (scikit-learn's 8x8, embedded), ``mnist``, ``fashion_mnist``,
    ``kmnist``, ``cifar10``, ``cifar100`` (named datasets, read from ``path``), ``npz`` (arrays in
    one file) or ``folder`` (one sub-folder of images per class)."""
    path: Optional[str] = None
    """``npz``: the file; ``folder``: the folder; a named dataset: the folder holding its files
    (null: ``data/`` under the working directory). Relative paths in a space file are relative to
    that file, on the command line to the working directory."""
    val_fraction: float = 0.2
    """Share of each class held out for validation (of all images, or of the official training
    split), the split candidates are ranked on. In (0, 1); with ``test_fraction``, below 0.9."""
    test_fraction: float = 0.2
    """Share of each class held out as the test split, in (0, 1); unused when the dataset has an
    official test split."""
    subset: Optional[int] = None
    """Keep at most this many training images (stratified, seeded); null: all of them."""
    val_subset: Optional[int] = None
    """Keep at most this many validation images; null: all of them."""
    test_subset: Optional[int] = None
    """Keep at most this many test images; null: all of them."""
    augment: bool = False
    """Random crop (padding 1/8 of the side) and horizontal flip of the training images, in the
    block and network stages; ``train.augment`` overrides it for the full training."""
    download: bool = False
    """A named dataset: fetch it into ``path`` when it is not there (MD5-checked); false: a
    missing dataset is an error saying where to put it."""
    image_size: Optional[int] = None
    """Resize every image to this square side in pixels (any source), at most 4096; null: keep
    the source's size."""


@dataclass(frozen=True)
class CellConfig:
    """``cell``: the operations and nodes of a DARTS cell, the search space of the block stage.

    Every cell has two inputs (the two previous cells' outputs) and ``nodes`` intermediate nodes.
    A derived node sums ops applied to the inputs or earlier nodes (two, under the DARTS rule);
    the cell's output concatenates the nodes.
    """

    ops: Tuple[str, ...] = _req()
    """Candidate operations of every edge, each listed once, from ``none``, ``max_pool_3x3``,
    ``avg_pool_3x3``, ``skip_connect``, ``sep_conv_3x3``, ``sep_conv_5x5``, ``dil_conv_3x3``,
    ``dil_conv_5x5``. More ops: a larger supernet (memory and time grow with the count)."""
    nodes: int = _req()
    """Intermediate nodes per cell, 1 to 8 (DARTS: 4)."""


@dataclass(frozen=True)
class StrategyConfig:
    """``block.strategy``: the block-search algorithm and its options.

    Write a name alone (``strategy: egs``) or a mapping whose other keys are the strategy's
    options (``{name: egs, samples: 3}``); ``options: {...}``, as a saved ``config.yaml`` writes
    it, is the same. Each strategy's options are listed under *Block strategy options* below.
    """

    name: str = "enhanced"
    """The strategy: ``darts``, ``enhanced``, ``gdas``, ``egs``, ``ddpnas``, ``shrink`` or
    ``cdarts``. Switching it with ``--block-strategy`` or ``--set`` drops the options it does not
    have, with a note."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """The strategy's options (its ``Options`` below); unknown keys and bad types are refused.
    ``block.library`` entries override them per member."""


@dataclass(frozen=True)
class BlockConfig:
    """``block``: the block stage, a differentiable search on a supernet of stacked cells.

    The supernet warms up once (``warmup_epochs``), then every ``library`` member runs its own
    bilevel search (``epochs``) from the warm weights and derives one block (a normal and a
    reduction cell); the library of blocks is what the network stage combines.
    """

    strategy: StrategyConfig = _req()
    """The search algorithm, a name or ``{name, options...}`` (see ``block.strategy``)."""
    width: int = 16
    """Initial channels C of the supernet (DARTS's C), even; reduction cells double them. Memory
    and time grow with it."""
    cells: int = 8
    """Supernet depth in cells, >= 3; the cells at 1/3 and 2/3 of the depth are reduction cells."""
    warmup_epochs: int = 0
    """Epochs of weight-only training (alpha frozen) before the bilevel search, shared by every
    library member."""
    epochs: int = _req()
    """Bilevel search epochs per library member (alpha on validation batches, weights on training
    batches)."""
    batch_size: int = 64
    """Images per step of the supernet, at most the training split's images; halved automatically
    when the memory estimate exceeds what is available (see ``memory_limit_gb``)."""
    lr: float = 0.025
    """Initial SGD learning rate of the supernet weights, cosine-annealed to ``lr_min`` over warm-up
    and search."""
    lr_min: float = 0.001
    """Final learning rate of the cosine schedule, from 0 to ``lr``."""
    momentum: float = 0.9
    """SGD momentum of the supernet weights, in [0, 1)."""
    weight_decay: float = 3e-4
    """L2 weight decay of the supernet weights."""
    grad_clip: float = 5.0
    """Clip the weights' gradient norm to this; 0: no clipping."""
    arch_lr: float = 3e-4
    """Adam learning rate of the architecture parameters (alpha). With few alpha steps (small data,
    few epochs) raise it so the architecture can move (digits: 0.03)."""
    arch_betas: Tuple[float, float] = (0.5, 0.999)
    """Adam's betas for alpha, each in [0, 1)."""
    arch_weight_decay: float = 1e-3
    """Adam weight decay of alpha."""
    library: Tuple[Mapping[str, Any], ...] = (dict(),)
    """One entry per library member, each a mapping of strategy options that override
    ``strategy``'s for that member (``[{lam: 0.0}, {lam: 0.4}]`` gives two blocks, rich and cheap);
    ``seed: N`` in an entry draws the member a fresh initial alpha. ``[{}]``: one member with the
    strategy's options."""
    max_parameter_free: int = 2
    """Collapse guard: at most this many parameter-free ops (pooling, skip) per derived cell; the
    weakest are replaced by the strongest parametric choice their node may make instead."""
    skip_stop: Optional[int] = None
    """Stop a member early when its derived normal cell has more than this many skip connections
    (counted before ``max_parameter_free`` caps them); null: never."""
    reference_width: int = 16
    """Width at which each block's costs (``blocks.json``: a cell and a reference network) are
    reported; it does not change the search."""
    memory_limit_gb: Optional[float] = None
    """Memory the supernet may use, in GiB; the batch is halved until the estimate fits, and a
    supernet that does not fit at the smallest batch is refused. Null: what the device has free
    (with headroom)."""
    channels_last: Optional[bool] = True
    """The supernet in NHWC memory format (about 1.5x faster on CPU); false: NCHW; null: as runs
    made before this setting (NCHW)."""


@dataclass(frozen=True)
class NetworkConfig:
    """``network``: how the network stage assembles library blocks into whole networks.

    A network is a stem and ``stages`` stages; each stage's genes are its number of blocks, which
    library block it repeats, a width multiplier and whether it starts by downsampling. A stage's
    cell width is ``base_width x width x 2^d``, ``d`` the downsamplings so far (rounded to even).
    """

    stages: int = _req()
    """Number of stages of every network, 1 to 64."""
    blocks: Tuple[int, int] = _req()
    """``[low, high]``: the inclusive range of blocks (cells) a stage stacks, low >= 1, high <= 1000."""
    widths: Tuple[float, ...] = _req()
    """Width multipliers a stage may take (relative to ``base_width x 2^downsamples``), each > 0."""
    stem: Tuple[int, ...] = (16,)
    """Output channels the stem convolution may take (a gene when more than one)."""
    base_width: int = 16
    """Cell channels of a stage with width multiplier 1 before any downsampling."""
    downsample: Tuple[int, ...] = (0, 1)
    """Allowed values of each stage's downsample flag: ``[0, 1]`` searches it, ``[1]`` always
    downsamples, ``[0]`` never."""


@dataclass(frozen=True)
class ConstraintsConfig:
    """``constraints``: hard limits of the network search.

    Handled by constraint-domination: a network over a limit is never trained and never on the
    front. A params or FLOPs limit below the smallest network of the space is refused at load. In
    a tabular space the limits read the table's ``params``, ``flops`` and ``latency`` columns.
    """

    max_params: Optional[float] = None
    """Most parameters a network may have (e.g. ``1.5e6``); null: no limit."""
    max_flops: Optional[float] = None
    """Most FLOPs (2 x multiply-accumulates, conv and linear layers) of one image's forward pass;
    null: no limit."""
    max_latency_ms: Optional[float] = None
    """Most latency in milliseconds, measured as ``latency`` says on the run's device; null: no
    limit (and nothing is timed unless latency is an objective). A limit below the narrowest
    stem's latency (timed before the search starts) is refused."""


@dataclass(frozen=True)
class FidelityConfig:
    """``evaluation.fidelity``: successive halving inside a generation (off while ``budgets`` is
    empty).

    New candidates train for ``budgets[0]`` epochs; those non-dominated among everything
    evaluated at that budget continue to the next budget, up to ``evaluation.epochs``.
    Training continues rather than restarts, so a promoted network costs ``evaluation.epochs``.
    """

    budgets: Tuple[int, ...] = ()
    """Lower budgets in epochs, increasing, each below ``evaluation.epochs`` (``[2]``: a rung at
    2 epochs); ``[]``: off. Not with ``evaluation.folds`` > 1 or a tabular space."""
    promote: float = 0.5
    """At most this fraction of a rung's candidates moves up, in (0, 1]; if more qualify, the most
    isolated (crowding distance) go."""


@dataclass(frozen=True)
class RayConfig:
    """``evaluation.ray``: where the Ray tasks run and what each one asks for (used when
    ``evaluation.evaluator`` is ``ray``; ``pip install 'hybridnas[ray]'``)."""

    address: Optional[str] = None
    """An existing cluster to join (``auto``, ``host:6379``, ``ray://host:10001``); null: start a
    local one, whose session files go under the run folder and which stops with the search."""
    num_cpus: Optional[int] = None
    """CPUs of a cluster started here; null: enough for the workers."""
    num_gpus: Optional[int] = None
    """GPUs of a cluster started here; null: the run's GPUs."""
    cpus_per_task: Optional[float] = None
    """CPUs each candidate's task asks for; null: this machine's cores / workers (1 on a
    cluster)."""
    gpus_per_task: Optional[float] = None
    """GPUs each task asks for: a share up to 1 (0.25: four candidates per GPU), whole numbers
    above; null: 1 / workers on a GPU, 0 on CPU."""
    retries: int = 2
    """Re-runs of a candidate whose worker died; then it is recorded as failed."""
    ship_code: bool = True
    """Send the hybridnas package to a cluster given by ``address`` (Ray's ``runtime_env``);
    false: the cluster has it installed."""


@dataclass(frozen=True)
class EvaluationConfig:
    """``evaluation``: how each candidate network is trained and scored (the proxy training).

    Every candidate trains from scratch with SGD and a cosine schedule on the training split and
    is scored on the validation split (or by k-fold cross-validation, ``folds``); its error is
    ``1 - val_acc``.
    """

    evaluator: str = "local"
    """Where candidates train: ``local`` (this machine, ``workers`` at a time), ``ray`` (Ray tasks,
    see ``evaluation.ray``) or ``table`` (a tabular space: results are looked up, nothing
    trains)."""
    epochs: Optional[int] = None
    """Proxy training epochs per candidate (the full budget of ``fidelity``). Required unless the
    space is tabular, where it must be left out."""
    batch_size: int = 64
    """Images per training step of a candidate, at most the training split's images; a candidate
    out of memory restarts once at half the batch."""
    lr: float = 0.05
    """Initial SGD learning rate, cosine-annealed to ``lr_min`` over ``epochs``."""
    lr_min: float = 0.0
    """Final learning rate of the cosine schedule, from 0 to ``lr``."""
    momentum: float = 0.9
    """SGD momentum, in [0, 1)."""
    weight_decay: float = 3e-4
    """L2 weight decay."""
    label_smoothing: float = 0.0
    """Label smoothing of the cross-entropy, in [0, 1)."""
    workers: int = 1
    """Candidates trained side by side: on each GPU when the run uses GPUs, else on the whole CPU
    (each with ``threads`` torch threads)."""
    keep_weights: Literal["front", "all", "none"] = "front"
    """Which proxy-trained weights stay in ``weights/``: the current front's, every candidate's, or
    none (then no model is exported at the end; ``hybridnas train`` trains one)."""
    fidelity: FidelityConfig = field(default_factory=FidelityConfig)
    """Multi-fidelity (successive halving); see ``evaluation.fidelity``."""
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    """Training precision: ``auto`` is bf16 autocast where the GPU supports it, else fp16 with a
    grad scaler, and fp32 on CPU; ``fp16`` needs a CUDA GPU."""
    channels_last: Optional[bool] = True
    """NHWC images and weights (faster on CPU and GPU); false: NCHW; null: NHWC on GPU only, as
    runs made before this setting."""
    timeout_s: Optional[float] = None
    """Seconds a candidate may train; one still training after this is recorded as failed
    (``timeout``) and the search goes on. Null: no limit."""
    folds: int = 1
    """Above 1: k-fold cross-validation over the training and validation splits together: k
    trainings per candidate, every image validated once by a network that did not train on it
    (a smaller standard error at k times the cost). Not with ``fidelity.budgets``."""
    max_loss: Optional[float] = 1e3
    """A training loss above this, or NaN, fails the candidate as diverged; null: only NaN
    does."""
    ray: RayConfig = field(default_factory=RayConfig)
    """Ray placement; see ``evaluation.ray``."""


@dataclass(frozen=True)
class TrainConfig:
    """``train``: full training of a picked model (``hybridnas train``), the paper's final stage.

    It trains on all of the search's dataset - its caps (``subset``, ``val_subset``,
    ``test_subset``) do not apply - with the training and validation splits together unless
    ``include_val`` is false; the test split stays untouched. Command-line flags override these.
    """

    epochs: int = 100
    """Training epochs."""
    batch_size: int = 96
    """Images per step."""
    lr: float = 0.025
    """Initial SGD learning rate, cosine-annealed to ``lr_min``."""
    lr_min: float = 0.0
    """Final learning rate of the cosine schedule, from 0 to ``lr``."""
    momentum: float = 0.9
    """SGD momentum, in [0, 1)."""
    weight_decay: float = 3e-4
    """L2 weight decay."""
    label_smoothing: float = 0.0
    """Label smoothing of the cross-entropy, in [0, 1)."""
    grad_clip: float = 5.0
    """Clip the gradient norm to this; 0: no clipping."""
    augment: Optional[bool] = None
    """Random crop and horizontal flip of the training images; null: as ``data.augment``."""
    cutout: int = 0
    """Side in pixels of the square cut out of each training image (Cutout), at most the image
    side; 0: off."""
    drop_path: float = 0.0
    """Final drop-path probability of the cells' ops, ramped up linearly over the epochs, in
    [0, 1)."""
    aux_weight: float = 0.0
    """Above 0: an auxiliary classifier head (dropped at export) whose loss is added with this
    weight."""
    eval_every: int = 10
    """Log accuracy every this many epochs: validation accuracy, or test accuracy when
    ``include_val`` trains on the validation split."""
    include_val: bool = True
    """Train on the training and validation splits together; false: the training split only,
    logging validation accuracy."""
    data: Mapping[str, Any] = field(default_factory=dict)
    """``data`` keys that differ for this training (e.g. ``{image_size: 28}``), over the search's
    ``data`` without its caps; checked like ``data``."""


@dataclass(frozen=True)
class SurrogateConfig:
    """``engine.surrogate``: surrogate-assisted search (NSGANetV2 / MSuNAS style).

    After ``initial`` random networks, each iteration fits a predictor of the expensive objectives
    (error; a table's non-cost columns) on everything evaluated so far, runs the engine for
    ``inner_generations`` on predicted + exact cheap objectives, and evaluates ``batch`` networks
    chosen by greedy Monte-Carlo expected hypervolume improvement over the measured front: a share
    (``local``, adapted to how often it pays) from the unvisited one- and two-gene neighbours of
    the front, the rest from what the inner search visited. One iteration is one generation of the
    run (``generations`` counts them).
    """

    enabled: bool = True
    """The surrogate loop around ``engine.name``; false: plain generations of the engine."""
    predictor: str = "auto"
    """The predictor: ``gp``, ``rf``, ``extra_trees``, ``ridge``, ``mlp`` (bagged MLPs), or
    ``auto``: of gp, rf, extra_trees and ridge, the one whose k-fold predictions rank the better
    half of the evaluated networks best, each iteration."""
    initial: Optional[int] = None
    """Random networks evaluated before the first fit; null: 12 when ``engine.evaluations`` is
    set, else ``engine.pop_size``."""
    batch: Optional[int] = None
    """Networks evaluated per iteration; null: when ``engine.evaluations`` is set, the square root
    of the networks evaluated so far (4 to 32: 4 at first, 10 around 100, 17 around 300), else
    ``engine.pop_size``."""
    explore: float = 0.0
    """Share of a batch drawn at random from the inner search's unseen candidates, in [0, 1]
    (the acquisition already weighs the predictor's uncertainty)."""
    local: float = 0.3
    """Starting share of a batch spent on unvisited neighbours (one or two gene edits) of the
    measured front, most accurate members first, in [0, 1]; each iteration it is rescaled by how
    often earlier local picks entered the front against the other picks (kept in [0.1, 0.7]);
    0: no local search."""
    target: str = "log"
    """Scale the predictors fit: ``log`` (log of the objective, when every value is positive:
    broken networks near error 1 then do not dominate the fit) or ``raw``."""
    error_margin: float = 0.1
    """The acquisition's reference point for the expensive objectives: the worst value on the
    measured front plus this share of the evaluated networks' range, in [0, 1] - a network
    predicted worse earns no hypervolume, however cheap."""
    samples: int = 32
    """Monte-Carlo outcomes per candidate in the expected hypervolume improvement, >= 1."""
    inner_pop: int = 64
    """Population of the search on predicted objectives, >= 4."""
    inner_generations: int = 40
    """Generations of that search per iteration."""
    folds: int = 5
    """k of the k-fold Kendall tau that picks the predictor (and calibrates its spread), >= 2."""


@dataclass(frozen=True)
class EngineConfig:
    """``engine``: the multi-objective search over networks (or a table's genes).

    Offspring that repeat a network already sent for evaluation are redrawn, so every evaluation
    is a distinct network.
    """

    name: str = "pymoo"
    """The engine library: ``pymoo`` or ``deap``."""
    algorithm: str = "nsga2"
    """The algorithm: ``nsga2`` (both engines); pymoo also ``nsga3`` and ``smsemoa``."""
    pop_size: int = _req()
    """Population size, >= 4, at most the space's number of distinct networks (or table rows) and
    100,000."""
    generations: Optional[int] = _req(unless="evaluations")
    """Generations to run (with the surrogate: iterations, the initial design being the first).
    The search stops at ``generations`` or ``evaluations``, whichever comes first; at least one
    must be set."""
    evaluations: Optional[int] = None
    """Budget of distinct networks evaluated at the full budget, counted across resumes (a
    generation is cut short rather than overshoot); null: ``generations`` alone stops."""
    crossover_prob: float = 0.9
    """Probability that a pair of parents is crossed over (uniformly), in [0, 1]; otherwise the
    children are mutated copies."""
    mutation_prob: Optional[float] = None
    """Per-gene mutation probability, in [0, 1] (at least one gene per child mutates); null:
    1 / number of genes."""
    surrogate: SurrogateConfig = field(default_factory=SurrogateConfig)
    """Surrogate-assisted search; see ``engine.surrogate``."""


@dataclass(frozen=True)
class LatencyConfig:
    """``latency``: how latency is measured when it is an objective or constrained (never
    otherwise).

    Each distinct block (stem, cell, head) is timed once on the run's device and kept in
    ``latency_lut.json``; a network's latency is the sum of its blocks'.
    """

    batch_size: int = 1
    """Fixed batch of the measurement."""
    warmup: int = 10
    """Untimed calls before timing, >= 0."""
    repeats: int = 30
    """Timed calls; the median is kept."""


@dataclass(frozen=True)
class TableConfig:
    """``table``: a tabular space's results, a CSV with one column per gene plus result columns.

    Required with ``genes``, refused without. Its checksum is pinned in the run, so a resume on an
    edited table is refused.
    """

    path: str = _req()
    """The CSV file; relative paths are relative to the space file."""
    maximize: Tuple[str, ...] = ()
    """Objective columns to maximise (e.g. ``[val_accuracy]``); every other objective is
    minimised. Each must be one of ``objectives`` and not ``error``."""


@dataclass(frozen=True)
class RunConfig:
    """A whole space file: the top-level keys and one section per stage.

    A network space sets ``data``, ``cell``, ``block`` and ``network``; a tabular space sets
    ``genes`` and ``table`` instead.
    """

    name: str = "search"
    """Name of the run, a plain folder name: its folder is ``runs/<name>`` (``<name>-2``... when
    that one is taken; ``--out`` changes ``runs/``)."""
    seed: int = 0
    """Seed of everything random (torch, numpy, the engine, data splits), 0 to 2**32 - 1."""
    device: str = "auto"
    """``cpu``, ``cuda`` (every visible GPU), ``cuda:N`` (one GPU), or ``auto``: CUDA when
    present."""
    deterministic: bool = False
    """Deterministic kernels, no cuDNN autotuning and no TF32: results independent of the backend
    and worker count, slower on GPUs."""
    threads: Optional[int] = None
    """Torch CPU threads of each training process (the block stage, each worker, ``hybridnas
    train``); null: 1. Lowered, with a note, so workers x threads never exceed the cores."""
    data: Optional[DataConfig] = _req(unless="genes")
    """The dataset; see ``data``."""
    cell: Optional[CellConfig] = _req(unless="genes")
    """The cell search space; see ``cell``."""
    block: Optional[BlockConfig] = _req(unless="genes")
    """The block stage; see ``block``."""
    network: Optional[NetworkConfig] = _req(unless="genes")
    """The network space; see ``network``."""
    objectives: Tuple[str, ...] = ("error", "params", "flops")
    """What the network search minimises, at least two, each once: ``error`` (1 - validation
    accuracy), ``params``, ``flops``, ``macs``, ``latency`` (ms, see ``latency``). A tabular
    space: any numeric columns of its table."""
    constraints: ConstraintsConfig = field(default_factory=ConstraintsConfig)
    """Hard limits; see ``constraints``."""
    evaluation: EvaluationConfig = _req()
    """Candidate training; see ``evaluation``."""
    engine: EngineConfig = _req()
    """The network search; see ``engine``."""
    latency: LatencyConfig = field(default_factory=LatencyConfig)
    """Latency measurement; see ``latency``."""
    genes: Optional[Mapping[str, Any]] = None
    """A tabular space: its genes, declared directly, each named like its table column. A gene is
    a list of choices (strings: categorical; numbers: ordinal), ``{low, high}`` (an integer
    range), or ``{choices: [...], type: ...}`` with ``categorical``, ``ordinal`` or ``binary``.
    Null: a network space."""
    table: Optional[TableConfig] = None
    """A tabular space's results; see ``table``."""
    train: TrainConfig = field(default_factory=TrainConfig)
    """Full training of a picked model; see ``train``."""

    @property
    def tabular(self) -> bool:
        return self.genes is not None

    @property
    def wants_latency(self) -> bool:
        return "latency" in self.objectives or self.constraints.max_latency_ms is not None


OBJECTIVES = ("error", "params", "flops", "macs", "latency")

# ---------------------------------------------------------------- loading


def resolve_space_path(space: Optional[str]) -> Path:
    """A path, or the name of a file in ``spaces/`` (``digits`` -> ``spaces/digits.yaml``)."""
    if space is None:
        space = DEFAULT_SPACE
    p = Path(space)
    if p.is_file():
        return p
    for cand in (SPACES_DIR / space, SPACES_DIR / f"{space}.yaml"):
        if cand.is_file():
            return cand
    known = ", ".join(sorted(q.stem for q in SPACES_DIR.glob("*.yaml"))) if SPACES_DIR.is_dir() else ""
    raise UserError(f"space file '{space}' not found; give a YAML path or one of: {known}")


def _read_yaml(path: Path, seen: Tuple[Path, ...] = (), notes: Optional[List[str]] = None) -> Dict[str, Any]:
    import yaml

    path = path.resolve()
    if path in seen:
        raise UserError(f"{path}: 'extends' forms a cycle; remove it from one of the files")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read space file {path}: {exc.strerror}; check the path") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text (byte {exc.start}); save the space file as UTF-8") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise UserError(f"{path}: malformed YAML{where}: {problem}; fix the syntax") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UserError(f"{path}: the top level must be a mapping of sections, got {type(data).__name__}")
    # a space names its files relative to itself (it may ship with its table or data)
    for section in ("table", "data", "train"):
        part = data.get(section)
        if section == "train" and isinstance(part, dict) and isinstance(part.get("data"), dict):
            data[section] = part = {**part, "data": _with_absolute_path(part["data"], path.parent)}
        elif isinstance(part, dict):
            data[section] = _with_absolute_path(part, path.parent)
    base = data.pop("extends", None)
    if base is not None:
        base_path = (path.parent / str(base)) if not os.path.isabs(str(base)) else Path(base)
        if not base_path.is_file():
            base_path = resolve_space_path(str(base))
        parent = _without_foreign_strategy(_read_yaml(base_path, seen + (path,), notes), data,
                                           f"{path.name} (extends {Path(base_path).name})", notes)
        data = deep_merge(parent, data)
    return data


def _with_absolute_path(part: Dict[str, Any], base: Path) -> Dict[str, Any]:
    if isinstance(part.get("path"), str) and part["path"] and _text_problem(part["path"]) is None:
        return {**part, "path": str(_absolute(part["path"], base))}
    return part  # a path no file can have is refused, naming its key, when the section is read


def _text_problem(text: str) -> Optional[str]:
    """Why ``text`` cannot be a setting (a path, a name), or ``None``: a NUL byte, or characters
    UTF-8 cannot encode (lone surrogates, as YAML's ``\\ud800`` escapes give)."""
    if "\0" in text:
        return "holds a NUL byte"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "holds characters UTF-8 cannot encode (lone surrogates)"
    return None


def _absolute(p: str, base: Path) -> Path:
    """``p`` with ``~`` expanded, relative to ``base`` unless absolute."""
    q = Path(p).expanduser()
    return q if q.is_absolute() else (base / q).resolve()


def _strategy_of(data: Mapping[str, Any]) -> Tuple[Optional[str], Dict[str, Any]]:
    """(name, options) of a raw space's ``block.strategy`` (options beside the name or nested)."""
    block = data.get("block")
    strategy = block.get("strategy") if isinstance(block, Mapping) else None
    if isinstance(strategy, str):
        return strategy, {}
    if not isinstance(strategy, Mapping):
        return None, {}
    nested = _strategy_options_nested({"block": {"strategy": strategy}})["block"]["strategy"]
    return nested.get("name"), dict(nested.get("options") or {})


def _without_foreign_strategy(parent: Dict[str, Any], child: Mapping[str, Any], where: str,
                              notes: Optional[List[str]]) -> Dict[str, Any]:
    """The parent of an ``extends:`` without the strategy options (and library sweep keys) the
    child's other strategy does not have: what ``--block-strategy`` drops, dropped alike."""
    new, _ = _strategy_of(child)
    old, options = _strategy_of(parent)
    if new is None or old is None or new == old:
        return parent
    block = dict(parent["block"])
    library = block.get("library") if "library" not in (child.get("block") or {}) else None
    members = list(library) if isinstance(library, (list, tuple)) and all(isinstance(m, Mapping) for m in library) else []
    kept, kept_members, dropped = _drop_foreign(new, options, members)
    block["strategy"] = {"name": old, "options": kept}
    if members:
        block["library"] = kept_members
    if dropped and notes is not None:
        notes.append(_switch_note(f"{where}: ", new, old, dropped, len(members), len(kept_members)))
    return {**parent, "block": block}


def deep_merge(base: Dict[str, Any], over: Mapping[str, Any]) -> Dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) and k != "options":
            out[k] = deep_merge(dict(out[k]), v)
        else:
            out[k] = v
    return out


def parse_override(text: str) -> Tuple[List[str], Any]:
    import yaml

    if "=" not in text:
        raise UserError(f"--set '{text}' is not key=value; write e.g. --set engine.generations=5")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise UserError(f"--set '{text}' has an empty key; write e.g. --set engine.generations=5")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return key.split("."), value


def apply_overrides(data: Dict[str, Any], overrides: Sequence[str]) -> Dict[str, Any]:
    data = dict(data)
    for text in overrides:
        path, value = parse_override(text)
        node = data
        for part in path[:-1]:
            child = node.get(part)
            if child is None:
                child = {}
            elif not isinstance(child, dict):
                raise UserError(f"--set {text}: '{part}' is not a section")
            node[part] = child = dict(child)
            node = child
        node[path[-1]] = value
    return data


def load_config(
    space: Optional[str] = None,
    overrides: Sequence[str] = (),
    *,
    validate: bool = True,
    notes: Optional[List[str]] = None,
) -> RunConfig:
    """Load a space (path or name in ``spaces/``), apply ``key=value`` overrides, check it.

    When an override switches the block strategy, the space's options (and library sweep keys)
    that the new strategy does not have are dropped, and a line saying so goes to ``notes``.
    """
    path = resolve_space_path(space)
    raw = _strategy_options_nested(_read_yaml(path, notes=notes))
    source = Source(str(path), overrides)  # a problem with a key --set gave is blamed on --set
    data = absolute_data_path(apply_overrides(raw, overrides))
    cfg = from_dict(RunConfig, data, source=source)
    base_name = from_dict(RunConfig, raw, source=str(path)).block.strategy.name if "block" in raw else None
    if base_name is not None and cfg.block.strategy.name != base_name:
        cfg = _adapt_to_strategy(cfg, base_name, notes)
    if validate:
        check(cfg, source=source)
    return cfg


def absolute_data_path(data: Dict[str, Any]) -> Dict[str, Any]:
    """``data.path`` made absolute against the working directory: a path given on the command
    line (the space file's own are already absolute), so a run resumes from any folder."""
    part = data.get("data")
    return {**data, "data": _with_absolute_path(part, Path.cwd())} if isinstance(part, dict) else data


def _strategy_options_nested(data: Dict[str, Any]) -> Dict[str, Any]:
    """``block.strategy`` as ``{name, options}``: options written beside the name move under
    ``options``, so an override reaches them by either key (``block.strategy.mode`` or
    ``block.strategy.options.mode``, as the saved config.yaml writes it)."""
    block = data.get("block")
    strategy = block.get("strategy") if isinstance(block, Mapping) else None
    if not isinstance(strategy, Mapping) or not isinstance(strategy.get("options", {}) or {}, Mapping):
        return data
    flat = {k: v for k, v in strategy.items() if k not in ("name", "options")}
    nested = {**dict(strategy.get("options") or {}), **flat}
    kept = {k: v for k, v in strategy.items() if k == "name"}
    return {**data, "block": {**block, "strategy": {**kept, "options": nested}}}


# Library-member keys the block stage itself reads (not strategy options).
MEMBER_KEYS = ("seed",)


def _drop_foreign(new: str, options: Mapping[str, Any], library: Sequence[Mapping[str, Any]]):
    """(options, library, dropped keys): only what strategy ``new`` accepts (library members
    keep the keys the block stage reads itself; members that become equal are merged)."""
    from .block.strategies import STRATEGIES

    known = STRATEGIES.get(new, key="block.strategy").option_names(options)
    dropped = sorted({k for k in options if k not in known}
                     | {k for m in library for k in m if k not in known and k not in MEMBER_KEYS})
    kept_library: List[Dict[str, Any]] = []
    for m in library:
        kept = {k: v for k, v in m.items() if k in known or k in MEMBER_KEYS}
        if kept not in kept_library:
            kept_library.append(kept)
    return {k: v for k, v in options.items() if k in known}, kept_library, dropped


def _switch_note(where: str, new: str, old: str, dropped: Sequence[str], before: int, after: int) -> str:
    return (f"{where}block strategy '{new}' replaces '{old}': its options {', '.join(dropped)} are dropped"
            + (f"; library members: {before} -> {after}" if before else ""))


def _adapt_to_strategy(cfg: RunConfig, old: str, notes: Optional[List[str]]) -> RunConfig:
    new = cfg.block.strategy.name
    options, library, dropped = _drop_foreign(new, cfg.block.strategy.options, cfg.block.library)
    if not dropped:
        return cfg
    if notes is not None:
        notes.append(_switch_note("", new, old, dropped, len(cfg.block.library), len(library)))
    block = dataclasses.replace(
        cfg.block, strategy=StrategyConfig(new, options), library=tuple(library)
    )
    return dataclasses.replace(cfg, block=block)


def config_from_dict(data: Mapping[str, Any], source: str = "config", validate: bool = True) -> RunConfig:
    cfg = from_dict(RunConfig, dict(data), source=source)
    if validate:
        check(cfg, source=source)
    return cfg


# ------------------------------------------------ typed conversion (dict -> frozen dataclass)


class Source(str):
    """Where a config came from (the space file's path, as a string), and the keys ``--set``
    gave: a problem with one of those is reported as ``--set KEY=VALUE: ...``, not as the file's."""

    def __new__(cls, path: str, overrides: Sequence[str] = ()):
        self = super().__new__(cls, path)
        self.sets = {".".join(parse_override(text)[0]): text for text in overrides}
        return self

    def of(self, key: str) -> str:
        """What to name for ``key``: the last ``--set`` of it, of a section holding it or of a key
        inside it (``network.widths[0]`` is ``--set network.widths=...``), else the file."""
        bare = key.split("[", 1)[0].split(" ", 1)[0]
        hits = [text for k, text in self.sets.items()
                if k == bare or k.startswith(bare + ".") or bare.startswith(k + ".")]
        return f"--set {hits[-1]}" if hits else str(self)


def where(source: str, key: str) -> str:
    """The origin to name in an error about ``key`` (see :class:`Source`)."""
    return source.of(key) if isinstance(source, Source) else str(source)


def _fail(source: str, key: str, msg: str):
    raise UserError(f"{where(source, key)}: '{key}' {msg}")


def _describe(v: Any) -> str:
    return repr(v) if not isinstance(v, (dict, list)) else type(v).__name__


def _convert(tp: Any, value: Any, key: str, source: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin is Union:
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(inner[0], value, key, source)
    if origin is Literal:
        if value not in args:
            _fail(source, key, f"must be one of {', '.join(map(str, args))}, got {_describe(value)}")
        return value
    if dataclasses.is_dataclass(tp):
        if tp is StrategyConfig and isinstance(value, str):
            value = {"name": value}
        if tp is StrategyConfig and isinstance(value, Mapping):
            value = dict(value)
            name = value.pop("name", None)
            if name is None:
                _fail(source, f"{key}.name", "is missing; name the strategy, e.g. 'enhanced'")
            opts = value.pop("options", None) or {}
            if not isinstance(opts, Mapping):
                _fail(source, f"{key}.options", f"must be a mapping of the strategy's options, got {_describe(opts)}")
            opts = dict(opts)
            opts.update(value)  # options may sit beside the name: {name: shrink, inner: enhanced}
            value = {"name": name, "options": opts}
        return from_dict(tp, value, source=source, prefix=key)
    if origin in (tuple, list, Sequence):
        if value is None:
            _fail(source, key, "must be a list, got nothing")
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            value = [value]
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(value) != len(args):
                _fail(source, key, f"must be a list of {len(args)} values, got {len(value)}")
            return tuple(_convert(a, v, f"{key}[{i}]", source) for i, (a, v) in enumerate(zip(args, value)))
        inner = args[0] if args else Any
        return tuple(_convert(inner, v, f"{key}[{i}]", source) for i, v in enumerate(value))
    if origin in (dict, Mapping, typing.Mapping, collections.abc.Mapping) or tp in (dict, Mapping):
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            _fail(source, key, f"must be a mapping, got {_describe(value)}")
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        _fail(source, key, f"must be true or false, got {_describe(value)}")
    if tp is int:
        if isinstance(value, bool):
            _fail(source, key, f"must be an integer, got {_describe(value)}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                f = float(value)
                if f.is_integer():
                    return int(f)
            except ValueError:
                pass
        _fail(source, key, f"must be an integer, got {_describe(value)}")
    if tp is float:
        if isinstance(value, bool):
            _fail(source, key, f"must be a number, got {_describe(value)}")
        number = None
        if isinstance(value, (int, float)):
            number = float(value) if abs(value) < 1e308 else math.inf
        elif isinstance(value, str):  # PyYAML reads 1e6 as a string
            try:
                number = float(value)
            except ValueError:
                pass
        if number is None:
            _fail(source, key, f"must be a number, got {_describe(value)}")
        if not math.isfinite(number):  # NaN or infinity: no setting means either
            _fail(source, key, f"must be a finite number, got {_describe(value)}; give a real value")
        return number
    if tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            problem = _text_problem(str(value))
            if problem:
                _fail(source, key, f"{problem}: {_describe(value)}; write plain text")
            return str(value)
        _fail(source, key, f"must be a string, got {_describe(value)}")
    return value


def from_dict(cls, data: Any, source: str = "config", prefix: str = ""):
    """Build the frozen dataclass ``cls`` from plain data, checking every key and type."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        _fail(source, prefix or "<top>", f"must be a mapping, got {_describe(data)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for k in data:
        if k not in fields:
            full = f"{prefix}.{k}" if prefix else str(k)
            close = difflib.get_close_matches(str(k), list(fields), n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(fields)}"
            raise UserError(f"{where(source, full)}: unknown key '{full}'; {hint}")
    kwargs = {}
    for name, f in fields.items():
        full = f"{prefix}.{name}" if prefix else name
        if name in data:
            kwargs[name] = _convert(hints[name], data[name], full, source)
        elif f.metadata.get("required") and f.metadata.get("unless") not in data:
            raise UserError(f"{where(source, full)}: required key '{full}' is missing; add it to the space file")
    return cls(**kwargs)


def to_dict(obj: Any) -> Any:
    """Plain data (dicts, lists, scalars) for YAML/JSON output."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, Mapping):
        return {str(k): to_dict(v) for k, v in obj.items()}
    return obj


def dump_yaml(cfg: RunConfig) -> str:
    import yaml

    return yaml.safe_dump(to_dict(cfg), sort_keys=False, default_flow_style=None)


def replace(cfg: RunConfig, **sections) -> RunConfig:
    return dataclasses.replace(cfg, **sections)


# ---------------------------------------------------------------- meaning


class Checks:
    """The range checks of a config, one :class:`UserError` line each naming the key (and ``--set``
    when the value came from there, see :class:`Source`) and what to give instead. NaN fails every
    comparison, so it fails every check here too."""

    def __init__(self, source: str = "config", prefix: str = ""):
        self.source, self.prefix = source, prefix

    def bad(self, key: str, msg: str):
        full = self.prefix + key
        raise UserError(f"{where(self.source, full)}: '{full}' {msg}")

    def positive(self, key: str, v, allow_zero: bool = False) -> None:
        """``v`` > 0 (>= 0 with ``allow_zero``); ``None`` (a key left unset) passes."""
        if v is not None and not (v > 0 or (allow_zero and v == 0)):
            self.bad(key, f"must be {'>= 0' if allow_zero else '> 0'}, got {v}")

    def within(self, key: str, v, lo: float, hi: float, hi_open: bool = False, lo_open: bool = False,
               why: str = "") -> None:
        """``lo <= v <= hi`` (a bound strict where ``*_open``); ``None`` passes."""
        if v is None or ((lo < v if lo_open else lo <= v) and (v < hi if hi_open else v <= hi)):
            return
        self.bad(key, f"must be in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}{why}, got {v}")

    def at_most(self, key: str, v, limit: int, what: str) -> None:
        """``v <= limit``, the most that ``what`` allows (a bound from the space or the data)."""
        if v is not None and v > limit:
            self.bad(key, f"is {v:,} but {what}; lower it to at most {limit:,}")


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
    bad, positive = ck.bad, ck.positive
    if not 0 <= cfg.seed < 2**32:
        bad("seed", f"must be an integer from 0 to 2**32 - 1, got {cfg.seed}")
    positive("threads", cfg.threads)
    if not plain_name(cfg.name):  # the run's folder is named after it
        bad("name", f"is {cfg.name!r}, not a plain folder name; give a name like 'digits-small'")
    if cfg.device not in ("auto", "cpu", "cuda") and not cfg.device.startswith("cuda:"):
        bad("device", f"must be auto, cpu, cuda or cuda:N, got '{cfg.device}'")
    if cfg.tabular:
        size = _check_tabular(cfg, source, bad)
    else:
        size = _check_network_space(cfg, source, ck)

    c = cfg.constraints
    for k in ("max_params", "max_flops", "max_latency_ms"):
        positive(f"constraints.{k}", getattr(c, k))

    e = cfg.evaluation
    for k in ("epochs", "batch_size", "lr", "workers", "timeout_s", "max_loss"):
        positive(f"evaluation.{k}", getattr(e, k))
    positive("evaluation.weight_decay", e.weight_decay, allow_zero=True)
    ck.within("evaluation.label_smoothing", e.label_smoothing, 0, 1, hi_open=True)
    _check_sgd(e, ck, "evaluation.")
    r = e.ray
    for k in ("num_cpus", "cpus_per_task"):
        positive(f"evaluation.ray.{k}", getattr(r, k))
    for k in ("num_gpus", "gpus_per_task", "retries"):
        positive(f"evaluation.ray.{k}", getattr(r, k), allow_zero=True)
    if r.gpus_per_task is not None and r.gpus_per_task > 1 and not float(r.gpus_per_task).is_integer():
        bad("evaluation.ray.gpus_per_task", f"above 1 must be a whole number of GPUs, got {r.gpus_per_task}")
    if cfg.device == "cpu" and e.precision == "fp16":
        bad("evaluation.precision", "'fp16' needs a CUDA GPU; use bf16 or fp32 on CPU")
    from .evaluate import EVALUATORS

    EVALUATORS.get(e.evaluator, key="evaluation.evaluator").check_config(cfg, source)
    check_train(cfg.train, source)
    if cfg.data is not None:
        train_data_config(cfg.data, cfg.train, source)
    if (e.evaluator == "table") != cfg.tabular:
        if cfg.tabular:
            bad("evaluation.evaluator", f"is '{e.evaluator}', but this space declares genes and a table; set it to 'table'")
        bad("evaluation.evaluator", "'table' needs a tabular space: declare 'genes' and a 'table' section")
    fid = e.fidelity
    if fid.budgets:
        if cfg.tabular:
            bad("evaluation.fidelity.budgets", "has no meaning in a tabular space (nothing is trained); remove it")
        for i, b in enumerate(fid.budgets):
            positive(f"evaluation.fidelity.budgets[{i}]", b)
        steps = list(fid.budgets) + [e.epochs]
        if any(a >= b for a, b in zip(steps, steps[1:])):
            bad("evaluation.fidelity.budgets", f"must increase and stay below evaluation.epochs ({e.epochs}), got {list(fid.budgets)}")
    ck.within("evaluation.fidelity.promote", fid.promote, 0, 1, lo_open=True)
    positive("evaluation.folds", e.folds)
    if e.folds > 1 and (fid.budgets or cfg.tabular):
        bad("evaluation.folds", "above 1 cannot be combined with " + ("a tabular space (nothing is trained)" if cfg.tabular
            else "evaluation.fidelity.budgets (a rung continues one network); set folds to 1 or drop the budgets"))

    lat = cfg.latency
    for k in ("batch_size", "repeats"):
        positive(f"latency.{k}", getattr(lat, k))
    positive("latency.warmup", lat.warmup, allow_zero=True)

    _check_engine(cfg.engine, ck, size)


def space_size(cfg: RunConfig) -> int:
    """How many distinct networks (or table rows) the space holds: an upper bound before the block
    stage, each library member counted as a distinct block."""
    if cfg.tabular:
        from .space.table import load_table

        return len(load_table(cfg).rows)
    n = cfg.network
    lo, hi = n.blocks
    per_stage = max(hi - lo + 1, 0) * len(cfg.block.library) * len(set(n.widths)) * len(set(n.downsample))
    size = len(set(n.stem))
    for _ in range(min(max(n.stages, 0), MAX_STAGES)):
        size *= per_stage
        if size > 10**30:  # beyond any population: no need to count on
            break
    return size


def _check_engine(g: EngineConfig, ck: Checks, size: int) -> None:
    from .network.engines.base import ENGINES

    engine = ENGINES.get(g.name, key="engine.name")
    if g.algorithm not in engine.algorithms:
        close = difflib.get_close_matches(g.algorithm, engine.algorithms, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        ck.bad("engine.algorithm", f"is '{g.algorithm}', which engine '{g.name}' does not have; {hint}choose one of: "
               f"{', '.join(engine.algorithms)}")
    if g.pop_size < 4:
        ck.bad("engine.pop_size", f"must be >= 4, got {g.pop_size}")
    ck.positive("engine.generations", g.generations)
    ck.positive("engine.evaluations", g.evaluations)
    if g.generations is None and g.evaluations is None:
        ck.bad("engine.generations", "is unset and so is engine.evaluations; set one of them "
                                     "(the search stops at the first reached)")
    sg = g.surrogate
    for k in ("initial", "batch", "inner_pop", "inner_generations"):
        ck.positive(f"engine.surrogate.{k}", getattr(sg, k))
    if sg.folds < 2:
        ck.bad("engine.surrogate.folds", f"must be >= 2, got {sg.folds}")
    ck.within("engine.surrogate.explore", sg.explore, 0, 1)
    if sg.inner_pop is not None and sg.inner_pop < 4:
        ck.bad("engine.surrogate.inner_pop", f"must be >= 4, got {sg.inner_pop}")
    if sg.predictor != "auto":
        from .network.predictors import PREDICTORS

        PREDICTORS.get(sg.predictor, key="engine.surrogate.predictor")
    # every member of a population, initial design or batch is a distinct network
    for key, v in (("engine.pop_size", g.pop_size), ("engine.surrogate.initial", sg.initial),
                   ("engine.surrogate.batch", sg.batch)):
        ck.at_most(key, v, size, f"the space holds only {size:,} distinct networks")
    for key, v in (("engine.pop_size", g.pop_size), ("engine.surrogate.initial", sg.initial),
                   ("engine.surrogate.batch", sg.batch), ("engine.surrogate.inner_pop", sg.inner_pop)):
        ck.at_most(key, v, MAX_POPULATION, "a larger population would not fit in memory")
    ck.within("engine.crossover_prob", g.crossover_prob, 0, 1)
    ck.within("engine.mutation_prob", g.mutation_prob, 0, 1)


def _check_objective_list(cfg: RunConfig, bad, known: Optional[Sequence[str]]) -> None:
    if not cfg.objectives:
        bad("objectives", "is empty; use e.g. [error, params, flops]")
    if known is not None:
        for i, o in enumerate(cfg.objectives):
            if o not in known:
                bad(f"objectives[{i}]", f"is unknown ('{o}'); choose from {', '.join(known)}")
    if len(set(cfg.objectives)) != len(cfg.objectives):
        bad("objectives", "lists an objective twice")
    if len(cfg.objectives) < 2:
        bad("objectives", "needs at least two objectives for a Pareto front")


def _check_tabular(cfg: RunConfig, source: str, bad) -> int:
    """A tabular space: genes, a table and nothing of the network space; the table is read and
    checked against the genes and objectives here, so a bad table fails at load time."""
    for k in ("data", "cell", "block", "network"):
        if getattr(cfg, k) is not None:
            bad(k, "has no meaning in a tabular space (genes are declared and looked up in the table); remove it")
    if cfg.table is None:
        bad("table", "is missing: a space that declares genes needs table.path, the CSV of results to look them up in")
    if cfg.evaluation.epochs is not None:
        bad("evaluation.epochs", "has no meaning in a tabular space (nothing is trained); remove it")
    _check_objective_list(cfg, bad, None)
    for i, m in enumerate(cfg.table.maximize):
        if m not in cfg.objectives:
            bad(f"table.maximize[{i}]", f"'{m}' is not one of the objectives ({', '.join(cfg.objectives)})")
        if m == "error":
            bad(f"table.maximize[{i}]", "cannot be 'error' (error is minimised; maximise an accuracy column instead)")
    from .space.table import load_table

    return len(load_table(cfg, source).rows)  # checks genes, columns and values; one-line errors


def _check_network_space(cfg: RunConfig, source: str, ck: Checks) -> int:
    """The network space's sections; returns how many distinct networks it holds."""
    bad, positive = ck.bad, ck.positive
    for k in ("data", "cell", "block", "network"):
        if getattr(cfg, k) is None:
            raise UserError(f"{source}: required key '{k}' is missing; add it to the space file")
    if cfg.table is not None:
        bad("table", "needs 'genes': a tabular space declares its genes; remove 'table' or add 'genes'")
    if cfg.evaluation.epochs is None:
        raise UserError(f"{source}: required key 'evaluation.epochs' is missing; add it to the space file")

    from .space.ops import OPS
    if not cfg.cell.ops:
        bad("cell.ops", "is empty; list at least one operation")
    for i, op in enumerate(cfg.cell.ops):
        if op not in OPS:
            close = difflib.get_close_matches(op, OPS.names(), n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            bad(f"cell.ops[{i}]", f"is an unknown operation '{op}'; {hint}known: {', '.join(OPS.names())}")
    if len(set(cfg.cell.ops)) != len(cfg.cell.ops):
        bad("cell.ops", "lists an operation twice; list each once")
    if all(op == "none" for op in cfg.cell.ops):
        bad("cell.ops", "has only 'none'; add at least one real operation")
    if not 1 <= cfg.cell.nodes <= 8:
        bad("cell.nodes", f"must be between 1 and 8, got {cfg.cell.nodes}")

    _check_data(cfg.data, "data", ck)

    b = cfg.block
    for k in ("width", "cells", "epochs", "batch_size", "reference_width"):
        positive(f"block.{k}", getattr(b, k))
    for k in ("warmup_epochs", "max_parameter_free", "weight_decay", "arch_weight_decay", "grad_clip"):
        positive(f"block.{k}", getattr(b, k), allow_zero=True)
    for k in ("lr", "arch_lr", "memory_limit_gb"):
        positive(f"block.{k}", getattr(b, k))
    positive("block.skip_stop", b.skip_stop, allow_zero=True)
    _check_sgd(b, ck, "block.")
    for i, beta in enumerate(b.arch_betas):
        ck.within(f"block.arch_betas[{i}]", beta, 0, 1, hi_open=True, why=" (Adam's betas)")
    if b.width % 2:
        bad("block.width", f"must be even (reduction cells halve it in two branches), got {b.width}")
    if b.cells < 3:
        bad("block.cells", f"must be >= 3 so the supernet has normal and reduction cells, got {b.cells}")
    if not b.library:
        bad("block.library", "is empty; give at least one member (e.g. [{}])")
    for i, member in enumerate(b.library):
        if not isinstance(member, Mapping):
            bad(f"block.library[{i}]", "must be a mapping of strategy options, e.g. {lam: 0.5}")
    from .block.strategies import STRATEGIES

    strategy_cls = STRATEGIES.get(b.strategy.name, key="block.strategy")
    # the block stage builds the strategy with its own options first (the shared warm-up, the
    # memory estimate): they must be valid alone, not only under each library member's overrides
    strategy_cls.parse_options(b.strategy.options, source=f"{where(source, 'block.strategy')}: block.strategy "
                               f"({b.strategy.name} options)")
    origin = where(source, "block.library")  # the members' options come from the library and the strategy
    strategy_cls.check_config(cfg, origin if origin != str(source) else where(source, "block.strategy"))

    n = cfg.network
    positive("network.stages", n.stages)
    ck.at_most("network.stages", n.stages, MAX_STAGES, "no network that deep fits in memory")
    lo, hi = n.blocks
    ck.at_most("network.blocks", hi, MAX_BLOCKS, "no stage of that many cells fits in memory")
    if lo < 1:
        bad("network.blocks", f"must start at >= 1 block per stage, got [{lo}, {hi}]")
    if hi < lo:
        bad("network.blocks", f"is an empty range [{lo}, {hi}]; use [low, high] with low <= high")
    if not n.widths:
        bad("network.widths", "is empty; give at least one width multiplier")
    for i, w in enumerate(n.widths):
        positive(f"network.widths[{i}]", w)
    if not n.stem:
        bad("network.stem", "is empty; give at least one stem width")
    for i, s in enumerate(n.stem):
        positive(f"network.stem[{i}]", s)
    positive("network.base_width", n.base_width)
    if not n.downsample or any(v not in (0, 1) for v in n.downsample):
        bad("network.downsample", f"must list allowed flags from 0 and 1, got {list(n.downsample)}")

    _check_objective_list(cfg, bad, OBJECTIVES)
    return space_size(cfg)



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


def train_data_config(data: DataConfig, t: TrainConfig, source: str = "config") -> DataConfig:
    """The data a full training uses: the search's ``data`` without its caps, ``train.data`` on top."""
    merged = {**to_dict(data), "subset": None, "val_subset": None, "test_subset": None, **dict(t.data)}
    dc = from_dict(DataConfig, absolute_data_path({"data": merged})["data"], source=source, prefix="train.data")
    _check_data(dc, "train.data", Checks(source))
    return dc


def _check_sgd(section, ck: Checks, prefix: str) -> None:
    """The SGD settings a section shares: momentum in [0, 1), 0 <= lr_min <= lr."""
    ck.within(f"{prefix}momentum", section.momentum, 0, 1, hi_open=True)
    if not 0 <= section.lr_min <= section.lr:
        ck.bad(f"{prefix}lr_min", f"must be between 0 and the lr ({section.lr}), got {section.lr_min}")


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
