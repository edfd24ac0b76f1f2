"""Every declared handler exists before anything is registered, or the deploy succeeds and the
first cold start fails.

Resolved by reading the source, not importing it: a handler module may import what only its
function's own runtime has (and importing runs a team's code at deploy time). `module` must be
a file or package under the functions root, and `function` a name its top level binds to
something callable (a def, a class, a lambda, an import, or the result of a call, which may be
a decorator's); a name bound to a literal is refused.
"""

from __future__ import annotations

import ast
import difflib
from functools import cache
from pathlib import Path

from .spec import ServiceSpec, SpecError

_NOT_CALLABLE = (ast.Constant, ast.JoinedStr, ast.List, ast.Tuple, ast.Dict, ast.Set, ast.ListComp, ast.DictComp,
                 ast.SetComp, ast.GeneratorExp, ast.BinOp)


def module_file(module: str, root: Path) -> Path | None:
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@cache
def _bindings(path: Path, mtime: float) -> dict[str, bool]:
    """Top-level name -> whether what it is bound to may be callable (mtime keys the cache)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: dict[str, bool] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names[node.name] = True
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names[(alias.asname or alias.name).split(".")[0]] = True
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    names[target.id] = not isinstance(node.value, _NOT_CALLABLE)
    return names


def check_handlers(spec: ServiceSpec, root: Path | None = None) -> None:
    """SpecError naming the first function whose handler cannot run; `root` is the functions
    root (default: the project's functions/)."""
    if root is None:  # packaging imports the Pulumi SDK, which `anycloud dev` runs without
        from .packaging import FUNCTIONS_DIR as root
    for function in spec.functions:
        module, _, name = function.handler.partition(":")
        where = f"functions.{function.name}.handler: {function.handler!r}"
        path = module_file(module, root)
        if path is None:
            modules = sorted(".".join(p.relative_to(root).with_suffix("").parts) for p in root.rglob("*.py")
                             if p.name != "__init__.py" and "runtime" not in p.relative_to(root).parts)
            close = difflib.get_close_matches(module, modules, n=1)
            hint = f"did you mean {close[0]}:{name}?" if close else f"allowed: a module under {root.name}/"
            raise SpecError(f"{where}: no module {module} under {root.name}/; {hint}")
        try:
            names = _bindings(path, path.stat().st_mtime)
        except SyntaxError as err:
            raise SpecError(f"{where}: {path.relative_to(root.parent)} line {err.lineno}: {err.msg}; allowed: "
                            "valid Python") from None
        if name not in names:
            close = difflib.get_close_matches(name, sorted(names), n=1)
            hint = f"did you mean {module}:{close[0]}?" if close else "allowed: a function defined in it"
            raise SpecError(f"{where}: {path.relative_to(root.parent)} defines no {name}; {hint}")
        if not names[name]:
            raise SpecError(f"{where}: {name} in {path.relative_to(root.parent)} is not callable; allowed: a function")
