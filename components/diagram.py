"""Draw a stack's architecture (components/architecture.py): Mermaid for a README or a pull-request
comment, SVG or PNG through Graphviz when it is installed.

One drawing for the three clouds: the API's routes inside the API, each workflow's tasks (the
functions only a workflow invokes) beside it, every other block on its own; arrows carry the verb
of the grant behind them, dotted for settings (dead letters, encryption) rather than grants.
"""

from __future__ import annotations

import re

from .architecture import Architecture, Arrow, Block

#: Mermaid node shapes per kind: (open, close).
SHAPES = {"route": ("[", "]"), "function": ("(", ")"), "queue": ("[[", "]]"), "dead-letters": ("[[", "]]"),
          "workflow": ("{{", "}}"), "table": ("[(", ")]"), "secret": ("[/", "/]"), "key": ("[\\", "/]")}
#: Graphviz node attributes per kind.
NODES = {"route": {"shape": "box", "style": "rounded,filled", "fillcolor": "#eef3fb"},
         "function": {"shape": "box", "style": "rounded,filled", "fillcolor": "#fdf3e1"},
         "queue": {"shape": "box3d", "style": "filled", "fillcolor": "#e9f6ec"},
         "dead-letters": {"shape": "box3d", "style": "filled", "fillcolor": "#fbe9e7"},
         "workflow": {"shape": "hexagon", "style": "filled", "fillcolor": "#f1ebfa"},
         "table": {"shape": "cylinder", "style": "filled", "fillcolor": "#e8f4fa"},
         "secret": {"shape": "note", "style": "filled", "fillcolor": "#fff8d6"},
         "key": {"shape": "component", "style": "filled", "fillcolor": "#f2f2f2"}}
SETTINGS = ("dead-letter", "encrypts")
INSTALL = ("SVG and PNG need Graphviz: apt-get install graphviz (the dot program) and "
           'pip install -e ".[diagram]" (the graphviz package)')


class DiagramError(RuntimeError):
    """What the picture needs is not installed (named in the message)."""


