"""The report of a run: ``report.md`` and ``report.html`` in the run directory.

One page says what the search was and what it found: the headline numbers, the figures, the
front as a table, the picks, proxy against full-training accuracy where models were trained
fully, the block library with its cells drawn (and any ``plots/block_*.png`` another tool left,
such as alpha heat-maps), the exports, and the configuration. The page is built once as a list
of blocks (heading, paragraph, table, image, code) and rendered twice - Markdown and static
HTML with inline CSS - so the two never disagree. Images are files under ``plots/`` referenced
by relative paths: the run directory is the self-contained unit to copy or publish. A tabular run
(genes looked up in a table) has no dataset, block library, full training or exports: the report
says so in one sentence each and shows the figures that apply.
"""

from __future__ import annotations

import html
import logging
import re
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .analysis.pick import pick_labels
from .core.uncertainty import NOISE_MARK, fill_standard_errors, noise_note
from .progress import say
from .results import RunResults
from .store.layout import (
    CARD_JSON,
    CONFIG,
    DATASET,
    EXPORTS,
    FRONT_HTML,
    MANIFEST,
    PLOTS,
    REPORT_HTML,
    REPORT_MD,
    SUMMARY,
    TABLE,
    block_member,
    cell_plot_stem,
)

# ("h", level, text) | ("p", text) | ("table", head, rows) | ("img", path, alt) | ("code", text)
Block = Tuple[Any, ...]


# ------------------------------------------------------------------------------ content


def _pct(v: Optional[float]) -> str:
    return "" if v is None else f"{100 * v:.2f}"


def _acc(r: Dict[str, Any], split: str) -> str:
    """An accuracy in % with its standard error when known: ``98.61 ± 0.62``."""
    v, se = r.get(f"{split}_acc"), r.get(f"{split}_acc_se")
    return _pct(v) if v is None or se is None else f"{100 * v:.2f} ± {100 * se:.2f}"


def _num(v: Optional[float]) -> str:
    return "" if v is None else f"{v:,.0f}"


def _summary(results: RunResults) -> List[Block]:
    store = results.store
    m = store.read_json(MANIFEST)
    s = store.read_json(SUMMARY, default={})
    cfg = results.config
    recs = results.records()
    front = results.front()
    e = cfg.engine
    stop = " or ".join(x for x in ((f"{e.generations} generations" if e.generations is not None else ""),
                                   (f"{e.evaluations} distinct networks" if e.evaluations is not None else "")) if x)
    engine = (f"engine `{e.name}` ({e.algorithm}, population {e.pop_size}, {stop}"
              + (", surrogate-assisted" if e.surrogate.enabled else "") + f"); objectives {', '.join(cfg.objectives)}")
    if s.get("proposed") is not None:
        engine += (f"; {s['distinct_evaluations']} distinct networks evaluated, {s['proposed']} proposed "
                   f"({s['infeasible']} infeasible), {s['duplicates_rejected']} repeats rejected")
    setup = (f"hybridnas {m.get('hybridnas')}, torch {m.get('packages', {}).get('torch')}, device {m.get('device')}, "
             f"seed {m.get('seed')}, git commit `{(m.get('git_commit') or 'unknown')[:12]}`, "
             f"started {m.get('created')}")
    if cfg.tabular:  # genes looked up in a table: no dataset, no block stage, nothing trained
        t = store.read_json(TABLE, default={})
        items = [
            f"table: `{t.get('path', cfg.table.path)}` ({t.get('rows', '?')} rows, sha256 "
            f"`{(t.get('sha256') or '?')[:12]}`); genes {', '.join(cfg.genes)}",
            setup,
            engine,
            f"models evaluated: {len(recs)} (each looked up in the table; nothing was trained); "
            f"on the Pareto front: {len(front)}",
        ]
        if s.get("total_s") is not None:
            items.append(f"wall time {s['total_s']:.0f} s")
    else:
        d = results.dataset if store.exists(DATASET) else {}
        items = [
            f"dataset: {d.get('name', '?')}, {d.get('in_chans', '?')}x{'x'.join(map(str, d.get('image_size', [])))} "
            f"images, {d.get('num_classes', '?')} classes, splits {d.get('sizes', {})}",
            setup,
            f"block strategy `{cfg.block.strategy.name}`; " + engine,
            f"models evaluated: {len(recs)} (proxy training of {cfg.evaluation.epochs} epochs each); "
            f"on the Pareto front: {len(front)}",
        ]
        if s.get("total_s") is not None:
            session = " of the last session (earlier sessions' work was not redone)" if s.get("resumed") else ""
            items.append(f"wall time{session} {s['total_s']:.0f} s (block stage {s.get('block_stage_s', 0):.0f} s, "
                         f"network stage {s.get('network_stage_s', 0):.0f} s)")
    if front and all("val_acc" in r for r in front):  # a table need not have every column
        best = max(front, key=lambda r: r["val_acc"])
        span = ""
        if all("params" in r for r in front):
            p = [r["params"] for r in front]
            span = f"front spans {min(p):,} .. {max(p):,} parameters; "
        test = f", {_acc(best, 'test')} % test" if best.get("test_acc") is not None else ""
        items.append(f"{span}most accurate: `{best['arch_id']}` with {_acc(best, 'val')} % validation{test} accuracy")
    return [("h", 2, "Summary"), ("list", items)]


