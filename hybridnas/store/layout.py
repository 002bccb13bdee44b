"""The run directory's layout: every file and folder name a run holds, defined once.

Names are relative to the run directory (``runs/<name>/``) unless a comment says otherwise;
docs/concepts.md ("What a run writes") says what each holds. Code that reads or writes a run
imports the name from here; tests spell the names out, since they check the on-disk contract.
"""

from __future__ import annotations

# the run itself
CONFIG = "config.yaml"
MANIFEST = "manifest.json"
FINGERPRINT = "fingerprint.json"
DATASET = "dataset.json"
TABLE = "table.json"  # a tabular run's table
SUMMARY = "summary.json"
LOG = "search.log"
LOCK = ".lock"
INIT_FROM = "init_from.json"  # a search started with --init-from

# the block stage
BLOCK_DIR = "block"
BLOCKS = "blocks.json"  # the block library; written last, it marks the stage done
ALPHA_LOG = f"{BLOCK_DIR}/alpha.jsonl"
BLOCK_CKPT = f"{BLOCK_DIR}/ckpt.pt"
BLOCK_WARM = f"{BLOCK_DIR}/warm.pt"
BLOCK_MEMORY = f"{BLOCK_DIR}/memory.json"
BLOCK_MEMBERS = "member_*.json"  # glob, inside BLOCK_DIR


def block_member(i: int) -> str:
    """The genotype library member ``i`` derived."""
    return f"{BLOCK_DIR}/member_{i}.json"


# the network stage
EVALS = "evaluations.jsonl"
HV_REFERENCE = "hv_reference.json"
LATENCY_LUT = "latency_lut.json"
GENERATIONS = "generations"
GENERATION_FILES = "gen_*.json"  # glob, inside GENERATIONS
SURROGATE = "surrogate"
SURROGATE_FILES = "iter_*.json"  # glob, inside SURROGATE
FIDELITY = "fidelity"
WEIGHTS = "weights"
FRONT_CSV = "front.csv"
FRONT_JSON = "front.json"


def generation(gen: int) -> str:
    """Generation ``gen``'s population and front."""
    return f"{GENERATIONS}/gen_{gen:03d}.json"


def surrogate_iteration(gen: int) -> str:
    """What the surrogate chose in generation ``gen``."""
    return f"{SURROGATE}/iter_{gen:03d}.json"


def fidelity_checkpoint(arch_id: str, budget: int) -> str:
    """The state a rung of ``budget`` epochs leaves for the next rung to continue from."""
    return f"{FIDELITY}/{arch_id}-e{budget}.pt"


def proxy_weights(arch_id: str) -> str:
    """A front member's proxy-trained weights (``evaluation.keep_weights``)."""
    return f"{WEIGHTS}/{arch_id}.pt"


# what the user does with the front
PICKS = "picks.json"
PLOTS = "plots"
EXPORTS = "exports"
REPORT_MD = "report.md"
REPORT_HTML = "report.html"
FRONT_HTML = "front.html"
TRAINED = "trained.jsonl"  # one record per finished full training (hybridnas train)
TRAINED_DIR = "trained"


def plot_file(stem: str, fmt: str) -> str:
    """A figure, by its stem (e.g. ``front``, :func:`cell_plot_stem`) and format."""
    return f"{PLOTS}/{stem}.{fmt}"


def cell_plot_stem(i: int) -> str:
    """The stem of library block ``i``'s cells drawn as DAGs."""
    return f"cells/block_{i}"


def export_dir(arch_id: str) -> str:
    """Where ``hybridnas export`` writes a model unless given ``--out``."""
    return f"{EXPORTS}/{arch_id}"


def trained_dir(arch_id: str) -> str:
    """A full training's folder (``hybridnas train``)."""
    return f"{TRAINED_DIR}/{arch_id}"


# inside trained_dir(arch_id): a full training
TRAIN_CKPT = "ckpt.pt"
TRAIN_METRICS = "metrics.json"
TRAIN_HISTORY = "history.jsonl"
# inside trained_dir(arch_id) and export_dir(arch_id)
MODEL = "model.pt"
# inside export_dir(arch_id): an exported model
ARCH = "arch.json"
CARD_JSON = "card.json"
CARD_MD = "card.md"
PT2 = "model.pt2"
TORCHSCRIPT = "model.ts"
ONNX = "model.onnx"

# folders that other tools write into the run
RAY_DIR = "ray"
TENSORBOARD_DIR = "tensorboard"
MLFLOW_DIR = "mlruns"

#: every entry a run directory's top level may hold, its lock included (not the temporaries)
ENTRIES = (CONFIG, FINGERPRINT, MANIFEST, DATASET, BLOCK_DIR, BLOCKS, EVALS, GENERATIONS, SURROGATE, HV_REFERENCE,
           LATENCY_LUT, FIDELITY, TABLE, FRONT_CSV, FRONT_JSON, WEIGHTS, PLOTS, PICKS, EXPORTS, TRAINED_DIR, TRAINED,
           INIT_FROM, REPORT_MD, REPORT_HTML, SUMMARY, RAY_DIR, LOG, TENSORBOARD_DIR, MLFLOW_DIR, LOCK)
