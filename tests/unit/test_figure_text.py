"""What the figures and the progress output say: counts in words, node numbers that agree
between the cell drawings, the genotype strings and the heat-maps, labels that do not overlap."""

import io
import json

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from hybridnas.analysis.plots import _draw_cell, fig_front, fig_proxy  # noqa: E402
from hybridnas.analysis.style import theme_of  # noqa: E402
from hybridnas.results import RunResults  # noqa: E402
from hybridnas.space.genotype import BlockGenotype  # noqa: E402

CROWDED = ("normal:sep_conv_3x3@0+sep_conv_3x3@1|sep_conv_5x5@0+dil_conv_3x3@1|sep_conv_3x3@1+skip_connect@0;"
           "reduce:max_pool_3x3@0+max_pool_3x3@1|dil_conv_3x3@0+sep_conv_5x5@1|avg_pool_3x3@1+sep_conv_3x3@0")


@pytest.mark.parametrize("kind", ["normal", "reduce"])
def test_cell_drawings_number_nodes_as_the_genotype_and_keep_labels_apart(kind):
    import matplotlib.pyplot as plt

    cell = BlockGenotype.parse(CROWDED).cell(kind == "reduce")
    fig, ax = plt.subplots(figsize=(3.8 + 2.6 * 3, 3.1), constrained_layout=True)
    _draw_cell(ax, cell, kind, theme_of("light"))
    fig.canvas.draw()
    texts = {t.get_text(): t for t in ax.texts}
    # inputs 0 and 1, intermediate nodes 2..4 - as in 'op@input' and the heat-maps' 'i<-j'
    assert {"0", "1", "2", "3", "4", "c[k]", "c[k-2]", "c[k-1]"} <= set(texts)
    renderer = fig.canvas.get_renderer()
    ops = [t for t in ax.texts if t.get_bbox_patch() is not None]
    assert len(ops) == sum(len(n) for n in cell.nodes)
    boxes = [t.get_bbox_patch().get_window_extent(renderer) for t in ops]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), "two op labels overlap"
    plt.close(fig)


def test_front_legend_and_counts_read_right_after_one_generation(run_copy):
    for f in sorted((run_copy / "generations").glob("gen_*.json"))[2:]:
        f.unlink()  # two generations: one earlier front
    fig = fig_front(RunResults(run_copy), theme_of("light"))
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "front after generation 1" in labels and not any("1-1" in label for label in labels)


def test_one_trained_model_is_one_model(run_copy):
    rec = json.loads((run_copy / "front.json").read_text())["members"][0]
    with open(run_copy / "trained.jsonl", "a") as f:
        f.write(json.dumps({"arch_id": rec["arch_id"], "proxy_val_acc": rec["val_acc"], "val_acc": None,
                            "test_acc": 0.5, "params": rec["params"], "epochs": 1}) + "\n")
    fig = fig_proxy(RunResults(run_copy), theme_of("light"))
    assert "(1 model)" in fig.axes[0].get_title()


def test_no_warm_up_bar_when_there_is_no_warm_up(tmp_path):
    from hybridnas.block.stage import BlockStage, build_supernet
    from hybridnas.config import load_config
    from hybridnas.data import load_dataset
    from hybridnas.progress import Progress
    from hybridnas.store import RunStore
    from tests.conftest import TINY

    out = io.StringIO()
    for warmup in (0, 1):
        cfg = load_config(TINY, [f"block.warmup_epochs={warmup}"])
        data = load_dataset(cfg.data, cfg.seed)
        store = RunStore(tmp_path / f"w{warmup}")
        store.ensure_writable()
        stage = BlockStage(cfg, data, store, "cpu", Progress(out))
        stage._warmup(build_supernet(cfg, data, "cpu"))
        assert store.exists("block/warm.pt")
        assert ("block warm-up" in out.getvalue()) == bool(warmup), out.getvalue()
