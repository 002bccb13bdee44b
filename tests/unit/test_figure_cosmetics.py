"""Figure cosmetics a first user noticed: cell-diagram captions inside the image, pick labels off
the markers, whole-number ticks on generation and epoch axes."""

import json

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from hybridnas.analysis.block_plots import alpha_figures  # noqa: E402
from hybridnas.analysis.plots import fig_block, fig_front, fig_hypervolume, fig_surrogate  # noqa: E402
from hybridnas.analysis.style import theme_of  # noqa: E402
from hybridnas.results import RunResults  # noqa: E402

T = theme_of("light")


def test_cell_diagram_caption_fits_inside_the_image(run_copy):
    import matplotlib.pyplot as plt

    res = RunResults(run_copy)
    for i in range(len(res.library)):
        fig = fig_block(res, i, T)
        fig.canvas.draw()
        box = fig._suptitle.get_window_extent(fig.canvas.get_renderer())
        assert box.x0 >= 0 and box.x1 <= fig.bbox.width and box.y1 <= fig.bbox.height, (box, fig.bbox)
        assert "reference net" in fig._suptitle.get_text()
        plt.close(fig)


def test_pick_labels_cover_no_marker_and_no_other_label(run_copy):
    import matplotlib.pyplot as plt

    front = json.loads((run_copy / "front.json").read_text())["members"]
    # every front member picked: the most labels the figure can have
    (run_copy / "picks.json").write_text(json.dumps({"picks": [{"rule": "knee", "arch_ids": [m["arch_id"]]}
                                                               for m in front]}))
    res = RunResults(run_copy)
    fig = fig_front(res, T)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ids = {m["arch_id"][:6] for m in front}
    ring = (110 ** 0.5 / 2) * fig.dpi / 72  # a pick ring's radius (s=110 points^2), in pixels
    for ax, key in zip(fig.axes[:2], ("params", "flops")):
        labels = [t for t in ax.texts if t.get_text() in ids]
        assert len(labels) == len(front)
        boxes = [Text.get_window_extent(t, renderer) for t in labels]  # the text, not its leader line
        points = ax.transData.transform([(r[key], 100 * r["val_acc"]) for r in res.records()])

        def touches(b, x, y):
            dx, dy = max(b.x0 - x, 0, x - b.x1), max(b.y0 - y, 0, y - b.y1)
            return dx * dx + dy * dy < ring * ring

        covered = [t.get_text() for t, b in zip(labels, boxes) if any(touches(b, x, y) for x, y in points)]
        assert not covered, f"{key} panel: labels drawn over markers: {covered}"
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                assert not a.overlaps(b), f"{key} panel: two pick labels overlap"
    plt.close(fig)


def _whole(ax) -> bool:
    lo, hi = ax.get_xlim()
    ticks = [v for v in ax.get_xticks() if lo <= v <= hi]
    return bool(ticks) and all(float(v).is_integer() for v in ticks)


@pytest.mark.parametrize("figure", ["hypervolume", "surrogate", "entropy"])
def test_generation_and_epoch_axes_have_whole_ticks(run_copy, figure):
    import matplotlib.pyplot as plt

    res = RunResults(run_copy)
    if figure == "entropy":
        fig = dict(alpha_figures(res, T))["block_entropy"]  # the tiny run's block stage: one epoch
    else:
        fig = {"hypervolume": fig_hypervolume, "surrogate": fig_surrogate}[figure](res, T)
    fig.canvas.draw()
    assert _whole(fig.axes[0]), fig.axes[0].get_xticks()
    plt.close(fig)
