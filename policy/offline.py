"""Run the policy pack without the Pulumi engine: on a rendered stack or a `pulumi stack export`.

The engine is imitated, not replaced: each resource becomes a `ResourceValidationArgs` /
`PolicyResource` with its camelCase inputs wrapped in the SDK's `unknown_checking_proxy`,
stack policies get parents, dependencies and property dependencies resolved to resources,
each policy gets its configured enforcement level and config, and a policy that touches an
unknown value is skipped with an advisory note, as `pulumi preview` does. The PolicyPack itself
is never constructed here (that starts the analyzer server and blocks).
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
)
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from . import POLICIES

SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
LEVELS = {"mandatory": EnforcementLevel.MANDATORY, "advisory": EnforcementLevel.ADVISORY, "disabled": EnforcementLevel.DISABLED}


class PolicyInputError(ValueError):
    """An export file or policy config that cannot be evaluated; one line."""


@dataclass(frozen=True)
class Violation:
    policy: str
    level: str
    urn: str
    message: str


@dataclass
class Report:
    violations: list[Violation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.level == "mandatory"]

    def by_policy(self) -> dict[str, list[Violation]]:
        grouped: dict[str, list[Violation]] = {}
        for v in self.violations:
            grouped.setdefault(v.policy, []).append(v)
        return grouped


def load_export(path: Path) -> list[dict[str, Any]]:
    """The resources of a `pulumi stack export` (version 3) file."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise PolicyInputError(f"--from {path}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise PolicyInputError(f"--from {path}: not JSON ({err})") from None
    if not isinstance(data, dict) or data.get("version") != 3:
        raise PolicyInputError(f"--from {path}: version {data.get('version') if isinstance(data, dict) else None!r} is not allowed; allowed: a `pulumi stack export` with version 3")
    resources = (data.get("deployment") or {}).get("resources")
    if not isinstance(resources, list) or not all(isinstance(r, dict) and "urn" in r and "type" in r for r in resources):
        raise PolicyInputError(f"--from {path}: deployment.resources must be a list of resources with urn and type")
    return resources


def _unwrap_secrets(value: Any) -> Any:
    """Secrets as the engine hands them to policies: the value, or a placeholder if encrypted."""
    if isinstance(value, Mapping):
        if value.get(SECRET_SIG_KEY) == SECRET_SIG:
            return value.get("plaintext", value.get("value", "[secret]"))
        return {k: _unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap_secrets(v) for v in value]
    return value


def _name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def _options(resource: Mapping[str, Any]) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=bool(resource.get("protect", False)),
        ignore_changes=[],
        delete_before_replace=bool(resource.get("deleteBeforeReplace", False)),
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=list(resource.get("additionalSecretOutputs", [])),
        parent=resource.get("parent"),
    )


def _props(resource: Mapping[str, Any], stack: bool = False) -> Mapping[str, Any]:
    """Resource policies see the inputs (as in preview); stack policies see the outputs, as the
    engine passes them, falling back to the inputs for what an export's outputs leave out."""
    inputs = resource.get("inputs") or {}
    props = {**inputs, **(resource.get("outputs") or {})} if stack else (inputs or resource.get("outputs") or {})
    return unknown_checking_proxy(_unwrap_secrets(props))


def _policy_config(policy: Policy, overrides: Mapping[str, Any]) -> dict[str, Any]:
    schema = policy.config_schema.properties if policy.config_schema else {}
    values = {k: v["default"] for k, v in schema.items() if "default" in v}
    values.update({k: v for k, v in overrides.items() if k in schema})
    values.update(overrides.get(policy.name, {}) if isinstance(overrides.get(policy.name), Mapping) else {})
    return values


def _run(call) -> None:
    result = call()
    if inspect.isawaitable(result):
        asyncio.run(result)


