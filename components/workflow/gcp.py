"""Compile a WorkflowSpec to Google Cloud Workflows (the YAML syntax, as a dict).

The portable meaning is DESIGN.md section 5 (and asl.py, which states it for Step Functions);
this is how Workflows expresses it:

- The state is the variable ``state`` (``main`` takes the execution argument as ``input``).
  Every graph ends in ``graph__done``, which returns ``state``: the execution's result, or a
  branch's final state.
- A task is ``call: http.post`` to the function's URL with ``auth: {type: OIDC, audience:
  <url>}``, ``body: ${state}`` and ``timeout: timeout_s``; without ``timeout_s`` the call waits
  up to ``DEFAULT_TIMEOUT_S`` (540 s, the longest a function may run), so the function's own
  timeout ends it first, as on Lambda (Workflows' own default, 300 s, would cut it short). The
  response body (JSON-decoded by Workflows) is stored at ``state[result]``; missing parent
  maps of a dotted ``result`` are created first, as ASL's ResultPath does.
- Errors. Every task, parallel and map step runs in ``try``; ``except`` hands the raw error
  to the subworkflow ``portable_error``, which returns ``{"error": name, "cause": text}``: an
  ``HttpError`` takes the name and message of the JSON body the task sent (DESIGN.md: 422
  ``{"error", "message"}``; ``TaskFailed`` when the body names none), a ``TimeoutError`` is
  ``Timeout``, anything else ``TaskFailed``; an error already in portable form passes
  unchanged. ``TaskFailed`` in a retry or catch entry means any error except ``Timeout`` and
  the names the step's own retry and catch lists mention; entries are tried in order, the
  first match wins, entries after one listing ``all`` never match. An error nothing handles
  is raised in portable form, so a failed execution's error is ``{"error", "cause"}``.
- Retry. Workflows' ``retry:`` block has one predicate and one counter per ``try``, where
  each ASL retrier keeps its own counter and the first matching retrier is the only one
  consulted; so retry is a loop: the step's entry resets one counter per retry entry
  (``tries``) and holds each entry's delays (``delays``), computed by workflow/retry.py as Step
  Functions does (IntervalSeconds x BackoffRate^(n-1), the multiplier kept as a running
  product, capped by MaxDelaySeconds; ``attempts`` retries after the first try); a matching
  entry with attempts left sleeps (``sys.sleep``), counts and jumps back to the ``try``.
  Delays above ``sys.sleep``'s one-year maximum are capped there.
- Catch assigns the portable error to ``state["error"]`` and jumps to the target step.
- Choice tests its rules in order, each in its own ``try`` so that a rule which cannot be
  evaluated does not match, as in Step Functions: a missing path (KeyError) or a value of
  another type than the literal (Workflows raises TypeError for ``<``; ASL compares false).
  ``!=`` and ``exists: false`` match when the path is missing. No default and no match
  raises ``NoChoiceMatched`` (Step Functions' States.NoChoiceMatched).
- Parallel and Map: each branch, and the map iterator, is a subworkflow taking ``state`` (so
  each runs on its own copy); the ``parallel`` step runs ``branches`` or a parallel ``for``
  over the items (state ``{"item", "index"}``), with ``shared: [results, errors]``. A branch
  catches its own failure into ``errors[i]``, so no branch's error is lost in Workflows'
  UnhandledBranchError; after the join the first failure in branch (or item) order is raised
  as the step's error, retryable and catchable at the step. Unlike Step Functions, the other
  branches run to completion (``continueAll`` is Workflows' only exception policy).
  ``result`` gets the list of final states. ``max_concurrency`` becomes ``concurrency_limit``
  (at most 20, Workflows' cap on concurrent branches); 0 leaves it unset.
- Wait is ``sys.sleep``; Succeed returns ``state``; Fail raises ``{"error", "cause"}``.

Limits checked here, as SpecError: at most 10 branches per parallel step and parallel steps
(parallel or map) nested at most 2 deep, as Workflows allows. Step names keep the spec's
(hyphens as underscores); generated names contain ``__``, which step names cannot.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence

import yaml

from components.spec import (
    Branch,
    Choice,
    Fail,
    Map,
    Parallel,
    Rule,
    SpecError,
    Step,
    Succeed,
    Task,
    Wait,
    WorkflowSpec,
)
from components.workflow.retry import delays, mentioned, until_all

DEFAULT_TIMEOUT_S = 540
MAX_BRANCHES = 10
MAX_PARALLEL_NESTING = 2
MAX_CONCURRENCY = 20
PORTABLE_ERROR = "portable_error"
DONE = "graph__done"

#: Raw Workflows error -> {"error": name, "cause": text}; see the module docstring.
PORTABLE_ERROR_SUBWORKFLOW = {
    "params": ["e"],
    "steps": [
        {
            "classify": {
                "switch": [
                    {"condition": '${"error" in e and "cause" in e}', "return": "${e}"},
                    {
                        "condition": '${"tags" in e and "TimeoutError" in e.tags}',
                        "return": {"error": "Timeout", "cause": '${default(map.get(e, "message"), "")}'},
                    },
                    {
                        "condition": '${"tags" in e and "HttpError" in e.tags}',
                        "return": {
                            "error": '${default(map.get(e, ["body", "error"]), "TaskFailed")}',
                            "cause": '${default(map.get(e, ["body", "message"]), default(map.get(e, "message"), ""))}',
                        },
                    },
                ]
            }
        },
        {"unknown": {"return": {"error": "TaskFailed", "cause": '${default(map.get(e, "message"), "")}'}}},
    ],
}


def compile_workflows(workflow: WorkflowSpec, function_urls: Mapping[str, str]) -> dict:
    """The Workflows program for `workflow` (``main`` plus helper subworkflows); `function_urls`
    maps function name to its HTTPS URL (the OIDC audience too)."""
    missing = [f for f in workflow.task_functions() if f not in function_urls]
    if missing:
        raise SpecError(f"workflows.{workflow.name}: no function URL for {', '.join(missing)}")
    compiler = _Compiler(workflow.name, function_urls)
    main = {"params": ["input"], "steps": compiler.graph(workflow.start, workflow.steps, depth=0, state="${input}")}
    return {"main": main, **compiler.subworkflows, PORTABLE_ERROR: copy.deepcopy(PORTABLE_ERROR_SUBWORKFLOW)}


def to_yaml(program: dict) -> str:
    """The program as Workflows source; the same program always gives the same text."""
    return yaml.safe_dump(program, sort_keys=False, allow_unicode=True, width=1000)


class _Compiler:
    def __init__(self, workflow: str, urls: Mapping[str, str]):
        self.workflow = workflow
        self.urls = urls
        self.subworkflows: dict[str, dict] = {}

    def graph(self, start: str, steps: Mapping[str, Step], depth: int, state: str | None = None) -> list[dict]:
        """One steps list: declarations, the start step's block first, then the others, then the return."""
        declared = ([{"state": state}] if state else []) + [{var: value} for var, value in _variables(steps.values())]
        out = [{"graph__init": {"assign": declared}}] if declared else []
        for name in [start, *(n for n in steps if n != start)]:
            out += self.step(name, steps[name], depth)
        return out + [{DONE: {"return": "${state}"}}]

    def step(self, name: str, step: Step, depth: int) -> list[dict]:
        n = _id(name)
        if isinstance(step, Choice):
            return _choice(n, step)
        if isinstance(step, Wait):
            return [{n: {"call": "sys.sleep", "args": {"seconds": step.seconds}, "next": _then(step.next)}}]
        if isinstance(step, Succeed):
            return [{n: {"return": "${state}"}}]
        if isinstance(step, Fail):
            return [{n: {"raise": {"error": step.error, "cause": step.cause}}}]
        if isinstance(step, Task):
            work = self.task(n, step)
        elif isinstance(step, Parallel):
            work = self.parallel(n, step, depth + 1)
        else:
            work = self.map(n, step, depth + 1)
        return _guarded(n, step, work)

    def task(self, n: str, step: Task) -> list[dict]:
        url = self.urls[step.function]
        args = {"url": url, "auth": {"type": "OIDC", "audience": url}, "body": "${state}", "timeout": step.timeout_s or DEFAULT_TIMEOUT_S}
        if step.result is None:
            return [{f"{n}__call": {"call": "http.post", "args": args}}]
        return [{f"{n}__call": {"call": "http.post", "args": args, "result": "response"}}, *_store(n, step.result, "${response.body}")]

    def parallel(self, n: str, step: Parallel, depth: int) -> list[dict]:
        if len(step.branches) > MAX_BRANCHES:
            raise SpecError(f"workflows.{self.workflow}.steps: parallel step {n} has {len(step.branches)} branches; Workflows allows {MAX_BRANCHES}")
        branches = [
            {f"{n}__branch{i}": {"steps": [_collect(f"{n}__run{i}", self.subworkflow(f"{n}__graph{i}", branch, depth), "${state}", str(i))]}}
            for i, branch in enumerate(step.branches)
        ]
        nulls = [None] * len(step.branches)
        return [
            {f"{n}__slots": {"assign": [{"results": nulls}, {"errors": list(nulls)}]}},
            {f"{n}__join": {"parallel": {"shared": ["results", "errors"], "branches": branches}}},
            *_first_error(n),
            *(_store(n, step.result, "${results}") if step.result else []),
        ]

    def map(self, n: str, step: Map, depth: int) -> list[dict]:
        iterator = self.subworkflow(f"{n}__graph", step.iterator, depth)
        items = f"${{{_access(step.items.split('.'))}}}"
        each = {"value": "item", "index": "index", "in": "${items}",
                "steps": [_collect(f"{n}__run", iterator, {"item": "${item}", "index": "${index}"}, "index")]}
        run = {"shared": ["results", "errors"]}
        if step.max_concurrency:
            run["concurrency_limit"] = min(step.max_concurrency, MAX_CONCURRENCY)
        return [
            {f"{n}__slots": {"assign": [{"items": items}, {"results": []}, {"errors": []}]}},
            {f"{n}__slot": {"for": {"value": "item", "in": "${items}", "steps": [
                {f"{n}__reserve": {"assign": [{"results": "${list.concat(results, null)}"}, {"errors": "${list.concat(errors, null)}"}]}},
            ]}}},
            {f"{n}__join": {"parallel": run | {"for": each}}},
            *_first_error(n),
            *(_store(n, step.result, "${results}") if step.result else []),
        ]

    def subworkflow(self, name: str, branch: Branch, depth: int) -> str:
        if depth > MAX_PARALLEL_NESTING:
            raise SpecError(f"workflows.{self.workflow}.steps: parallel and map steps nest {depth} deep at {name}; Workflows allows {MAX_PARALLEL_NESTING}")
        self.subworkflows[name] = {}  # an outer branch before the branches nested in it
        self.subworkflows[name] = {"params": ["state"], "steps": self.graph(branch.start, branch.steps, depth)}
        return name


