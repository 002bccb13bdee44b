"""The package's layers, as data, and the import graph they are checked against.

Each module of hybridnas belongs to one layer. A module imports only from its own layer or a lower one
(at module level, inside a function or under ``if TYPE_CHECKING`` alike), and no two modules import each
other, directly or round a longer cycle. Only third-party packages (torch, matplotlib, ray, optional
extras) are imported inside functions for cost; an internal import inside a function is an edge like any
other. Plug-ins that a :class:`~hybridnas.registry.Registry` loads by name are not import edges: the
registry's package sits in the same layer as its plug-ins, with one exception by design,
:data:`~hybridnas.registry.CONFIG_HOOKS` - the config's checks that need a plug-in's knowledge (a known
strategy, engine, evaluator, predictor, op or table) are written in the plug-in's own package and
registered there, and the config (layer 1) calls them through the registry, which names their modules so
that a config loaded before anything else is still checked in full.

:data:`LAYERS` is the one copy of the map: ``tests/unit/test_layers.py`` fails on any edge that breaks it,
and the docs site draws its layer page from it (``docs/gen_pages.py``). Both read the code with
:func:`check`, a scan of the source with :mod:`ast`, so nothing is imported to draw or check the graph.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Sequence, Set, Tuple

PACKAGE = "hybridnas"


class Layer(NamedTuple):
    """One layer: its rank (low to high), a short name, and the modules it holds.

    A pattern ``a.b`` names the module ``a.b`` alone; ``a.b.*`` names ``a.b`` and every module beneath it.
    """

    rank: int
    name: str
    modules: Tuple[str, ...]


LAYERS: Tuple[Layer, ...] = (
    Layer(0, "core", ("hybridnas.errors", "hybridnas.registry", "hybridnas.device", "hybridnas.progress",
                      "hybridnas.layers", "hybridnas.core.*")),
    Layer(1, "config", ("hybridnas.config.*",)),
    Layer(2, "space, data, store", ("hybridnas.space.*", "hybridnas.data.*", "hybridnas.store.*",
                                    "hybridnas.results.*")),
    Layer(3, "training", ("hybridnas.training.*",)),
    Layer(4, "block, evaluate", ("hybridnas.block.*", "hybridnas.evaluate.*")),
    Layer(5, "network", ("hybridnas.network.*",)),
    # the run a callback is handed (hybridnas.run.Run) acts through the products, and the trackers of
    # integrations are callbacks: both sit here, below the pipeline that calls them
    Layer(6, "products", ("hybridnas.analysis.*", "hybridnas.estimate.*", "hybridnas.report.*",
                          "hybridnas.export.*", "hybridnas.retrain.*", "hybridnas.integrations.*",
                          "hybridnas.reference.*", "hybridnas.run.*", "hybridnas.callbacks.*")),
    # the package itself: ``hybridnas.search``, ``hybridnas.load`` and ``hybridnas.Run`` are its API
    Layer(7, "orchestration", ("hybridnas", "hybridnas.pipeline.*", "hybridnas.api.*")),
    Layer(8, "cli", ("hybridnas.cli.*", "hybridnas.__main__")),
)


def _matches(pattern: str, module: str) -> int:
    """How specific ``pattern``'s match of ``module`` is (its length), or -1 when it does not match."""
    if pattern.endswith(".*"):
        base = pattern[:-2]
        return len(base) if module == base or module.startswith(base + ".") else -1
    return len(pattern) if module == pattern else -1


def layer_of(module: str, layers: Sequence[Layer] = LAYERS) -> Optional[Layer]:
    """The layer ``module`` belongs to (the most specific pattern wins), or None when no layer names it."""
    best: Tuple[int, Optional[Layer]] = (-1, None)
    for layer in layers:
        for pattern in layer.modules:
            score = _matches(pattern, module)
            if score > best[0]:
                best = (score, layer)
    return best[1]