def _figures(results: RunResults, images: Dict[str, str]) -> List[Block]:
    out: List[Block] = [("h", 2, "Figures")]
    captions = {
        "front": "Validation accuracy against parameters and FLOPs. Grey: every evaluated model; dashed: the "
                 "fronts after earlier generations (later is stronger); solid: the final front of each projection; "
                 "dots: the three-objective Pareto front, with bars of ±1 standard error (from the validation "
                 "split's size); hollow dots: front members not significantly more accurate than a member that "
                 "costs no more; rings: picked models.",
        "front3d": "The three objectives together (costs as log10).",
        "parallel": "Parallel coordinates of the front members; picked models in blue.",
        "hypervolume": "Hypervolume of the front after each generation (normalised objectives, see "
                       "`hv_reference.json`), with the number of models evaluated so far.",
        "surrogate": "Surrogate-assisted search: Kendall's tau between the predicted and the measured error of "
                     "the networks each generation chose (solid), and the chosen predictor's k-fold tau on the "
                     "networks evaluated before (dashed); `surrogate/iter_NNN.json` has the numbers.",
    }
    for name, caption in captions.items():
        if name in images:
            out += [("img", images[name], f"{name} figure"), ("p", caption)]
    return out


def _front_table(results: RunResults) -> List[Block]:
    front = results.front()
    picked = pick_labels(results.picks())
    trained = results.trained()
    lat = bool(front) and all(r.get("latency") is not None for r in front)
    se = any(r.get("val_acc_se") is not None for r in front)
    pm = " ± se" if se else ""
    head = ["#", "arch id", "genome", f"val acc %{pm}", f"test acc %{pm}", "params", "MACs", "FLOPs"]
    head += ["latency ms"] if lat else []
    tab = results.config.tabular  # nothing is trained fully: no column for it
    head += ([] if tab else ["full-training test acc %"]) + (["within noise of"] if se else []) + ["picked by"]
    rows = []
    for k, r in enumerate(front, 1):
        row = [str(k), f"`{r['arch_id']}`", f"`{r['genome']}`", _acc(r, "val"), _acc(r, "test"),
               _num(r.get("params")), _num(r.get("macs")), _num(r.get("flops"))]
        row += [f"{r['latency']:.3g}"] if lat else []
        row += [] if tab else [_pct(trained[r["arch_id"]]["test_acc"]) if r["arch_id"] in trained else ""]
        row += [f"`{r[NOISE_MARK]}`" if r.get(NOISE_MARK) else ""] if se else []
        row += [", ".join(picked.get(r["arch_id"], []))]
        rows.append(row)
    note = noise_note(front)
    return [
        ("h", 2, "The Pareto front"),
        ("p", f"{len(front)} {'model' if len(front) == 1 else 'models'} no other model beats in all of "
              f"{', '.join(results.config.objectives)} at once, "
              + ("sorted by parameters. Values are the table's columns, looked up (nothing was trained). "
                 if tab else
                 "sorted by parameters. Accuracy after the proxy training of the search; FLOPs = 2 x MACs "
                 "(torch.utils.flop_counter convention: convolutions and linear layers). ")
              + "Also in `front.csv`."),
        *([("p", f"How precise the accuracies are: {note}. Two accuracies differ significantly (5 % two-sided "
                 "test) when they are more than 1.96 times the root of their squared standard errors apart; "
                 "a marked model's extra cost buys no accuracy this validation split can show.")] if note else []),
        ("table", head, rows),
    ]