def _variables(steps) -> list[tuple[str, object]]:
    """Variables a graph must declare before its steps: what an ``except`` block assigns."""
    kinds = {type(s) for s in steps}
    return ([("failure", None)] if kinds & {Task, Parallel, Map} else []) + ([("matched", False)] if Choice in kinds else [])


def _guarded(n: str, step: Task | Parallel | Map, work: list[dict]) -> list[dict]:
    """`work` in try, the error in portable form, then the retry loop, catch or raise."""
    own = mentioned(step)
    retries, catches = until_all(step.retry), until_all(step.catch)
    otherwise = f"{n}__catch" if catches else f"{n}__raise"
    entry = [{"failure": None}]
    if retries:
        entry += [{"tries": [0] * len(retries)}, {"delays": [delays(r) for r in retries]}]
    out = [
        {n: {"assign": entry}},
        {f"{n}__try": {"try": {"steps": work}, "except": {"as": "e", "steps": [
            {f"{n}__error": {"call": PORTABLE_ERROR, "args": {"e": "${e}"}, "result": "failure"}},
        ]}}},
        {f"{n}__check": {
            "switch": [{"condition": "${failure == null}", "next": _then(step.next)}]
            + [{"condition": _matches(r.errors, own), "next": f"{n}__retry{i}"} for i, r in enumerate(retries)],
            "next": otherwise,
        }},
    ]
    for i, retry in enumerate(retries):
        out += [
            {f"{n}__retry{i}": {"switch": [{"condition": f"${{tries[{i}] < {retry.attempts}}}", "next": f"{n}__wait{i}"}], "next": otherwise}},
            {f"{n}__wait{i}": {"call": "sys.sleep", "args": {"seconds": f"${{delays[{i}][tries[{i}]]}}"}}},
            {f"{n}__again{i}": {"assign": [{f"tries[{i}]": f"${{tries[{i}] + 1}}"}, {"failure": None}], "next": f"{n}__try"}},
        ]
    if catches:
        out.append({f"{n}__catch": {
            "switch": [{"condition": _matches(c.errors, own), "next": f"{n}__caught{i}"} for i, c in enumerate(catches)],
            "next": f"{n}__raise",
        }})
        out += [{f"{n}__caught{i}": {"assign": [{'state["error"]': "${failure}"}], "next": _id(c.next)}} for i, c in enumerate(catches)]
    return out + [{f"{n}__raise": {"raise": "${failure}"}}]


