"""The run configuration's schema: typed, frozen dataclasses, one per section of a space file.

A space file is YAML whose sections mirror these classes; each field's docstring is what the
space-file reference (:mod:`hybridnas.reference`) shows for its key. Loading is
:mod:`~hybridnas.config.load`, the conversion from plain data :mod:`~hybridnas.config.convert`,
the checks of meaning :mod:`~hybridnas.config.check`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Literal, Mapping, Optional, Tuple

from .source import Checks, describe


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

    @staticmethod
    def nest(raw: Mapping[str, Any]) -> Dict[str, Any]:
        """``{name, options}`` from a written strategy mapping: options written beside the name
        (``{name: shrink, inner: enhanced}``) go under ``options``, over those already there."""
        flat = {k: v for k, v in raw.items() if k not in ("name", "options")}
        kept = {k: v for k, v in raw.items() if k == "name"}
        return {**kept, "options": {**dict(raw.get("options") or {}), **flat}}

    @classmethod
    def expand(cls, value: Any, key: str, ck: Checks) -> Any:
        """The mapping the fields are read from, for a strategy written short: a name alone, or
        options beside the name (see :func:`hybridnas.config.convert.from_dict`)."""
        if isinstance(value, str):
            value = {"name": value}
        if isinstance(value, Mapping):
            if value.get("name") is None:
                ck.bad(f"{key}.name", "is missing; name the strategy, e.g. 'enhanced'")
            opts = value.get("options") or {}
            if not isinstance(opts, Mapping):
                ck.bad(f"{key}.options", f"must be a mapping of the strategy's options, got {describe(opts)}")
            value = {"name": value["name"], "options": cls.nest(value)["options"]}
        return value


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
    the front, part of it (``best``) instead by the expected improvement of the best error, the
    rest from what the inner search visited. One iteration is one generation of the
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
    local: float = 0.5
    """Starting share of a batch spent on unvisited neighbours (one or two gene edits) of the
    measured front, most accurate members first, chosen by the hypervolume they are expected to
    add among the archive's 10 % most accurate networks, in [0, 1]; each iteration it is rescaled by how
    often earlier local picks entered the front against the other picks (kept in [0.1, 0.7]);
    0: no local search."""
    best: float = 0.2
    """Share of a batch, taken out of the local share (never more than it), spent on the
    candidates most likely to beat the best error evaluated so far - from everything the inner
    search visited and the front's neighbours, by their expected improvement of the best error
    (greedy over Monte-Carlo draws; costs only break ties), in [0, 1]; 0: none."""
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


# What a network space's objectives may be.
OBJECTIVES = ("error", "params", "flops", "macs", "latency")

# Library-member keys the block stage itself reads (not strategy options).
MEMBER_KEYS = ("seed",)
