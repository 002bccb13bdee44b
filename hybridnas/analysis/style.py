"""The one style of every figure hybridnas draws: themes, the shared matplotlib settings, axis helpers and
the atomic save into a run's ``plots/`` folder.

Themes: every figure is drawn on its own solid background, so a figure reads the same whether
the page around it is light or dark; ``theme="dark"`` draws light-on-dark for dark pages and
slides. Colours are Okabe-Ito (colour-blind safe), one set per theme, chosen for contrast on
that theme's background. Axes say what they show and in which unit.

matplotlib loads when a figure is drawn (:func:`pyplot`), so importing this module stays quick.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, List, Sequence

from ..errors import UserError
from ..store.layout import plot_file

if TYPE_CHECKING:
    from ..results import RunResults

FORMATS = ("png", "svg", "pdf")
FLOPS_LABEL = "FLOPs per image (2 × MACs, log scale)"
PARAMS_LABEL = "parameters (count, log scale)"
ACC_LABEL = "validation accuracy (%)"


@dataclass(frozen=True)
class Theme:
    name: str
    bg: str  # figure and axes background
    fg: str  # text, ticks, spines
    grid: str
    muted: str  # all evaluated models
    front: str  # the front
    pick: str  # picked models
    accent: str  # a second series (e.g. test accuracy, full training)
    cmap: str  # colour map for a continuous value (accuracy)


THEMES = {
    "light": Theme("light", "#ffffff", "#1f2328", "#d0d7de", "#9aa3ad", "#d55e00", "#0072b2", "#009e73", "viridis"),
    "dark": Theme("dark", "#0d1117", "#e6edf3", "#30363d", "#6e7681", "#ff9f4a", "#56b4e9", "#3fd0a8", "plasma"),
}


def theme_of(name: str) -> Theme:
    if name not in THEMES:
        raise UserError(f"unknown plot theme '{name}'; use one of: {', '.join(THEMES)}")
    return THEMES[name]


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (files only, no window)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def rc_params(t: Theme) -> Dict[str, object]:
    """The shared style: every figure is drawn inside ``plt.rc_context(rc_params(theme))``."""
    return {
        "figure.facecolor": t.bg, "axes.facecolor": t.bg, "savefig.facecolor": t.bg,
        "text.color": t.fg, "axes.labelcolor": t.fg, "axes.edgecolor": t.fg, "axes.titlecolor": t.fg,
        "xtick.color": t.fg, "ytick.color": t.fg, "grid.color": t.grid, "grid.alpha": 1.0, "grid.linewidth": 0.6,
        "legend.facecolor": t.bg, "legend.edgecolor": t.grid, "legend.framealpha": 0.9, "legend.fontsize": 8,
        "font.size": 9, "axes.titlesize": 10, "figure.titlesize": 11, "svg.fonttype": "none",
        "axes.spines.top": False, "axes.spines.right": False,
    }


def save(fig, results: RunResults, stem: str, formats: Sequence[str]) -> List:
    """Write ``plots/<stem>.<fmt>`` atomically through the run store."""
    plt = pyplot()
    out = []
    for fmt in formats:
        if fmt not in FORMATS:
            raise UserError(f"unknown plot format '{fmt}'; use {', '.join(FORMATS)}")
        buf = io.BytesIO()
        meta = {"Date": None} if fmt == "svg" else None  # byte-stable SVGs for the same run
        fig.savefig(buf, format=fmt, dpi=130, metadata=meta)
        out.append(results.store.write_bytes(plot_file(stem, fmt), buf.getvalue()))
    plt.close(fig)
    return out


def si(v: float, _pos=None) -> str:
    """Tick label of a count: 600, 1.2k, 35k, 1.3M."""
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:.3g}{unit}"
    return f"{v:.3g}"


def whole_ticks(axis, values: Sequence[float] = ()) -> None:
    """Ticks at whole numbers only (generations, epochs), never 1.5: at each of ``values`` when
    there are few, else where matplotlib puts whole numbers. A single value gets room either side."""
    from matplotlib.ticker import MaxNLocator

    vals = sorted({int(v) for v in values})
    if 0 < len(vals) <= 20:
        axis.set_ticks(vals)
    else:
        axis.set_major_locator(MaxNLocator(integer=True))
    if len(vals) == 1 and axis is axis.axes.xaxis:
        axis.axes.set_xlim(vals[0] - 1, vals[0] + 1)


def log_count_axis(axis) -> None:
    """Log-scale axis of counts with ticks at 1, 2, 5 x 10^k labelled 600, 1k, 20k..."""
    from matplotlib import ticker

    axis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(ticker.FuncFormatter(si))
    axis.set_minor_formatter(ticker.NullFormatter())