def _picks(results: RunResults) -> List[Block]:
    picks = results.picks()
    out: List[Block] = [("h", 2, "Picks")]
    if not picks:
        return out + [("p", "No picks yet: `hybridnas pick RUN` records them here.")]
    rows = []
    for p in picks:
        crit = dict(p.get("limits", {}))
        crit.update({f"prefer {k}": v for k, v in p.get("prefer", {}).items()})
        crit.update({f"weight {k}": v for k, v in p.get("weights", {}).items()})
        rows.append([p.get("time", ""), p.get("rule", ""), ", ".join(f"{k}={v:g}" for k, v in crit.items()),
                     ", ".join(f"`{a}`" for a in p.get("arch_ids", []))])
    return out + [("table", ["time", "rule", "limits and preferences", "models"], rows)]


def _proxy(results: RunResults, images: Dict[str, str]) -> List[Block]:
    from .analysis.proxy import proxy_agreement

    trained = results.trained()
    out: List[Block] = [("h", 2, "Proxy against full training")]
    if results.config.tabular:
        return out + [("p", "None: a tabular run trains nothing; its accuracies are the table's.")]
    if not trained:
        return out + [("p", "No model was trained fully yet: `hybridnas train RUN --id ID` trains one (the paper's "
                            "final stage) and adds it here next to its proxy accuracy.")]
    rows = []
    sizes = results.split_sizes()

    def acc(v, split, n=sizes):  # ± its standard error, from the split's size
        return _acc(fill_standard_errors({f"{split}_acc": v}, n), split)

    for r in sorted(trained.values(), key=lambda r: r["params"]):
        st = r.get("settings", {})
        full = results.trained_split_sizes(r)  # the full training's splits, not the search's caps
        rows.append([f"`{r['arch_id']}`", _num(r["params"]), acc(r.get("proxy_val_acc"), "val"),
                     acc(r.get("proxy_test_acc"), "test"), acc(r["val_acc"], "val", full),
                     acc(r["test_acc"], "test", full),
                     str(r["epochs"]),
                     f"cutout {st.get('cutout')}, drop-path {st.get('drop_path')}, aux {st.get('aux_weight')}",
                     f"{r.get('seconds', 0):.0f}"])
    pm = " ± se" if sizes else ""
    out.append(("table", ["arch id", "params", f"proxy val %{pm}", f"proxy test %{pm}", f"full val %{pm}",
                          f"full test %{pm}", "epochs", "regularisation", "seconds"], rows))
    a = proxy_agreement(trained.values())
    if "note" in a:
        out.append(("p", f"Rank agreement: {a['note']}."))
    else:
        fmt = lambda v: "undefined (constant)" if v is None else f"{v:.2f}"  # noqa: E731
        out.append(("p", f"Over {a['n']} fully trained models, the proxy validation accuracy ranks them against "
                         f"full-training test accuracy with Kendall tau {fmt(a['kendall_tau_test'])} and Spearman rho "
                         f"{fmt(a['spearman_test'])} (against full-training validation accuracy: tau "
                         f"{fmt(a['kendall_tau_val'])}, rho {fmt(a['spearman_val'])}); 1 means the proxy ordered "
                         "them exactly as full training does."))
    if "proxy" in images:
        out.append(("img", images["proxy"], "proxy against full training"))
    return out


def _library(results: RunResults, images: Dict[str, str]) -> List[Block]:
    if results.config.tabular:
        return [("h", 2, "Block library"),
                ("p", "None: a tabular run has no block stage; its models are rows of the table.")]
    lib = results.library
    rows = []
    for i, e in enumerate(lib):
        opts = ", ".join(f"{k}={v}" for o in e.options for k, v in o.items())
        rows.append([str(i), e.strategy, opts, _num(e.cell_params), _num(e.net_params), _num(2 * e.net_macs),
                     f"`{e.genotype.normal}`", f"`{e.genotype.reduce}`"])
    out: List[Block] = [
        ("h", 2, "Block library"),
        ("p", f"{len(lib)} blocks found by the block stage. Costs at the reference width "
              f"{results.config.block.reference_width}: one normal cell, and the reference network (the supernet "
              "layout built from the block alone). Cells read as `op@input` per node, nodes separated by `|`; "
              "inputs 0 and 1 are the outputs of the two previous cells."),
        ("table", ["block", "strategy", "options", "cell params", "ref. net params", "ref. net FLOPs", "normal cell",
                   "reduction cell"], rows),
    ]
    for i in range(len(lib)):
        if cell_plot_stem(i) in images:
            out.append(("img", images[cell_plot_stem(i)], f"cells of block {i}"))
    extra = sorted(p for p in results.store.path(PLOTS).glob("block_*.png"))
    if extra:
        out.append(("p", "Further figures of the block stage:"))
        out += [("img", str(p.relative_to(results.root)), p.stem.replace("_", " ")) for p in extra]
    return out