def node_id(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", key).strip("_")


def tasks(arch: Architecture) -> dict[str, list[str]]:
    """Workflow key -> the functions that only workflows call (its tasks)."""
    callers: dict[str, set[str]] = {}
    for arrow in arch.arrows:
        if arch.blocks[arrow.target].kind == "function":
            callers.setdefault(arrow.target, set()).add(arrow.source)
    grouped: dict[str, list[str]] = {}
    for function, sources in callers.items():
        if all(arch.blocks[s].kind == "workflow" for s in sources) and len(sources) == 1:
            grouped.setdefault(next(iter(sources)), []).append(function)
    return grouped


def _short(block: Block) -> str:
    """A route's label inside its API: the route and its authentication."""
    return f"{block.name} ({block.note})" if block.note else block.name


def _text(text: str) -> str:
    return text.replace('"', "#quot;")


def mermaid(arch: Architecture, title: str = "") -> str:
    """A Mermaid flowchart of the architecture (deterministic: the README holds one)."""
    lines = ["flowchart LR"] + ([f"  %% {title}"] if title else [])
    grouped = tasks(arch)
    task_keys = {t for ts in grouped.values() for t in ts}

    def node(block: Block, label: str | None = None) -> str:
        open_, close = SHAPES[block.kind]
        return f'{node_id(block.key)}{open_}"{_text(label or block.label)}"{close}'

    for api in arch.of_kind("api"):
        lines.append(f'  subgraph {node_id(api.key)}["{_text(api.label)}"]')
        for route in (b for b in arch.of_kind("route") if b.group == api.key):
            lines.append(f"    {node(route, _short(route))}")
        lines.append("  end")
    for block in arch.blocks.values():
        if block.kind in ("api", "route") or block.key in task_keys:
            continue
        lines.append(f"  {node(block)}")
        if block.key in grouped:
            lines.append(f'  subgraph {node_id(block.key)}_tasks["{_text(block.name)} tasks"]')
            lines += [f"    {node(arch.blocks[t])}" for t in sorted(grouped[block.key])]
            lines.append("  end")
    for arrow in arch.arrows:
        link = f"-. {arrow.verb} .->" if arrow.verb in SETTINGS else f"-->|{arrow.verb}|"
        lines.append(f"  {node_id(arrow.source)} {link} {node_id(arrow.target)}")
    return "\n".join(lines) + "\n"


def _graph(arch: Architecture, title: str):
    try:
        import graphviz
    except ImportError as err:
        raise DiagramError(INSTALL) from err
    graph = graphviz.Digraph("anycloud", graph_attr={
        "rankdir": "LR", "fontname": "Helvetica", "fontsize": "12", "label": title, "labelloc": "t", "nodesep": "0.25",
        "ranksep": "0.9", "pad": "0.3"}, node_attr={"fontname": "Helvetica", "fontsize": "11"},
        edge_attr={"fontname": "Helvetica", "fontsize": "10", "color": "#555555"})
    grouped = tasks(arch)
    task_keys = {t for ts in grouped.values() for t in ts}

    def add(g, block: Block, label: str | None = None) -> None:
        text = label or block.label.replace(" · ", "\n", 1)
        g.node(node_id(block.key), text, **NODES[block.kind])

    for api in arch.of_kind("api"):
        with graph.subgraph(name=f"cluster_{node_id(api.key)}") as cluster:
            cluster.attr(label=api.label, style="rounded,filled", fillcolor="#f7f9fd", color="#9fb3d9")
            for route in (b for b in arch.of_kind("route") if b.group == api.key):
                add(cluster, route, _short(route))
    for block in arch.blocks.values():
        if block.kind in ("api", "route") or block.key in task_keys:
            continue
        if block.key in grouped:
            with graph.subgraph(name=f"cluster_{node_id(block.key)}") as cluster:
                cluster.attr(label=f"{block.name} and its tasks", style="rounded", color="#b9a6dc")
                add(cluster, block)
                for task in sorted(grouped[block.key]):
                    add(cluster, arch.blocks[task])
        else:
            add(graph, block)
    for arrow in arch.arrows:
        graph.edge(node_id(arrow.source), node_id(arrow.target), label=arrow.verb, **_edge(arrow))
    return graph


def _edge(arrow: Arrow) -> dict[str, str]:
    return {"style": "dashed", "color": "#999999", "fontcolor": "#777777"} if arrow.verb in SETTINGS else {}


def dot_source(arch: Architecture, title: str = "") -> str:
    return _graph(arch, title).source


def render(arch: Architecture, fmt: str, title: str = "") -> bytes:
    """SVG or PNG bytes through Graphviz's dot."""
    graph = _graph(arch, title)
    import graphviz

    try:
        return graph.pipe(format=fmt)
    except graphviz.ExecutableNotFound as err:
        raise DiagramError(INSTALL) from err


# ----------------------------------------------------------- generated Markdown

#: A generated block in a Markdown file: the command that prints it, then its fenced block (a Mermaid
#: diagram, or the text of a cost table).
GENERATED = re.compile(r"(<!-- generated by: anycloud check (?P<args>[^>]+?) -->\n```(?P<lang>\w+)\n).*?```", re.S)


def regenerate(text: str, directory: str | None = None) -> str:
    """The Markdown with every generated block printed again by the command its marker names."""
    import contextlib
    import io
    import shlex

    from .check import main as check

    def draw(match: re.Match) -> str:
        out = io.StringIO()
        args = shlex.split(match["args"]) + (["--dir", directory] if directory else [])
        with contextlib.redirect_stdout(out):
            if check(["check", *args]) != 0:
                raise DiagramError(f"anycloud check {match['args']}: failed; run it to see why")
        return f"{match[1]}{out.getvalue()}```"

    return GENERATED.sub(draw, text)


def main(argv: list[str] | None = None) -> int:
    """`python -m components.diagram [--check] FILE...`: redraw the generated diagrams (and cost tables) in
    Markdown files, or, with --check, exit 1 naming each file whose blocks no longer match the render."""
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(prog="python -m components.diagram", description=main.__doc__)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a diagram drifted")
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    drifted = []
    for path in args.files:
        text = path.read_text()
        fresh = regenerate(text)
        if fresh != text:
            drifted.append(path)
            if not args.check:
                path.write_text(fresh)
    for path in drifted:
        print(f"{path}: {'drifted from the render' if args.check else 'redrawn'}")
    return 1 if drifted and args.check else 0


if __name__ == "__main__":
    raise SystemExit(main())
