"""An interpreter and a structural validator for the Google Cloud Workflows syntax, for tests.

Google ships no emulator, so tests run the YAML the GCP compiler emits here. Written from
Google's syntax reference (cloud.google.com/workflows/docs/reference/syntax: steps, jumps,
conditions, iteration, parallel steps, retrying, catching errors, raising errors,
subworkflows, data types and operators; the standard library pages of http.post, sys.sleep,
map.get, the expression helpers) for the subset that compiler uses, not from the compiler.

What it models:

- Expressions ``${...}`` (the whole value; a tokenizer and a parser, never Python's eval):
  literals, variables, ``.key`` and ``[expr]`` access (KeyError, IndexError), calls of
  ``default``, ``len``, ``keys``, ``int``, ``double``, ``string``, ``map.get`` (a key or a
  list of keys; null when missing), ``list.concat``, ``json.decode``,
  ``json.encode_to_string``; operators by the reference's precedence table (``not`` binds
  tighter than comparisons), ``and``/``or`` short-circuit and take booleans only, ``==``
  between incompatible types is false, ordering them is a TypeError, ``+`` with a string
  concatenates per the reference's implicit-conversion table, ``/`` gives a double.
- Steps: assign (to variables, ``.key``, ``["key"]`` and ``[i]``), call (``http.*``,
  ``sys.sleep``, ``sys.log``, subworkflows with named args), switch (``next``, embedded
  ``steps``, ``return``, ``raise``), for (``in`` a list or ``range``; ``break``/``continue``),
  parallel (``branches`` or ``for``; ``shared``; ``continueAll``: every branch runs, then an
  ``UnhandledBranchError`` if any failed), try with ``retry`` (a predicate subworkflow or
  ``http.default_retry_predicate``, ``max_retries``, ``backoff``: ``initial_delay x
  multiplier^n`` capped by ``max_delay``) and ``except: {as, steps}``, raise, return,
  nested steps, ``next`` (``end``, ``break``, ``continue``).
- Scopes: a for iteration, an except block and a parallel branch get their own scope; an
  assignment updates the variable where it lives, else creates it locally (so a variable
  first assigned inside ``except`` is gone after it); a branch may write only ``shared``
  parent variables. Every stored value is a copy.
- ``http.*`` goes to the Python callable registered for the URL: ``handler(Request) ->
  (status, json_body)``, or raise ``CallTimedOut``. 2xx returns ``{code, headers, body}``;
  otherwise it raises ``{code, message, headers, body, tags: ["HttpError"]}``; a timeout
  raises ``{message: "request timed out", tags: ["TimeoutError", "OSError"]}`` (the default
  timeout is 300 s, at most 1800). Every call is recorded, in order.
- Time is virtual: ``sys.sleep``, retry backoff and timeouts advance ``clock`` instantly;
  ``sys.now()`` is a fixed epoch plus that clock, ``time.format`` writes RFC 3339 UTC.
- ``sys.get_env`` reads the environment given to the interpreter; ``base64.decode`` returns
  bytes (which ``json.decode`` takes); ``googleapis.*`` connector calls go to the Python
  callables given for them by name, and are recorded like HTTP calls.
- Branches and parallel iterations run one after the other, in order, so runs are
  deterministic. Limits enforced at run time: 100,000 steps, call depth 20, parallel nesting 2.

Where the reference is silent the interpreter is strict rather than lenient: a ``next``
must name a step of its own steps list, assigning below a missing map key is a KeyError,
``in`` takes a map or a list, and using an undeclared variable or an unknown function or
call target is a ``ProgramError`` (a bug in the program, never caught by ``except``).

``validate(program)`` checks the structure before running: allowed keys per step kind,
unique step names per subworkflow, ``next`` targets, call targets and their arguments,
well-formed expressions, and the documented limits it can see statically (see
``validate``). It raises ``WorkflowSyntaxError`` listing every problem with its location.
"""

from __future__ import annotations

import base64
import binascii
import contextvars
import copy
import json
import math
import re
from datetime import datetime, timezone
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import yaml

MAX_STEPS = 100_000
MAX_CALL_DEPTH = 20
MAX_PARALLEL_NESTING = 2
MAX_BRANCHES = 10
MAX_ASSIGNMENTS = 50
MAX_CONDITIONS = 50
MAX_SOURCE_BYTES = 128 * 1024
MAX_HTTP_TIMEOUT_S = 1800
DEFAULT_HTTP_TIMEOUT_S = 300.0
MAX_SLEEP_S = 31_536_000
HTTP_CALLS = ("http.get", "http.post", "http.put", "http.patch", "http.delete")
# http.default_retry_predicate: these codes and tags (Workflows' documented default policy).
DEFAULT_RETRY_CODES = (429, 502, 503, 504)
DEFAULT_RETRY_TAGS = ("ConnectionError", "ConnectionFailedError", "TimeoutError")


class WorkflowError(Exception):
    """A raised workflow error; `value` is what ``except: as`` sees (a map, or a string)."""

    def __init__(self, value: Any):
        super().__init__(value)
        self.value = value


class ProgramError(Exception):
    """The program is wrong (undeclared variable, unknown call...): not a workflow error."""


class WorkflowSyntaxError(ValueError):
    """The program's structure is invalid; the message lists each problem with its location."""


class CallTimedOut(Exception):
    """Raised by an HTTP handler for a call that takes longer than the request's timeout."""


def error(tag: str, message: str, **extra: Any) -> WorkflowError:
    return WorkflowError({"message": message, "tags": [tag], **extra})


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    body: Any
    timeout: float
    auth: dict | None


@dataclass
class Execution:
    status: str  # SUCCEEDED or FAILED
    result: Any = None
    error: Any = None
    calls: list[Request] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)
    logs: list[Any] = field(default_factory=list)
    clock: float = 0.0


# ---------------------------------------------------------------------------- expressions