def _block_health(results: RunResults) -> List[Block]:
    """Whether each library member's search learned (:mod:`hybridnas.block.health`), and what
    the collapse guard could not do; nothing for a tabular run."""
    if results.config.tabular:
        return []
    from .block.health import check_member, summary_line
    from .block.stage import alpha_history

    history = alpha_history(results.store)
    if not history:
        return []
    classes = int(results.dataset.get("num_classes", 0)) if results.store.exists(DATASET) else 0
    items, warned, guarded = [], False, False
    for member in sorted({r["member"] for r in history}):
        recs = [r for r in history if r["member"] == member]
        warnings = check_member(recs, results.config.block, classes) if classes else []
        notes = list(results.store.read_json(block_member(member), default={}).get("guard_notes", []))
        warned, guarded = warned or bool(warnings), guarded or bool(notes)
        items += [f"member {member}: warning: {w}" for w in warnings] + [f"member {member}: {n}" for n in notes]
        if not warnings:
            items.append(f"member {member}: {summary_line(recs, classes)}")
    intro = ("Checks of the block search (supernet accuracy against chance, how far the op probabilities moved from "
             "uniform) and of the collapse guard."
             + (" Some searches did not learn enough: their cells may mean little." if warned else "")
             + (" The collapse guard had to do more than swap ops on the same edge, or could not cap a cell."
                if guarded else ""))
    return [("h", 2, "Block-stage health"), ("p", intro), ("list", items)]


def _exports(results: RunResults) -> List[Block]:
    import json

    out: List[Block] = [("h", 2, "Exports")]
    if results.config.tabular:
        return out + [("p", "None: a tabular run has no networks to export.")]
    cards = sorted(results.store.path(EXPORTS).glob(f"*/{CARD_JSON}"))
    if not cards:
        return out + [("p", "No exports yet: `hybridnas export RUN --id ID`.")]
    rows = []
    for c in cards:
        try:
            card = json.loads(c.read_text())
        except ValueError:
            continue
        folder = c.parent.relative_to(results.root)
        onnx = card.get("onnx") or {}
        rows.append([f"`{card.get('arch_id')}`", ", ".join(card.get("files", [])),
                     str(onnx.get("opset", "")), _pct(card.get("test_acc")), card.get("accuracy_note", ""),
                     f"[card]({folder}/card.md)"])
    return out + [("table", ["arch id", "files", "ONNX opset", "test acc %", "accuracy", "model card"], rows)]


def _configuration(results: RunResults) -> List[Block]:
    m = results.store.read_json(MANIFEST)
    pk = ", ".join(f"{k} {v}" for k, v in m.get("packages", {}).items() if v)
    return [
        ("h", 2, "Configuration"),
        ("p", f"The resolved configuration (`config.yaml`); command `{m.get('command', '')}` on {m.get('host', '?')} "
              f"({m.get('platform', '?')}, Python {m.get('python', '?')}; {pk})."),
        ("code", results.store.path(CONFIG).read_text()),
    ]


def build(results: RunResults, images: Dict[str, str]) -> List[Block]:
    return (
        [("h", 1, f"hybridnas report: {results.root.name}"),
         ("p", f"Run `{results.root}`, report written {time.strftime('%Y-%m-%d %H:%M:%S')}.")]
        + _summary(results) + _figures(results, images) + _front_table(results) + _picks(results)
        + _proxy(results, images) + _library(results, images) + _block_health(results) + _exports(results)
        + _configuration(results)
    )


# ------------------------------------------------------------------------------ renderers


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: Sequence[Block]) -> str:
    out: List[str] = []
    for b in blocks:
        kind = b[0]
        if kind == "h":
            out += ["#" * b[1] + " " + b[2], ""]
        elif kind == "p":
            out += [b[1], ""]
        elif kind == "list":
            out += [f"- {item}" for item in b[1]] + [""]
        elif kind == "table":
            head, rows = b[1], b[2]
            out.append("| " + " | ".join(head) + " |")
            out.append("|" + "|".join("---" for _ in head) + "|")
            out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
            out.append("")
        elif kind == "img":
            out += [f"![{b[2]}]({b[1]})", ""]
        elif kind == "code":
            out += ["```yaml", b[1].rstrip("\n"), "```", ""]
    return "\n".join(out)


_INLINE = re.compile(r"`([^`]+)`|\[([^\]]+)\]\(([^)\s]+)\)")