def group_of(module: str) -> str:
    """The top-level group a module is drawn in: ``hybridnas.network.engines.deap_engine`` -> ``network``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


@dataclass(frozen=True)
class Edge:
    """One import statement from one package module to another: ``source`` imports ``target``."""

    source: str
    target: str
    file: str  # relative to the folder that holds the package
    line: int
    lazy: bool  # inside a function (or a method)

    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class Report:
    """What :func:`check` found: every module, every edge, and what breaks the rules."""

    root: Path
    modules: Dict[str, Path]
    edges: List[Edge]
    unassigned: List[str]
    upward: List[Edge]
    unresolved: List[Edge]  # imports of a package module that does not exist (target is the dotted name)
    cycles: List[List[Edge]]
    layers: Sequence[Layer]

    def problems(self) -> List[str]:
        """One line per violation, each naming the file:line of the import and the edge."""
        out = [f"{self.modules[m].relative_to(self.root).as_posix()}: module {m} is in no layer of "
               f"{PACKAGE}.layers.LAYERS" for m in self.unassigned]
        for e in self.upward:
            src, dst = layer_of(e.source, self.layers), layer_of(e.target, self.layers)
            out.append(f"{e.where()}: {e.source} (layer {src.rank} {src.name}) imports {e.target} "
                       f"(layer {dst.rank} {dst.name}), a higher layer{' [inside a function]' * e.lazy}")
        out += [f"{e.where()}: {e.source} imports {e.target}, which is no module of the package"
                for e in self.unresolved]
        for cycle in self.cycles:
            path = " -> ".join([e.source for e in cycle] + [cycle[0].source])
            steps = "; ".join(f"{e.where()} {e.source} -> {e.target}" for e in cycle)
            out.append(f"import cycle {path} ({steps})")
        return out


def find_modules(root: Path, package: str = PACKAGE) -> Dict[str, Path]:
    """Every module of ``package`` under ``root`` (the folder holding the package): dotted name -> file."""
    base = root / package
    out = {}
    for path in sorted(base.rglob("*.py")):
        rel = path.relative_to(root).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        if all(p.isidentifier() for p in parts):
            out[".".join(parts)] = path
    return out


def _resolve_relative(module: str, is_package: bool, level: int, name: Optional[str]) -> str:
    parts = module.split(".") if is_package else module.split(".")[:-1]
    if level > 1:
        parts = parts[: len(parts) - (level - 1)]
    return ".".join(parts + ([name] if name else []))


def module_edges(module: str, path: Path, root: Path, modules: Dict[str, Path],
                 package: str = PACKAGE) -> Tuple[List[Edge], List[Edge]]:
    """The import statements in one module that name the package: (edges to modules, unresolved ones).

    Every ``import`` and ``from ... import`` counts, wherever it stands (module level, function, class,
    ``if TYPE_CHECKING``, ``try``); relative imports are resolved. ``from a import b`` is an edge to
    ``a.b`` when that is a module, else to ``a``.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    file = path.relative_to(root).as_posix()
    edges: List[Edge] = []
    unresolved: List[Edge] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            targets: List[str] = []
            if isinstance(child, ast.Import):
                targets = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = (_resolve_relative(module, is_package, child.level, child.module) if child.level
                        else child.module or "")
                for alias in child.names:
                    sub = f"{base}.{alias.name}"
                    targets.append(sub if sub in modules else base)
            for target in dict.fromkeys(targets):
                if target != package and not target.startswith(package + "."):
                    continue
                edge = Edge(module, target, file, child.lineno, lazy)
                if target not in modules:
                    unresolved.append(edge)
                elif target != module:
                    edges.append(edge)
            visit(child, inner)

    visit(tree, False)
    return edges, unresolved


def _groups(graph: Dict[str, Dict[str, Edge]]) -> List[List[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    groups: List[List[str]] = []

    def strongconnect(v: str) -> None:  # recursion depth is bounded by the module count (a few hundred)
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return sorted(groups)


def _shortest_path(graph: Dict[str, Dict[str, Edge]], members: Set[str], start: str, goal: str) -> List[str]:
    """A shortest path start -> goal inside ``members`` (breadth-first; ties broken by name)."""
    parent: Dict[str, Optional[str]] = {start: None}
    frontier = [start]
    while goal not in parent:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v]):
                if w in members and w not in parent:
                    parent[w] = v
                    nxt.append(w)
        frontier = nxt
    path = [goal]
    while parent[path[-1]] is not None:
        path.append(parent[path[-1]])
    return path[::-1]


def find_cycles(edges: Sequence[Edge]) -> List[List[Edge]]:
    """The import cycles, as the edges that close them: for every edge that lies on a cycle, a shortest cycle
    through it, so each edge that has to go shows in at least one; shortest cycles first."""
    graph: Dict[str, Dict[str, Edge]] = {}
    for e in edges:
        graph.setdefault(e.source, {}).setdefault(e.target, e)
        graph.setdefault(e.target, {})
    found: Dict[Tuple[str, ...], List[Edge]] = {}
    for group in _groups(graph):
        members = set(group)
        for a in group:
            for b in sorted(graph[a]):
                if b not in members:
                    continue
                path = [a] + _shortest_path(graph, members, b, a)[:-1]  # a -> b -> ... -> back to a
                turn = path.index(min(path))
                key = tuple(path[turn:] + path[:turn])  # one cycle, whichever edge found it
                found.setdefault(key, [graph[x][y] for x, y in zip(key, key[1:] + key[:1])])
    return [found[k] for k in sorted(found, key=lambda k: (len(k), k))]