def _matches(errors: Sequence[str], mentioned: list[str]) -> str | bool:
    """The condition that the portable `failure` matches an entry listing `errors`."""
    if "all" in errors:
        return True
    tests = [f'failure["error"] == {_literal(e)}' for e in errors if e != "TaskFailed"]
    if "TaskFailed" in errors:
        tests.append("not(" + " or ".join(f'failure["error"] == {_literal(e)}' for e in ["Timeout", *mentioned]) + ")")
    return "${" + " or ".join(tests) + "}"


def _collect(name: str, subworkflow: str, state: object, slot: str) -> dict:
    """Run one branch (or item) and keep its final state, or its error, in its slot."""
    return {name: {
        "try": {"steps": [
            {f"{name}_call": {"call": subworkflow, "args": {"state": state}, "result": "output"}},
            {f"{name}_keep": {"assign": [{f"results[{slot}]": "${output}"}]}},
        ]},
        "except": {"as": "e", "steps": [{f"{name}_lost": {"assign": [{f"errors[{slot}]": "${e}"}]}}]},
    }}


def _first_error(n: str) -> list[dict]:
    """Raise the first branch's (or item's) error, in order, if any failed."""
    return [{f"{n}__failed": {"for": {"value": "error", "in": "${errors}", "steps": [
        {f"{n}__first": {"switch": [{"condition": "${error != null}", "steps": [{f"{n}__rethrow": {"raise": "${error}"}}]}]}},
    ]}}}]