def _provider(resource: Mapping[str, Any]) -> PolicyProviderResource | None:
    """A custom resource's provider, as the engine gives it (components have none); the export
    names it by URN (`urn::id`) when it is not the default one."""
    if not resource.get("custom", True):
        return None
    package = resource["type"].split(":", 1)[0]
    urn = str(resource.get("provider") or "").rsplit("::", 1)[0] or f"urn:pulumi:::::pulumi:providers:{package}::default"
    return PolicyProviderResource(f"pulumi:providers:{package}", {}, urn, _name(urn))


def _stack_resources(resources: list[Mapping[str, Any]]) -> list[PolicyResource]:
    built: dict[str, PolicyResource] = {}
    for r in resources:
        built[r["urn"]] = PolicyResource(
            resource_type=r["type"],
            props=_props(r, stack=True),
            urn=r["urn"],
            name=_name(r["urn"]),
            opts=_options(r),
            provider=_provider(r),
            parent=None,
            dependencies=[],
            property_dependencies={},
        )
    for r in resources:
        res = built[r["urn"]]
        res.parent = built.get(r.get("parent") or "")
        res.dependencies = [built[u] for u in r.get("dependencies", []) if u in built]
        res.property_dependencies = {
            k: [built[u] for u in urns if u in built] for k, urns in (r.get("propertyDependencies") or {}).items()
        }
    return list(built.values())


def evaluate(
    resources: Iterable[Mapping[str, Any]],
    environment: str = "prod",
    config: Mapping[str, Any] | None = None,
    levels: Mapping[str, str] | None = None,
    policies: Iterable[Policy] = POLICIES,
) -> Report:
    """Every policy over `resources` (stack-export shape); config is pack-wide or per policy name."""
    if environment not in ("dev", "prod"):
        raise PolicyInputError(f"--environment: {environment!r} is not allowed; allowed: dev, prod")
    overrides = {"environment": environment, **(config or {})}
    for name, level in (levels or {}).items():
        if level not in LEVELS:
            raise PolicyInputError(f"policy level {name}={level!r} is not allowed; allowed: {', '.join(LEVELS)}")
    resources = [r for r in resources if not r["type"].startswith("pulumi:")]
    stack = _stack_resources(resources)
    inputs = [_props(r) for r in resources]  # built once, shared read-only by every resource policy
    by_type: dict[str, list[tuple[int, tuple[PolicyResource, Any]]]] = {}  # in the stack's order
    for index, (res, props) in enumerate(zip(stack, inputs)):
        by_type.setdefault(res.resource_type, []).append((index, (res, props)))
    report = Report()
    for policy in policies:
        level = LEVELS.get((levels or {}).get(policy.name, ""), policy.enforcement_level or EnforcementLevel.ADVISORY)
        if level == EnforcementLevel.DISABLED:
            continue
        cfg = _policy_config(policy, overrides)

        def reporter(urn: str, policy: Policy = policy, level: EnforcementLevel = level):
            """The `report_violation` callback: a violation without a URN belongs to `urn`."""
            return lambda message, at=None: report.violations.append(Violation(policy.name, level.value, at or urn, message))

        try:
            if isinstance(policy, ResourceValidationPolicy):
                # The pack's policies say which types they read (policy/common.py): only those are
                # visited, as their own type check would skip the rest anyway.
                types = getattr(policy, "resource_types", None)
                visited = (enumerate(zip(stack, inputs)) if not types or "*" in types else
                           sorted(pair for t in set(types) for pair in by_type.get(t, ())))
                for _, (res, props) in visited:
                    args = ResourceValidationArgs(res.resource_type, props, res.urn, res.name, res.opts, None, cfg)
                    try:
                        _run(lambda: policy.validate(args, reporter(res.urn)))
                    except UnknownValueError as err:
                        report.notes.append(f"{policy.name}: can't run on {res.urn}: {err.message}")
                    except _NotApplicableError:
                        pass
            else:
                args = StackValidationArgs(stack, cfg)
                _run(lambda: policy.validate(args, reporter("")))
        except UnknownValueError as err:
            report.notes.append(f"{policy.name}: can't run: {err.message}")
        except _NotApplicableError:
            pass
    return report