def _inline_html(text: str) -> str:
    """Escape text, turning `code` and [text](href) into HTML."""
    out, pos = [], 0
    for m in _INLINE.finditer(text):
        out.append(html.escape(text[pos:m.start()]))
        if m.group(1) is not None:
            out.append(f"<code>{html.escape(m.group(1))}</code>")
        else:
            out.append(f'<a href="{html.escape(m.group(3), quote=True)}">{html.escape(m.group(2))}</a>')
        pos = m.end()
    out.append(html.escape(text[pos:]))
    return "".join(out)


CSS = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1180px; margin: 2em auto;
       padding: 0 1em; color: #1f2328; background: #ffffff; }
h1, h2 { border-bottom: 1px solid #d0d7de; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .5em 0 1.2em; font-size: 13px; display: block; overflow-x: auto; }
th, td { border: 1px solid #d0d7de; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td:nth-child(n+4) { font-variant-numeric: tabular-nums; }
td code { word-break: normal; overflow-wrap: normal; }  /* ids never split; genomes break at "-", cells at "|" */
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
pre { background: #f6f8fa; padding: .8em; overflow-x: auto; border-radius: 6px; }
img { max-width: 100%; height: auto; border: 1px solid #d0d7de; border-radius: 4px; margin: .3em 0; }
a { color: #0969da; }
@media (prefers-color-scheme: dark) {
  body { color: #e6edf3; background: #0d1117; }
  h1, h2, th, td, img { border-color: #30363d; }
  th, pre { background: #161b22; }
  a { color: #58a6ff; }
}
"""


def to_html(blocks: Sequence[Block], title: str) -> str:
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{html.escape(title)}</title>", f"<style>{CSS}</style>", "</head>", "<body>"]
    for b in blocks:
        kind = b[0]
        if kind == "h":
            out.append(f"<h{b[1]}>{_inline_html(b[2])}</h{b[1]}>")
        elif kind == "p":
            out.append(f"<p>{_inline_html(b[1])}</p>")
        elif kind == "list":
            out.append("<ul>" + "".join(f"<li>{_inline_html(i)}</li>" for i in b[1]) + "</ul>")
        elif kind == "table":
            head = "".join(f"<th>{_inline_html(h)}</th>" for h in b[1])
            rows = "".join("<tr>" + "".join(f"<td>{_inline_html(c)}</td>" for c in row) + "</tr>" for row in b[2])
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif kind == "img":
            src = html.escape(b[1], quote=True)
            out.append(f'<p><a href="{src}"><img src="{src}" alt="{html.escape(b[2], quote=True)}" '
                       'loading="lazy"></a></p>')
        elif kind == "code":
            out.append(f"<pre><code>{html.escape(b[1])}</code></pre>")
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


# ------------------------------------------------------------------------------ driver


def write_report(run, theme: str = "light") -> List[Path]:
    """Draw the figures and write ``report.md``, ``report.html`` and the interactive ``front.html``
    (when plotly is installed; else the report says what to install); returns their paths."""
    from .analysis.plots import plot_all

    results = run if isinstance(run, RunResults) else RunResults(run)
    images: Dict[str, str] = {}
    for p in plot_all(results, ("png",), theme):
        rel = p.relative_to(results.store.path(PLOTS))
        images[str(rel.with_suffix(""))] = str(p.relative_to(results.root))
    front, note = _front_page(results)
    blocks = build(results, images)
    at = next(i for i, b in enumerate(blocks) if b[:3] == ("h", 2, "Figures")) + 1
    blocks.insert(at, ("p", note))
    md = results.store.write_text(REPORT_MD, to_markdown(blocks))
    page = results.store.write_text(REPORT_HTML, to_html(blocks, f"hybridnas report: {results.root.name}"))
    return [md, page] + ([front] if front else [])


def _front_page(results: RunResults) -> Tuple[Optional[Path], str]:
    """Write ``front.html`` (the interactive front, :mod:`hybridnas.analysis.front_view`) and say
    in a sentence where it is, or why it is not there (plotly missing: the report goes on)."""
    from .errors import UserError

    try:
        from .analysis.front_view import write_front_page

        path = write_front_page(results)
    except UserError as exc:
        say(f"hybridnas report: {FRONT_HTML} not written: {exc}", logging.WARNING)
        return None, f"The interactive front page (`{FRONT_HTML}`) was not written: {exc}."
    return path, (f"[Open the interactive front]({FRONT_HTML}) (`{FRONT_HTML}`, one file that works offline): hover a "
                  "model for its numbers, filter by limits on parameters, FLOPs and accuracy to see what "
                  "`hybridnas pick` would choose, click a model for its cells and the commands that export or "
                  "train it.")