def _store(n: str, path: str, value: str) -> list[dict]:
    """Assign `value` at the dotted `path` of the state, creating missing parent maps first."""
    keys = path.split(".")
    parents = [
        {f"{n}__parent{i}": {"switch": [{
            "condition": f"${{not({_literal(keys[i - 1])} in {_access(keys[: i - 1])})}}",
            "steps": [{f"{n}__new{i}": {"assign": [{_access(keys[:i]): {}}]}}],
        }]}}
        for i in range(1, len(keys))
    ]
    return parents + [{f"{n}__store": {"assign": [{_access(keys): value}]}}]


def _choice(n: str, step: Choice) -> list[dict]:
    """Per rule: evaluate it into `matched` (its `unknown` value if it cannot be), then route."""
    out: list[dict] = []
    for i, rule in enumerate(step.rules):
        test, unknown = _rule(rule)
        out += [
            {n if i == 0 else f"{n}__rule{i}": {
                "try": {"steps": [{f"{n}__test{i}": {"assign": [{"matched": test}]}}]},
                "except": {"as": "e", "steps": [{f"{n}__unknown{i}": {"assign": [{"matched": unknown}]}}]},
            }},
            {f"{n}__route{i}": {"switch": [{"condition": "${matched}", "next": _id(rule.next)}]}},
        ]
    if step.default:
        out[-1][f"{n}__route{len(step.rules) - 1}"]["next"] = _id(step.default)
        return out
    return out + [{f"{n}__nomatch": {"raise": {"error": "NoChoiceMatched", "cause": f"no rule of choice step {n} matched"}}}]


def _rule(rule: Rule) -> tuple[str, bool]:
    """The rule's test, and what it means when the test cannot be evaluated (missing path)."""
    keys = rule.path.split(".")
    if rule.op == "exists":
        present = f"{_literal(keys[-1])} in {_access(keys[:-1])}"
        return (f"${{{present}}}", False) if rule.value is not False else (f"${{not({present})}}", True)
    if rule.op == "!=":
        return f"${{not({_access(keys)} == {_literal(rule.value)})}}", True
    return f"${{{_access(keys)} {rule.op} {_literal(rule.value)}}}", False


def _access(keys: Sequence[str]) -> str:
    """``state["a"]["b"]``: brackets, so that no key is read as a keyword."""
    return "state" + "".join(f"[{_literal(k)}]" for k in keys)


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def _then(next_step: str | None) -> str:
    return _id(next_step) if next_step else DONE


def _id(name: str) -> str:
    """Spec step names use single hyphens; Workflows names are identifiers."""
    return name.replace("-", "_")