def check(root: Path, package: str = PACKAGE, layers: Sequence[Layer] = LAYERS) -> Report:
    """Scan every module of ``package`` under ``root`` and hold its imports against ``layers``."""
    modules = find_modules(root, package)
    edges: List[Edge] = []
    unresolved: List[Edge] = []
    for name, path in modules.items():
        found, missing = module_edges(name, path, root, modules, package)
        edges += found
        unresolved += missing
    unassigned = [m for m in modules if layer_of(m, layers) is None]
    upward = [e for e in edges
              if None not in (layer_of(e.source, layers), layer_of(e.target, layers))
              and layer_of(e.target, layers).rank > layer_of(e.source, layers).rank]
    # Every cycle between layers holds an upward edge, reported above; the cycles left once those are gone
    # lie within one layer. No upward edge and no cycle among the rest means no cycle at all.
    level = [e for e in edges if e not in set(upward)]
    return Report(root, modules, edges, unassigned, upward, unresolved, find_cycles(level), layers)


def package_root() -> Path:
    """The folder that holds this package (the repository root in a checkout)."""
    return Path(__file__).resolve().parent.parent


def _groups_by_layer(report: Report) -> Dict[int, Dict[str, int]]:
    """layer rank -> top-level group -> how many of its modules are in that layer."""
    out: Dict[int, Dict[str, int]] = {layer.rank: {} for layer in report.layers}
    for module in report.modules:
        layer = layer_of(module, report.layers)
        if layer is not None:
            counts = out[layer.rank]
            counts[group_of(module)] = counts.get(group_of(module), 0) + 1
    return out


def markdown(report: Report) -> str:
    """The docs page of the layers: the map, the import graph between top-level groups as the code has it,
    and what breaks the rules (``reference/layers.md``, written by ``docs/gen_pages.py`` at each build)."""
    by_layer = _groups_by_layer(report)
    names = {layer.rank: layer.name for layer in report.layers}
    width = max(len(f"{r} {n}") for r, n in names.items())
    diagram = [f"{f'{r} {names[r]}':<{width}}  {'  '.join(sorted(by_layer[r]))}"
               for r in sorted(by_layer, reverse=True)]
    # group -> group -> import statements, between different groups
    graph: Dict[str, Dict[str, int]] = {}
    for e in report.edges:
        a, b = group_of(e.source), group_of(e.target)
        if a != b:
            graph.setdefault(a, {})
            graph[a][b] = graph[a].get(b, 0) + 1
    rank_of_group = {g: r for r, groups in by_layer.items() for g in groups}
    lines = [
        "# Layers",
        "",
        "hybridnas is built in layers. A module imports only from its own layer or a lower one - at module",
        "level, inside a function or under `if TYPE_CHECKING` alike - and no modules import each other round a",
        "cycle. The map below is `hybridnas.layers.LAYERS`; `tests/unit/test_layers.py` fails on any import",
        "that breaks it (run `python tests/unit/test_layers.py` to list them all). This page is generated from",
        "the same map and a scan of the source at each build of the site, so it shows the code as it is.",
        "",
        "```text",
        "layer (high to low)  top-level groups of hybridnas",
        *diagram,
        "```",
        "",
        "## The map",
        "",
        "| Layer | Modules | Imports from (layers; **up**: against the rules) |",
        "|---|---|---|",
    ]

    def up(text: str, higher: bool) -> str:
        return f"**{text}** up" if higher else text

    for layer in sorted(report.layers, key=lambda x: -x.rank):
        mods = ", ".join(f"`{p}`" for p in layer.modules)
        used = sorted({rank_of_group[b] for g in by_layer[layer.rank] for b in graph.get(g, {})
                       if b in rank_of_group}, reverse=True)
        cell = "; ".join(up(f"{r} {names[r]}", r > layer.rank) for r in used) or "(nothing of hybridnas)"
        lines.append(f"| {layer.rank} {layer.name} | {mods} | {cell} |")
    lines += [
        "",
        "## The import graph between groups",
        "",
        "Each top-level group of the package (a sub-package or a module of its own), the groups it imports",
        "from and how many import statements do (function-level ones included).",
        "",
        "| Group | Layer | Modules | Imports from |",
        "|---|---|---|---|",
    ]
    for g in sorted(rank_of_group, key=lambda g: (-rank_of_group[g], g)):
        targets = sorted(graph.get(g, {}).items(), key=lambda kv: (-rank_of_group.get(kv[0], -1), kv[0]))
        cell = ", ".join(up(f"`{b}` ({n})", rank_of_group.get(b, -1) > rank_of_group[g]) for b, n in targets) or "-"
        lines.append(f"| `{g}` | {rank_of_group[g]} {names[rank_of_group[g]]} | {by_layer[rank_of_group[g]][g]} | "
                     f"{cell} |")
    problems = report.problems()
    lines += ["", "## What breaks the rules", ""]
    if problems:
        lines += [f"{len(problems)} imports break the layer map:", ""]
        lines += [f"- `{p}`" for p in problems]
    else:
        lines.append(f"Nothing: {len(report.modules)} modules, {len(report.edges)} imports between them, every "
                     "module in a layer, no import up a layer, no cycle.")
    return "\n".join(lines) + "\n"