TOKEN = re.compile(
    r"""\s*(?:
      (?P<number>\d+\.\d*(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|\d+)
    | (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<op>//|==|!=|<=|>=|[-+*/%<>()\[\].,])
    )""",
    re.VERBOSE,
)
KEYWORDS = {"and": "and", "AND": "and", "or": "or", "OR": "or", "not": "not", "NOT": "not", "in": "in", "IN": "in"}
CONSTANTS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False, "null": None}
# Binary operators, loosest first (the reference's order of operations).
BINARY = {"or": 1, "and": 2, "==": 3, "!=": 3, "<": 3, "<=": 3, ">": 3, ">=": 3, "in": 3, "+": 4, "-": 4, "*": 5, "/": 5, "//": 5, "%": 5}


def _tokens(text: str) -> list[tuple[str, Any]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = TOKEN.match(text, pos)
        if not match:
            raise WorkflowSyntaxError(f"expression {text!r}: unexpected {text[pos:].strip()[:10]!r}")
        pos = match.end()
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "number":
            out.append(("lit", float(value) if any(c in value for c in ".eE") else int(value)))
        elif kind == "string":
            try:
                out.append(("lit", json.loads(value)))  # the same escapes as JSON strings
            except ValueError:
                raise WorkflowSyntaxError(f"expression {text!r}: bad string literal {value}") from None
        elif kind == "name" and value in KEYWORDS:
            out.append(("op", KEYWORDS[value]))
        elif kind == "name" and value in CONSTANTS:
            out.append(("lit", CONSTANTS[value]))
        else:
            out.append((kind, value))
    return out + [("end", None)]


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokens(text)
        self.pos = 0

    def fail(self, why: str) -> WorkflowSyntaxError:
        return WorkflowSyntaxError(f"expression {self.text!r}: {why}")

    def peek(self) -> tuple[str, Any]:
        return self.tokens[self.pos]

    def take(self, kind: str, value: Any = None) -> Any:
        token = self.tokens[self.pos]
        if token[0] != kind or (value is not None and token[1] != value):
            raise self.fail(f"expected {value or kind}, found {token[1]!r}")
        self.pos += 1
        return token[1]

    def parse(self) -> tuple:
        node = self.expression(1)
        if self.peek()[0] != "end":
            raise self.fail(f"unexpected {self.peek()[1]!r}")
        return node

    def expression(self, loosest: int) -> tuple:
        left = self.prefix()
        while True:
            kind, value = self.peek()
            precedence = BINARY.get(value) if kind == "op" else None
            if precedence is None or precedence < loosest:
                return left
            self.pos += 1
            left = ("binary", value, left, self.expression(precedence + 1))

    def prefix(self) -> tuple:
        kind, value = self.peek()
        if (kind, value) == ("op", "not"):
            self.pos += 1
            return ("not", self.postfix())
        if (kind, value) == ("op", "-"):
            self.pos += 1
            return ("neg", self.prefix())
        return self.postfix()

    def postfix(self) -> tuple:
        node = self.primary()
        while True:
            kind, value = self.peek()
            if (kind, value) == ("op", "."):
                self.pos += 1
                node = ("attr", node, self.take("name"))
            elif (kind, value) == ("op", "["):
                self.pos += 1
                node = ("index", node, self.expression(1))
                self.take("op", "]")
            elif (kind, value) == ("op", "(") and _dotted(node):
                self.pos += 1
                args = []
                while self.peek() != ("op", ")"):
                    args.append(self.expression(1))
                    if self.peek() != ("op", ")"):
                        self.take("op", ",")
                self.pos += 1
                node = ("call", _dotted(node), args)
            else:
                return node

    def primary(self) -> tuple:
        kind, value = self.peek()
        self.pos += 1
        if kind == "lit":
            return ("lit", value)
        if kind == "name":
            return ("var", value)
        if (kind, value) == ("op", "("):
            node = self.expression(1)
            self.take("op", ")")
            return node
        if (kind, value) == ("op", "["):
            items = []
            while self.peek() != ("op", "]"):
                items.append(self.expression(1))
                if self.peek() != ("op", "]"):
                    self.take("op", ",")
            self.pos += 1
            return ("list", items)
        raise self.fail(f"unexpected {value!r}")


def _dotted(node: tuple) -> str | None:
    """``map.get`` from the nodes of ``map . get``; None unless names only."""
    if node[0] == "var":
        return node[1]
    if node[0] == "attr":
        head = _dotted(node[1])
        return f"{head}.{node[2]}" if head else None
    return None


@cache
def parse_expression(text: str) -> tuple:
    """The syntax tree of the expression inside ``${...}`` (`text` excludes the braces)."""
    if not text.strip():
        raise WorkflowSyntaxError("empty expression ${}")
    return _Parser(text).parse()


def expression_of(value: str) -> str | None:
    """The text inside ``${...}`` when `value` is one whole expression; None for plain text.

    Raises WorkflowSyntaxError for unbalanced braces or an expression that is only part of
    the value (Workflows does not interpolate inside strings).
    """
    if "${" not in value:
        return None
    if not value.startswith("${"):
        raise WorkflowSyntaxError(f"{value!r}: an expression must be the whole value, starting with ${{")
    depth, quote, i = 0, None, 1
    while i < len(value):
        c = value[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif c in "{[(":
            depth += 1
        elif c in "}])":
            depth -= 1
            if depth == 0:
                if i != len(value) - 1:
                    raise WorkflowSyntaxError(f"{value!r}: text after the expression's closing brace")
                return value[2:-1]
        i += 1
    raise WorkflowSyntaxError(f"{value!r}: unbalanced ${{...}}")


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "map"
    return type(value).__name__


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def equal(a: Any, b: Any) -> bool:
    """Workflows equality: deep, numbers across int/double, other types never equal."""
    if _number(a) and _number(b):
        return a == b
    if type_name(a) != type_name(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    return a == b


def _string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if _number(value) or isinstance(value, str):
        return str(value)
    raise error("TypeError", f"string() does not take a {type_name(value)}")


def _binary(op: str, a: Any, b: Any) -> Any:
    if op in ("==", "!="):
        return equal(a, b) == (op == "==")
    if op == "in":
        if isinstance(b, dict):
            return a in b if isinstance(a, str) else False
        if isinstance(b, list):
            return any(equal(a, x) for x in b)
        raise error("TypeError", f"'in' needs a map or a list, not a {type_name(b)}")
    if op in ("<", "<=", ">", ">="):
        if not ((_number(a) and _number(b)) or (isinstance(a, str) and isinstance(b, str))):
            raise error("TypeError", f"cannot compare {type_name(a)} {op} {type_name(b)}")
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
    if op == "+" and (isinstance(a, str) or isinstance(b, str)):
        return _string(a) + _string(b)
    if not (_number(a) and _number(b)):
        raise error("TypeError", f"unsupported operand types for {op}: {type_name(a)} and {type_name(b)}")
    if op in ("/", "//", "%") and b == 0:
        raise error("ZeroDivisionError", f"division by zero in {op}")
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        return a / b
    if op == "//":
        return math.floor(a / b) if isinstance(a, float) or isinstance(b, float) else a // b
    return math.fmod(a, b) if isinstance(a, float) or isinstance(b, float) else a % b


def _map_get(value: Any, keys: Any) -> Any:
    if isinstance(keys, str):
        keys = [keys]
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise error("TypeError", "map.get keys must be a string or a list of strings")
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise error("TypeError", f"int() does not take a {type_name(value)}")
    try:
        return int(value)
    except ValueError:
        raise error("ValueError", f"int() cannot convert {value!r}") from None


def _double(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise error("TypeError", f"double() does not take a {type_name(value)}")
    try:
        return float(value)
    except ValueError:
        raise error("ValueError", f"double() cannot convert {value!r}") from None


def _len(value: Any) -> int:
    if not isinstance(value, (str, list, dict)):
        raise error("TypeError", f"len() does not take a {type_name(value)}")
    return len(value)


def _keys(value: Any) -> list:
    if not isinstance(value, dict):
        raise error("TypeError", f"keys() does not take a {type_name(value)}")
    return list(value)


def _concat(items: Any, value: Any) -> list:
    if not isinstance(items, list):
        raise error("TypeError", f"list.concat needs a list, not a {type_name(items)}")
    return items + (value if isinstance(value, list) else [value])


def _json_decode(text: Any) -> Any:
    if not isinstance(text, (str, bytes)):
        raise error("TypeError", f"json.decode does not take a {type_name(text)}")
    try:
        return json.loads(text)
    except ValueError:
        raise error("ValueError", "json.decode: not JSON") from None


def _base64_decode(text: Any) -> bytes:
    if not isinstance(text, str):
        raise error("TypeError", f"base64.decode does not take a {type_name(text)}")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise error("ValueError", "base64.decode: not base64") from None


def _time_format(seconds: Any) -> str:
    """time.format(seconds): RFC 3339 in UTC, as the reference's example shows."""
    if not _number(seconds):
        raise error("TypeError", f"time.format needs seconds since the epoch, not a {type_name(seconds)}")
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


#: The interpreter running now: sys.get_env and sys.now read its environment and clock.
_running: contextvars.ContextVar["Interpreter"] = contextvars.ContextVar("running")


def _get_env(name: Any) -> Any:
    env = _running.get().env
    if name not in env:
        raise error("KeyError", f"environment variable not found: {name}")
    return env[name]


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "base64.decode": _base64_decode,
    "time.format": _time_format,
    "sys.get_env": _get_env,
    "sys.now": lambda: _running.get().epoch + _running.get().execution.clock,
    "default": lambda value, fallback: fallback if value is None else value,
    "len": _len,
    "keys": _keys,
    "int": _int,
    "double": _double,
    "string": _string,
    "map.get": _map_get,
    "list.concat": _concat,
    "json.decode": _json_decode,
    "json.encode_to_string": lambda value: json.dumps(value, separators=(",", ":")),
}


def _select(container: Any, key: Any) -> Any:
    if isinstance(container, dict):
        if not isinstance(key, str):
            raise error("TypeError", f"map keys are strings, not {type_name(key)}")
        if key not in container:
            raise error("KeyError", f"key not found: {key}")
        return container[key]
    if isinstance(container, list):
        if not isinstance(key, int) or isinstance(key, bool):
            raise error("TypeError", f"list index must be an integer, not {type_name(key)}")
        if not 0 <= key < len(container):
            raise error("IndexError", f"list index {key} out of range")
        return container[key]
    raise error("TypeError", f"cannot index a {type_name(container)}")


def evaluate(node: tuple, scope: Scope) -> Any:
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "var":
        return scope.lookup(node[1])
    if kind == "list":
        return [evaluate(item, scope) for item in node[1]]
    if kind in ("attr", "index"):
        key = node[2] if kind == "attr" else evaluate(node[2], scope)
        return _select(evaluate(node[1], scope), key)
    if kind == "call":
        if node[1] not in FUNCTIONS:
            raise ProgramError(f"unknown function {node[1]}()")
        return FUNCTIONS[node[1]](*[evaluate(arg, scope) for arg in node[2]])
    if kind == "not":
        value = evaluate(node[1], scope)
        if not isinstance(value, bool):
            raise error("TypeError", f"'not' needs a boolean, not a {type_name(value)}")
        return not value
    if kind == "neg":
        value = evaluate(node[1], scope)
        if not _number(value):
            raise error("TypeError", f"unary minus needs a number, not a {type_name(value)}")
        return -value
    op, left, right = node[1], node[2], node[3]
    if op in ("and", "or"):
        first = evaluate(left, scope)
        if not isinstance(first, bool):
            raise error("TypeError", f"'{op}' needs booleans, not a {type_name(first)}")
        if first == (op == "or"):
            return first
        second = evaluate(right, scope)
        if not isinstance(second, bool):
            raise error("TypeError", f"'{op}' needs booleans, not a {type_name(second)}")
        return second
    return _binary(op, evaluate(left, scope), evaluate(right, scope))


# ---------------------------------------------------------------------------------- scopes


class Scope:
    """Variables of one scope; `shared` is set on a parallel branch's scope."""

    def __init__(self, parent: Scope | None = None, shared: frozenset[str] | None = None):
        self.vars: dict[str, Any] = {}
        self.parent = parent
        self.shared = shared

    def lookup(self, name: str) -> Any:
        scope = self
        while scope is not None:
            if name in scope.vars:
                return scope.vars[name]
            scope = scope.parent
        raise ProgramError(f"variable {name!r} is used before it is assigned")

    def owner(self, name: str) -> Scope | None:
        """The scope holding `name`, checking that a branch writes only shared variables."""
        scope, crossed = self, []
        while scope is not None:
            if name in scope.vars:
                for branch in crossed:
                    if name not in branch.shared:
                        raise ProgramError(f"a parallel branch assigns {name!r}, which is not in its shared list")
                return scope
            if scope.shared is not None:
                crossed.append(scope)
            scope = scope.parent
        return None

    def assign(self, name: str, value: Any) -> None:
        (self.owner(name) or self).vars[name] = value


# ------------------------------------------------------------------------------- execution


class _Return(Exception):
    def __init__(self, value: Any):
        self.value = value


class _Loop(Exception):
    def __init__(self, how: str):
        self.how = how


Handler = Callable[[Request], tuple[int, Any]]


class Interpreter:
    """Runs a program (the dict form of the YAML) with HTTP handlers per URL.

    `env` is what ``sys.get_env`` reads (the workflow's user environment variables and the
    built-in ``GOOGLE_CLOUD_*`` ones); `connectors` answers ``googleapis.*`` calls by name
    (a callable taking the call's args, returning its result or raising `WorkflowError` as
    the connector would); ``sys.now()`` is `epoch` plus the virtual clock."""

    def __init__(self, program: Mapping[str, Any], handlers: Mapping[str, Handler],
                 env: Mapping[str, str] | None = None, connectors: Mapping[str, Callable[[Any], Any]] | None = None,
                 epoch: float = 1_796_000_000.0):
        self.program = program
        self.handlers = handlers
        self.env = dict(env or {})
        self.connectors = dict(connectors or {})
        self.epoch = epoch

    def run(self, argument: Any = None) -> Execution:
        self.execution = Execution(status="RUNNING")
        self.steps_run = 0
        self.depth = 0
        self.nesting = 0
        token = _running.set(self)
        try:
            result = self.call_subworkflow("main", None if argument is None else [argument])
        except WorkflowError as err:
            self.execution.status, self.execution.error = "FAILED", err.value
        else:
            self.execution.status, self.execution.result = "SUCCEEDED", result
        finally:
            _running.reset(token)
        return self.execution

    # -- subworkflows and steps

    def call_subworkflow(self, name: str, args: list | dict | None) -> Any:
        definition = self.program[name]
        params = [p if isinstance(p, str) else next(iter(p)) for p in definition.get("params", [])]
        defaults = {next(iter(p)): next(iter(p.values())) for p in definition.get("params", []) if isinstance(p, dict)}
        scope = Scope()
        values = dict(zip(params, args)) if isinstance(args, list) else dict(args or {})
        for param in params:
            if param in values:
                scope.vars[param] = copy.deepcopy(values[param])
            elif param in defaults:
                scope.vars[param] = copy.deepcopy(defaults[param])
            elif name != "main":
                raise ProgramError(f"call of {name}: missing argument {param!r}")
            else:
                scope.vars[param] = None
        self.depth += 1
        if self.depth > MAX_CALL_DEPTH:
            raise error("RecursionError", f"call depth exceeds {MAX_CALL_DEPTH}")
        try:
            self.run_steps(definition["steps"], scope)
        except _Return as done:
            return done.value
        finally:
            self.depth -= 1
        return None

    def run_steps(self, steps: list[dict], scope: Scope) -> None:
        names = [next(iter(step)) for step in steps]
        i = 0
        while i < len(steps):
            self.steps_run += 1
            if self.steps_run > MAX_STEPS:
                raise error("ResourceLimitError", f"more than {MAX_STEPS} steps")
            target = self.run_step(steps[i][names[i]], scope)
            if target is None:
                i += 1
            elif target == "end":
                raise _Return(None)
            elif target in ("break", "continue"):
                raise _Loop(target)
            elif target in names:
                i = names.index(target)
            else:
                raise ProgramError(f"next: {target!r} is not a step of this steps list ({', '.join(names)})")

    def run_step(self, body: dict, scope: Scope) -> str | None:
        """Run one step; the name of the step to go to, or None for the following one."""
        if "assign" in body:
            for item in body["assign"]:
                ((target, value),) = item.items()
                self.assign(target, self.value(value, scope), scope)
        elif "call" in body:
            result = self.call(body["call"], self.value(body.get("args", {}), scope))
            if "result" in body:
                scope.assign(body["result"], copy.deepcopy(result))
        elif "switch" in body:
            return self.switch(body, scope)
        elif "for" in body:
            self.loop(body["for"], scope)
        elif "parallel" in body:
            self.parallel(body["parallel"], scope)
        elif "try" in body:
            self.attempt(body, scope)
        elif "raise" in body:
            raise WorkflowError(self.value(body["raise"], scope))
        elif "return" in body:
            raise _Return(self.value(body["return"], scope))
        elif "steps" in body:
            self.run_steps(body["steps"], scope)
        else:
            raise ProgramError(f"step of unknown kind: {sorted(body)}")
        return body.get("next")

    def value(self, value: Any, scope: Scope) -> Any:
        """A literal with every ``${...}`` inside it evaluated, as a fresh copy."""
        if isinstance(value, str):
            text = expression_of(value)
            return value if text is None else copy.deepcopy(evaluate(parse_expression(text), scope))
        if isinstance(value, list):
            return [self.value(item, scope) for item in value]
        if isinstance(value, dict):
            return {self.value(k, scope): self.value(v, scope) for k, v in value.items()}
        return value

    def assign(self, target: str, value: Any, scope: Scope) -> None:
        node = parse_expression(target)
        if node[0] == "var":
            scope.assign(node[1], value)
            return
        path = []
        while node[0] in ("attr", "index"):
            path.append(node[2] if node[0] == "attr" else evaluate(node[2], scope))
            node = node[1]
        if node[0] != "var":
            raise ProgramError(f"cannot assign to {target!r}")
        owner = scope.owner(node[1])
        if owner is None:
            raise ProgramError(f"variable {node[1]!r} is used before it is assigned")
        container = owner.vars[node[1]]
        *parents, last = reversed(path)
        for key in parents:
            container = _select(container, key)
        if isinstance(container, dict) and isinstance(last, str):
            container[last] = value
        else:
            _select(container, last)  # raises the right error for a bad key or index
            container[last] = value

    def switch(self, body: dict, scope: Scope) -> str | None:
        for case in body["switch"]:
            matched = self.value(case["condition"], scope)
            if not isinstance(matched, bool):
                raise error("TypeError", f"switch condition is a {type_name(matched)}, not a boolean")
            if not matched:
                continue
            if "next" in case:
                return case["next"]
            if "steps" in case:
                self.run_steps(case["steps"], scope)
            elif "return" in case:
                raise _Return(self.value(case["return"], scope))
            elif "raise" in case:
                raise WorkflowError(self.value(case["raise"], scope))
            elif "assign" in case:
                self.run_step({"assign": case["assign"]}, scope)
            break
        return body.get("next")

    def iterations(self, spec: dict, scope: Scope) -> Iterator[tuple[int, Any]]:
        if "range" in spec:
            start, end = self.value(spec["range"], scope)
            return enumerate(range(start, end + 1))
        items = self.value(spec["in"], scope)
        if isinstance(items, dict):
            items = list(items)
        if not isinstance(items, list):
            raise error("TypeError", f"for: 'in' is a {type_name(items)}, not a list")
        return enumerate(items)

    def loop(self, spec: dict, scope: Scope) -> None:
        for index, item in self.iterations(spec, scope):
            iteration = Scope(scope)
            iteration.vars[spec["value"]] = item
            if "index" in spec:
                iteration.vars[spec["index"]] = index
            try:
                self.run_steps(spec["steps"], iteration)
            except _Loop as jump:
                if jump.how == "break":
                    break

    def parallel(self, spec: dict, scope: Scope) -> None:
        shared = frozenset(spec.get("shared", []))
        for name in shared:
            if scope.owner(name) is None:
                raise ProgramError(f"shared variable {name!r} must be assigned before the parallel step")
        if spec.get("exception_policy", "continueAll") != "continueAll":
            raise ProgramError(f"exception_policy {spec['exception_policy']!r}: only continueAll exists")
        if self.nesting >= MAX_PARALLEL_NESTING:
            raise error("ParallelNestingError", f"parallel steps nest deeper than {MAX_PARALLEL_NESTING}")
        units: list[tuple[Scope, list]] = []
        if "branches" in spec:
            for branch in spec["branches"]:
                ((_, body),) = branch.items()
                units.append((Scope(scope, shared), body["steps"]))
        else:
            each = spec["for"]
            for index, item in self.iterations(each, scope):
                unit = Scope(scope, shared)
                unit.vars[each["value"]] = item
                if "index" in each:
                    unit.vars[each["index"]] = index
                units.append((unit, each["steps"]))
        failures = []
        self.nesting += 1
        try:
            for unit, steps in units:
                try:
                    self.run_steps(steps, unit)
                except WorkflowError as err:
                    failures.append(err.value)
        finally:
            self.nesting -= 1
        if failures:
            raise error("UnhandledBranchError", f"{len(failures)} branches or iterations failed", branches=failures)

    def attempt(self, body: dict, scope: Scope) -> None:
        policy = self.retry_policy(body["retry"], scope) if "retry" in body else None
        retries = 0
        while True:
            try:
                block = body["try"]
                if "steps" in block:
                    self.run_steps(block["steps"], scope)
                else:
                    self.run_step(block, scope)
                return
            except WorkflowError as err:
                if policy and retries < policy["max_retries"] and self.should_retry(policy["predicate"], err.value):
                    backoff = policy["backoff"]
                    self.sleep(min(backoff["initial_delay"] * backoff["multiplier"] ** retries, backoff["max_delay"]))
                    retries += 1
                    continue
                if "except" not in body:
                    raise
                handler = Scope(scope)
                handler.vars[body["except"].get("as", "e")] = copy.deepcopy(err.value)
                self.run_steps(body["except"]["steps"], handler)
                return

    def retry_policy(self, retry: Any, scope: Scope) -> dict:
        if isinstance(retry, str):
            name = expression_of(retry)
            if name not in ("http.default_retry", "http.default_retry_non_idempotent"):
                raise ProgramError(f"retry: unknown policy {retry!r}")
            return {"predicate": name + "_predicate", "max_retries": 5, "backoff": {"initial_delay": 1, "max_delay": 60, "multiplier": 1.25}}
        predicate = expression_of(retry["predicate"])
        return {"predicate": predicate, "max_retries": self.value(retry.get("max_retries", 0), scope), "backoff": self.value(retry["backoff"], scope)}

    def should_retry(self, predicate: str, value: Any) -> bool:
        if predicate in ("http.default_retry_predicate", "http.default_retry_predicate_non_idempotent"):
            codes, tags = (DEFAULT_RETRY_CODES, DEFAULT_RETRY_TAGS) if predicate.endswith("predicate") else ((429, 503), ("ConnectionFailedError",))
            if not isinstance(value, dict):
                return False
            return value.get("code") in codes or any(tag in tags for tag in value.get("tags", []))
        if predicate not in self.program:
            raise ProgramError(f"retry predicate {predicate!r} is not a subworkflow")
        answer = self.call_subworkflow(predicate, [value])
        if not isinstance(answer, bool):
            raise error("TypeError", f"retry predicate {predicate} returned a {type_name(answer)}, not a boolean")
        return answer

    # -- calls

    def call(self, target: str, args: Any) -> Any:
        if target in HTTP_CALLS:
            return self.http(target.split(".")[1].upper(), args)
        if target == "sys.sleep":
            self.sleep(args["seconds"])
            return None
        if target == "sys.log":
            self.execution.logs.append(args)
            return None
        if target in self.program and target != "main":
            return self.call_subworkflow(target, args)
        if target in self.connectors:
            self.execution.calls.append(Request("CONNECTOR", target, json.loads(json.dumps(args)), 0, None))
            return self.connectors[target](args)
        raise ProgramError(f"unknown call target {target!r}")

    def sleep(self, seconds: Any) -> None:
        if not _number(seconds) or not 0 <= seconds <= MAX_SLEEP_S:
            raise error("ValueError", f"sys.sleep seconds must be a number from 0 to {MAX_SLEEP_S}, not {seconds!r}")
        self.execution.sleeps.append(seconds)
        self.execution.clock += seconds

    def http(self, method: str, args: dict) -> dict:
        timeout = args.get("timeout", DEFAULT_HTTP_TIMEOUT_S)
        if not _number(timeout) or not 0 < timeout <= MAX_HTTP_TIMEOUT_S:
            raise error("ValueError", f"http timeout must be a number of seconds up to {MAX_HTTP_TIMEOUT_S}, not {timeout!r}")
        auth = args.get("auth")
        if auth is not None and auth.get("type") not in ("OIDC", "OAuth2"):
            raise error("ValueError", f"auth type must be OIDC or OAuth2, not {auth.get('type')!r}")
        request = Request(method, args["url"], json.loads(json.dumps(args.get("body"))), timeout, auth)
        self.execution.calls.append(request)
        if request.url not in self.handlers:
            raise ProgramError(f"no handler for {request.url}")
        try:
            status, body = self.handlers[request.url](request)
        except CallTimedOut:
            self.execution.clock += timeout
            raise WorkflowError({"message": "request timed out", "tags": ["TimeoutError", "OSError"]}) from None
        body = json.loads(json.dumps(body))
        headers = {"content-type": "application/json"}
        if 200 <= status < 300:
            return {"code": status, "headers": headers, "body": body}
        raise WorkflowError({"code": status, "message": f"HTTP server responded with error code {status}",
                             "headers": headers, "body": body, "tags": ["HttpError"]})


def run(program: Mapping[str, Any], handlers: Mapping[str, Handler], argument: Any = None) -> Execution:
    """Validate `program`, then run it once with `argument`."""
    validate(program)
    return Interpreter(program, handlers).run(argument)


# ------------------------------------------------------------------------------- validator

STEP_KINDS: dict[str, set[str]] = {
    "assign": {"assign", "next"},
    "call": {"call", "args", "result", "next"},
    "switch": {"switch", "next"},
    "for": {"for", "next"},
    "parallel": {"parallel", "next"},
    "try": {"try", "retry", "except", "next"},
    "raise": {"raise"},
    "return": {"return"},
    "steps": {"steps", "next"},
}
CASE_ACTIONS = ("next", "steps", "return", "raise", "assign")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def validate(program: Any) -> None:
    """Check the program's structure and the limits visible before running.

    Checked: ``main`` exists; subworkflows have only ``params`` and non-empty ``steps``; step
    names are unique per subworkflow; each step is one kind with only that kind's keys; every
    ``next`` names a step of the same steps list, ``end``, or ``break``/``continue`` inside a
    for loop; assignment targets and every ``${...}`` parse; call targets exist, subworkflow
    calls pass exactly known parameters and all required ones (``googleapis.*`` connector
    calls are taken as they are), HTTP calls have a URL, an
    OIDC or OAuth2 ``auth`` and a literal timeout of at most 1800 s; literal sleeps are at
    most a year; at most 50 assignments per step and 50 conditions per switch; parallel steps
    have ``branches`` (at most 10) or ``for``, ``continueAll`` only, a positive integer
    ``concurrency_limit`` and nest at most 2 deep (following subworkflow calls); calls nest at
    most 20 deep, without recursion; the YAML source is at most 128 KB.
    """
    problems = _Validator(program).problems
    if problems:
        raise WorkflowSyntaxError(f"{len(problems)} problem(s):\n" + "\n".join(problems))


class _Validator:
    def __init__(self, program: Any):
        self.problems: list[str] = []
        if not isinstance(program, dict) or "main" not in program:
            self.problems.append("the program must be a map of subworkflows with a 'main'")
            return
        self.program = program
        # Per subworkflow: (callee, parallel nesting at the call) and the nesting of each parallel step.
        self.calls: dict[str, set[tuple[str, int]]] = {name: set() for name in program}
        self.parallels: dict[str, list[int]] = {name: [] for name in program}
        for name, definition in program.items():
            self.subworkflow(name, definition)
        self.limits()
        source = yaml.safe_dump(program, sort_keys=False)
        if len(source.encode()) > MAX_SOURCE_BYTES:
            self.problems.append(f"the source is {len(source.encode())} bytes; Workflows accepts {MAX_SOURCE_BYTES}")

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def subworkflow(self, name: str, definition: Any) -> None:
        if not IDENTIFIER.match(name):
            self.problem(name, "a subworkflow name must be an identifier")
        if not isinstance(definition, dict) or set(definition) - {"params", "steps"}:
            self.problem(name, "a subworkflow has only 'params' and 'steps'")
            return
        for param in definition.get("params", []):
            key = param if isinstance(param, str) else next(iter(param), "") if isinstance(param, dict) and len(param) == 1 else ""
            if not IDENTIFIER.match(key):
                self.problem(f"{name}.params", f"{param!r} is not a parameter name (or a one-key map with its default)")
        self.names: set[str] = set()
        self.current = name
        self.steps(f"{name}.steps", definition.get("steps"), in_loop=False, nesting=0)

    def steps(self, where: str, steps: Any, in_loop: bool, nesting: int) -> None:
        if not isinstance(steps, list) or not steps:
            self.problem(where, "steps must be a non-empty list")
            return
        local = []
        for i, step in enumerate(steps):
            if not isinstance(step, dict) or len(step) != 1 or not isinstance(next(iter(step.values())), dict):
                self.problem(f"{where}[{i}]", "a step is a one-key map: {name: {...}}")
                continue
            ((name, _),) = step.items()
            if name in self.names:
                self.problem(f"{where}[{i}]", f"step name {name!r} is used twice in subworkflow {self.current}")
            self.names.add(name)
            local.append(name)
        for i, step in enumerate(steps):
            if isinstance(step, dict) and len(step) == 1:
                ((name, body),) = step.items()
                if isinstance(body, dict):
                    self.step(f"{where}[{i}].{name}", body, local, in_loop, nesting)

    def jump(self, where: str, target: Any, local: list[str], in_loop: bool) -> None:
        if target == "end" or (in_loop and target in ("break", "continue")):
            return
        if target not in local:
            self.problem(where, f"next {target!r} is not a step of this steps list ({', '.join(local)})")

    def step(self, where: str, body: dict, local: list[str], in_loop: bool, nesting: int) -> None:
        kinds = [k for k in STEP_KINDS if k in body]
        if len(kinds) != 1:
            self.problem(where, f"a step has exactly one of {', '.join(STEP_KINDS)}; found {kinds or 'none'}")
            return
        kind = kinds[0]
        extra = set(body) - STEP_KINDS[kind]
        if extra:
            self.problem(where, f"{kind} steps do not take {', '.join(sorted(extra))}")
        if "next" in body:
            self.jump(where, body["next"], local, in_loop)
        check = getattr(self, f"check_{kind}")
        check(where, body, local, in_loop, nesting)

    def expressions(self, where: str, value: Any) -> None:
        """Every ``${...}`` inside `value` is whole, balanced and parses."""
        if isinstance(value, str):
            try:
                text = expression_of(value)
                if text is not None:
                    parse_expression(text)
            except WorkflowSyntaxError as err:
                self.problem(where, str(err))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self.expressions(f"{where}[{i}]", item)
        elif isinstance(value, dict):
            for key, item in value.items():
                self.expressions(f"{where}.{key}", key)
                self.expressions(f"{where}.{key}", item)

    def check_assign(self, where: str, body: dict, *_: Any) -> None:
        items = body["assign"]
        if not isinstance(items, list) or not items or len(items) > MAX_ASSIGNMENTS:
            self.problem(where, f"assign takes a list of 1 to {MAX_ASSIGNMENTS} one-key maps")
            return
        for i, item in enumerate(items):
            if not isinstance(item, dict) or len(item) != 1:
                self.problem(f"{where}.assign[{i}]", "each assignment is a one-key map")
                continue
            ((target, value),) = item.items()
            try:
                node = parse_expression(str(target))
                while node[0] in ("attr", "index"):
                    node = node[1]
                if node[0] != "var":
                    raise WorkflowSyntaxError(f"{target!r} is not a variable, key or index")
            except WorkflowSyntaxError as err:
                self.problem(f"{where}.assign[{i}]", f"bad target: {err}")
            self.expressions(f"{where}.assign[{i}]", value)

    def check_call(self, where: str, body: dict, local: list[str], in_loop: bool, nesting: int) -> None:
        target, args = body["call"], body.get("args", {})
        self.expressions(f"{where}.args", args)
        if "result" in body and not IDENTIFIER.match(str(body["result"])):
            self.problem(where, f"result {body['result']!r} is not a variable name")
        if not isinstance(args, dict):
            self.problem(where, "args must be a map")
            return
        if target in HTTP_CALLS:
            self.http(where, args)
        elif target == "sys.sleep":
            seconds = args.get("seconds")
            if not isinstance(seconds, str) and not (_number(seconds) and 0 <= seconds <= MAX_SLEEP_S):
                self.problem(where, f"sys.sleep seconds must be 0 to {MAX_SLEEP_S}, got {seconds!r}")
        elif target == "sys.log" or target.startswith("googleapis."):
            pass  # a connector: only its expressions are checked
        elif target in self.program and target != "main":
            self.calls[self.current].add((target, nesting))
            params = self.program[target].get("params", []) if isinstance(self.program[target], dict) else []
            names = [p if isinstance(p, str) else next(iter(p)) for p in params]
            required = {p for p in params if isinstance(p, str)}
            if set(args) - set(names):
                self.problem(where, f"{target} has no parameter {', '.join(sorted(set(args) - set(names)))}")
            if required - set(args):
                self.problem(where, f"{target} needs {', '.join(sorted(required - set(args)))}")
        else:
            self.problem(where, f"unknown call target {target!r}")

    def http(self, where: str, args: dict) -> None:
        if "url" not in args:
            self.problem(where, "an HTTP call needs a url")
        auth = args.get("auth")
        if auth is not None and (not isinstance(auth, dict) or auth.get("type") not in ("OIDC", "OAuth2")):
            self.problem(where, "auth must be a map with type OIDC or OAuth2")
        timeout = args.get("timeout", DEFAULT_HTTP_TIMEOUT_S)
        if not isinstance(timeout, str) and not (_number(timeout) and 0 < timeout <= MAX_HTTP_TIMEOUT_S):
            self.problem(where, f"timeout must be at most {MAX_HTTP_TIMEOUT_S} s, got {timeout!r}")

    def check_switch(self, where: str, body: dict, local: list[str], in_loop: bool, nesting: int) -> None:
        cases = body["switch"]
        if not isinstance(cases, list) or not cases or len(cases) > MAX_CONDITIONS:
            self.problem(where, f"switch takes a list of 1 to {MAX_CONDITIONS} conditions")
            return
        for i, case in enumerate(cases):
            at = f"{where}.switch[{i}]"
            if not isinstance(case, dict) or "condition" not in case:
                self.problem(at, "each case is a map with a condition")
                continue
            actions = [k for k in CASE_ACTIONS if k in case]
            if set(case) - {"condition", *CASE_ACTIONS} or len(actions) > 1:
                self.problem(at, f"a case has a condition and at most one of {', '.join(CASE_ACTIONS)}")
            self.expressions(at, case["condition"])
            if not isinstance(case["condition"], (bool, str)):
                self.problem(at, "a condition is a boolean or an expression")
            if "next" in case:
                self.jump(at, case["next"], local, in_loop)
            if "steps" in case:
                self.steps(f"{at}.steps", case["steps"], in_loop, nesting)
            for key in ("return", "raise"):
                if key in case:
                    self.expressions(f"{at}.{key}", case[key])
            if "assign" in case:
                self.check_assign(at, case)

    def check_for(self, where: str, body: dict, local: list[str], in_loop: bool, nesting: int) -> None:
        self.iteration(f"{where}.for", body["for"], nesting)

    def iteration(self, where: str, spec: Any, nesting: int) -> None:
        if not isinstance(spec, dict) or set(spec) - {"value", "index", "in", "range", "steps"}:
            self.problem(where, "for takes value, index, in or range, and steps")
            return
        for key in ("value", "index"):
            if key in spec and not IDENTIFIER.match(str(spec[key])):
                self.problem(where, f"{key} {spec[key]!r} is not a variable name")
        if "value" not in spec or ("in" in spec) == ("range" in spec):
            self.problem(where, "for needs a value and exactly one of in and range")
        self.expressions(where, spec.get("in", spec.get("range")))
        self.steps(f"{where}.steps", spec.get("steps"), in_loop=True, nesting=nesting)

    def check_parallel(self, where: str, body: dict, local: list[str], in_loop: bool, nesting: int) -> None:
        spec = body["parallel"]
        if not isinstance(spec, dict) or set(spec) - {"shared", "concurrency_limit", "exception_policy", "branches", "for"}:
            self.problem(where, "parallel takes shared, concurrency_limit, exception_policy, and branches or for")
            return
        if ("branches" in spec) == ("for" in spec):
            self.problem(where, "parallel needs exactly one of branches and for")
        if spec.get("exception_policy", "continueAll") != "continueAll":
            self.problem(where, "continueAll is the only exception_policy")
        limit = spec.get("concurrency_limit", 1)
        if not isinstance(limit, str) and not (isinstance(limit, int) and not isinstance(limit, bool) and limit > 0):
            self.problem(where, f"concurrency_limit must be a positive integer, got {limit!r}")
        if not all(isinstance(v, str) and IDENTIFIER.match(v) for v in spec.get("shared", [])):
            self.problem(where, "shared lists variable names")
        inner = nesting + 1
        self.parallels[self.current].append(inner)
        if "for" in spec:
            self.iteration(f"{where}.for", spec["for"], inner)
        branches = spec.get("branches", [])
        if "branches" in spec and (not isinstance(branches, list) or not branches or len(branches) > MAX_BRANCHES):
            self.problem(where, f"branches takes a list of 1 to {MAX_BRANCHES} branches")
            return
        for i, branch in enumerate(branches):
            content = next(iter(branch.values())) if isinstance(branch, dict) and len(branch) == 1 else None
            if not isinstance(content, dict) or set(content) != {"steps"}:
                self.problem(f"{where}.branches[{i}]", "a branch is {name: {steps: [...]}}")
                continue
            name = next(iter(branch))
            self.steps(f"{where}.branches[{i}].{name}.steps", content["steps"], in_loop=False, nesting=inner)

    def check_try(self, where: str, body: dict, local: list[str], in_loop: bool, nesting: int) -> None:
        block = body["try"]
        if isinstance(block, dict) and set(block) == {"steps"}:
            self.steps(f"{where}.try.steps", block["steps"], in_loop, nesting)
        elif isinstance(block, dict):
            self.step(f"{where}.try", block, local, in_loop, nesting)
        else:
            self.problem(where, "try takes steps or one step's body")
        retry = body.get("retry")
        if isinstance(retry, dict):
            if set(retry) - {"predicate", "max_retries", "backoff"} or "predicate" not in retry \
                    or not isinstance(retry.get("backoff", {}), dict) or set(retry.get("backoff", {})) - {"initial_delay", "max_delay", "multiplier"}:
                self.problem(f"{where}.retry", "retry takes predicate, max_retries and backoff {initial_delay, max_delay, multiplier}")
            self.expressions(f"{where}.retry", retry)
        elif retry is not None:
            self.expressions(f"{where}.retry", retry)
        handler = body.get("except")
        if handler is not None:
            if not isinstance(handler, dict) or set(handler) - {"as", "steps"} or "steps" not in handler:
                self.problem(f"{where}.except", "except takes as and steps")
            else:
                self.steps(f"{where}.except.steps", handler["steps"], in_loop, nesting)

    def check_raise(self, where: str, body: dict, *_: Any) -> None:
        self.expressions(f"{where}.raise", body["raise"])

    def check_return(self, where: str, body: dict, *_: Any) -> None:
        self.expressions(f"{where}.return", body["return"])

    def check_steps(self, where: str, body: dict, local: list[str], in_loop: bool, nesting: int) -> None:
        self.steps(f"{where}.steps", body["steps"], in_loop, nesting)

    def limits(self) -> None:
        """Call depth and parallel nesting through subworkflow calls, from main."""

        def walk(name: str, depth: int, nesting: int, path: tuple[str, ...]) -> None:
            if name in path:
                self.problem(name, f"recursive call: {' -> '.join(path + (name,))}")
                return
            if depth > MAX_CALL_DEPTH:
                self.problem(name, f"calls nest {depth} deep; Workflows allows {MAX_CALL_DEPTH}")
                return
            deepest = nesting + max(self.parallels.get(name, []), default=0)
            if deepest > MAX_PARALLEL_NESTING:
                self.problem(name, f"parallel steps nest {deepest} deep (through {' -> '.join(path + (name,))}); Workflows allows {MAX_PARALLEL_NESTING}")
                return
            for callee, level in sorted(self.calls.get(name, ())):
                walk(callee, depth + 1, nesting + level, path + (name,))

        walk("main", 1, 0, ())
