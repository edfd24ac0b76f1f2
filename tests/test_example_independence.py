"""The framework's tests do not depend on the example (app.py, functions/orders/): a team that
replaces the example keeps them green.

Statically: no test module outside tests/example imports app or an orders module, names an
orders handler or the example's service, or reads functions/orders. For real: in a copy of the
project whose app.py declares another service, with functions/orders/ replaced by that
service's package and the stack files' function overrides dropped, a slice of the framework's
suite (the check CLI tests and the AWS render tests) passes.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from components.handlers import check_handlers
from components.spec import PATTERN_HELP

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
EXAMPLE = TESTS / "example"
#: A string naming the example's code: an orders handler, the example's service, functions/orders.
EXAMPLE_REFERENCE = re.compile(r"(^|[^\w.])orders\.\w+:\w+|(^|[^\w.])app:SERVICE\b|functions/orders\b")
SLICE = ["tests/test_check_cli.py", "tests/test_aws_render.py"]

#: The team's service: one route on one function over one table, nothing of the example's.
TEAM_APP = '''"""A team's service in place of the example."""

from components.spec import ApiSpec, FunctionSpec, Key, RouteSpec, ServiceSpec, TableSpec

links = TableSpec(name="links", partition_key=Key(name="code"))

SERVICE = ServiceSpec(
    name="shortener",
    tables=(links,),
    functions=(FunctionSpec(name="resolve", handler="shortener.api:resolve", uses=(links.read(),)),),
    api=ApiSpec(routes=(RouteSpec(method="GET", path="/links/{code}", function="resolve", public=True),)),
)
'''
TEAM_HANDLER = '''"""GET /links/{code}: where a short link points."""

from runtime.contracts import Context, HttpError, Request, Response


def resolve(request: Request, ctx: Context) -> Response:
    item = ctx.tables["links"].get({"code": request.path_params["code"]})
    if item is None:
        raise HttpError(404, "NotFound", "no such link")
    return Response(302, None, {"location": item["url"]})
'''


def framework_modules() -> list[Path]:
    """Every test module but the example's, and this one (it names the example to replace it in a copy)."""
    return sorted(p for p in TESTS.rglob("*.py")
                  if EXAMPLE not in p.parents and "__pycache__" not in p.parts and p != Path(__file__).resolve())


def example_uses(path: Path) -> list[str]:
    """How the module at `path` reaches the example, one line each. Docstrings, and the framework's
    own help text quoted by its tests (a sample handler in components/spec.py), are not uses."""
    tree = ast.parse(path.read_text(), filename=str(path))
    prose = {id(n.body[0].value) for n in ast.walk(tree)
             if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and n.body
             and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    found = []
    for node in ast.walk(tree):
        modules = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        found += [f"line {node.lineno}: imports {m}" for m in modules if m.split(".")[0] in ("app", "orders")]
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose \
                and node.value not in PATTERN_HELP.values() and EXAMPLE_REFERENCE.search(node.value):
            found.append(f"line {node.lineno}: names {node.value!r}")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and isinstance(node.right, ast.Constant) \
                and node.right.value == "orders" and "functions" in ast.unparse(node.left).lower():
            found.append(f"line {node.lineno}: reads {ast.unparse(node)}")
    return found


# One test per module: a failure names the module. (It also makes this file one of the largest by
# test count, and pytest-xdist hands out the files with the most tests first, so the subprocess
# below starts early instead of running alone at the end of the suite.)
@pytest.mark.parametrize("module", framework_modules(), ids=lambda p: str(p.relative_to(TESTS)))
def test_no_framework_test_module_reaches_the_example(module):
    assert example_uses(module) == []


def test_the_framework_modules_are_all_found():
    modules = framework_modules()
    assert {TESTS / "conftest.py", TESTS / "support" / "moto_stack.py", TESTS / "services" / "reference.py",
            TESTS / "test_check_cli.py"} <= set(modules)
    assert not [p for p in modules if EXAMPLE in p.parents]


def test_the_static_check_finds_each_way_of_reaching_the_example(tmp_path):
    """The control for the test above."""
    module = tmp_path / "test_x.py"
    module.write_text('"""A docstring naming functions/orders."""\n'
                      "import app\nfrom orders.api import create_order\nimport orders.tasks as t\n"
                      "H = 'orders.api:create_order'\nS = ('--service', 'app:SERVICE')\n"
                      "P = FUNCTIONS / 'orders'\nQ = ROOT / 'functions/orders/api.py'\n"
                      "OK = ('orders', 'table:orders:read', 'reference.api:create_order', 'tests.services:REFERENCE')\n")
    assert sorted(int(use.split(":")[0].removeprefix("line ")) for use in example_uses(module)) == [2, 3, 4, 5, 6, 7, 8]


def project_copy(destination: Path) -> Path:
    """The project's files as git knows them (tracked, and new files not ignored), copied."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip(f"not a git checkout: {listed.stderr.strip()}")
    for name in filter(None, listed.stdout.split("\0")):
        source = ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


def replace_the_example(project: Path) -> None:
    """What a team does first: its own app.py and package, the example's overrides gone."""
    (project / "app.py").write_text(TEAM_APP)
    shutil.rmtree(project / "functions" / "orders")
    (project / "functions" / "shortener").mkdir()
    (project / "functions" / "shortener" / "__init__.py").write_text("")
    (project / "functions" / "shortener" / "api.py").write_text(TEAM_HANDLER)
    for stack in project.glob("Pulumi.*.yaml"):
        config = yaml.safe_load(stack.read_text())
        config["config"].pop("anycloud:functions", None)
        stack.write_text(yaml.safe_dump(config, sort_keys=False))


def test_the_framework_suite_passes_with_the_example_replaced(tmp_path):
    project = project_copy(tmp_path / "project")
    replace_the_example(project)
    assert not (project / "functions" / "orders").exists() and "create-order" not in (project / "Pulumi.prod.yaml").read_text()
    # the copy is a coherent project: the team's service validates and its handler resolves there
    loaded = importlib.util.spec_from_file_location("team_app", project / "app.py")
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    check_handlers(module.SERVICE, project / "functions")
    assert [route.key for route in module.SERVICE.api.routes] == ["GET /links/{code}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHONPATH"))}
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-n", "0", *SLICE],
                          cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "failed" not in done.stdout
