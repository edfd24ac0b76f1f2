"""The pull-request view: what a change to a stack adds, removes and replaces (protected resources
first), how its picture and its cost change, as Markdown for a review comment. Offline: two stack
exports (before and after), no engine.

Replacement is decided here, not by the providers' engine (the Python SDKs do not carry their
replace-on-change schema), so each replacement says why: the type changed, the URN changed
(another parent or name: Pulumi deletes and creates unless an alias says otherwise), a property the
cloud's catalogue documents as replacement-forcing changed (`components/<cloud>/replacements.py`),
or, a guess, an input that names the resource changed (its old value was part of the resource's
id). `pulumi preview --diff` is the authority.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Iterable

from .architecture import Architecture, Stack, read
from .cost import Estimate, PricingError, estimate
from .diagram import mermaid

SKIPPED = ("pulumi:", "anycloud:index:")  # the stack and the neutral components hold no cloud state


@dataclass(frozen=True)
class Change:
    kind: str  # added, removed, replaced, updated
    urn: str
    type: str
    protected: bool
    why: str = ""
    guess: bool = False

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]


def _resources(resources: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["urn"]: r for r in resources if not r["type"].startswith(SKIPPED)}


def _parent_path(urn: str) -> str:
    """The URN less its name: stack, project and the type chain (parents' types, then the type)."""
    return urn.rsplit("::", 1)[0]


def _get(inputs: dict[str, Any], dotted: str) -> Any:
    value: Any = inputs
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _identity(resource: dict[str, Any]) -> str:
    outputs = resource.get("outputs") or {}
    return " ".join(str(v) for v in (resource.get("id"), outputs.get("arn"), outputs.get("id"), outputs.get("name")) if v)


def _replacement(cloud: str, old: dict[str, Any], new: dict[str, Any]) -> tuple[str, bool] | None:
    """Why an update of the same URN replaces the resource (and whether that is a guess), else None."""
    catalogue = importlib.import_module(f"components.{cloud}.replacements").REPLACED_BY
    before, after = old.get("inputs") or {}, new.get("inputs") or {}
    properties, source = catalogue.get(new["type"], ((), ""))
    changed = [p for p in properties if _get(before, p) != _get(after, p)]
    if changed:
        return f"{', '.join(changed)} changed: replacement-forcing ({source})", False
    identity = _identity(old)
    naming = [k for k, v in before.items() if isinstance(v, str) and len(v) > 2 and v in identity and after.get(k) != v]
    if naming:
        return f"{', '.join(sorted(naming))} changed and named the resource (a guess: its value was part of its id)", True
    return None


def changes(cloud: str, old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[Change]:
    """Every resource added, removed, replaced or updated between two exports; protected first."""
    before, after = _resources(old), _resources(new)
    found: list[Change] = []
    gone = {u: r for u, r in before.items() if u not in after}
    came = {u: r for u, r in after.items() if u not in before}
    for urn, resource in list(came.items()):
        # the same logical name under another type or parent: Pulumi deletes the old and creates this one
        match = next((u for u, r in gone.items() if r["urn"].rsplit("::", 1)[-1] == urn.rsplit("::", 1)[-1]
                      and (r["type"] != resource["type"] or _parent_path(u) != _parent_path(urn))), None)
        if match:
            old_r = gone.pop(match)
            why = (f"type changed from {old_r['type']}" if old_r["type"] != resource["type"]
                   else "its URN changed (another parent): deleted and created unless an alias keeps it")
            found.append(Change("replaced", urn, resource["type"], bool(old_r.get("protect") or resource.get("protect")), why))
            del came[urn]
    found += [Change("added", u, r["type"], bool(r.get("protect"))) for u, r in came.items()]
    found += [Change("removed", u, r["type"], bool(r.get("protect"))) for u, r in gone.items()]
    for urn in before.keys() & after.keys():
        old_r, new_r = before[urn], after[urn]
        if (old_r.get("inputs") or {}) == (new_r.get("inputs") or {}):
            continue
        replaced = _replacement(cloud, old_r, new_r)
        protected = bool(old_r.get("protect") or new_r.get("protect"))
        if replaced:
            found.append(Change("replaced", urn, new_r["type"], protected, replaced[0], replaced[1]))
        else:
            changed = sorted(k for k in set(old_r.get("inputs") or {}) | set(new_r.get("inputs") or {})
                             if (old_r.get("inputs") or {}).get(k) != (new_r.get("inputs") or {}).get(k))
            found.append(Change("updated", urn, new_r["type"], protected, ", ".join(changed)))
    order = ("replaced", "removed", "added", "updated")
    return sorted(found, key=lambda c: (order.index(c.kind), not c.protected, c.type, c.name))


def _diagram_lines(old: Architecture, new: Architecture) -> tuple[list[str], list[str]]:
    before, after = set(old.lines()), set(new.lines())
    blocks_before = {b.label for b in old.blocks.values()}
    blocks_after = {b.label for b in new.blocks.values()}
    added = sorted(f"block {b}" for b in blocks_after - blocks_before) + sorted(after - before)
    removed = sorted(f"block {b}" for b in blocks_before - blocks_after) + sorted(before - after)
    return added, removed


def _usd(value: float) -> str:
    return f"{value:,.2f}"


def _delta(value: float) -> str:
    return ("+" if value > 0.005 else "") + _usd(value) if abs(value) >= 0.005 else "0.00"


def _cost_rows(old: Estimate, new: Estimate) -> list[str]:
    rows = ["| | before | after | change |", "|---|---:|---:|---:|",
            f"| at rest, a month | {_usd(old.at_rest_usd)} | {_usd(new.at_rest_usd)} | {_delta(new.at_rest_usd - old.at_rest_usd)} |"]
    for route in sorted(set(old.routes) | set(new.routes)):
        a = old.per_million(route) if route in old.routes else 0.0
        b = new.per_million(route) if route in new.routes else 0.0
        rows.append(f"| per million `{route}` | {_usd(a) if route in old.routes else '-'} | "
                    f"{_usd(b) if route in new.routes else '-'} | {_delta(b - a)} |")
    return rows


def markdown(old: list[dict[str, Any]], new: list[dict[str, Any]], title: str = "", policy: str = "") -> str:
    """The review comment for a change from `old` to `new` (two stacks' resources, export shape)."""
    cloud = Stack(new).cloud
    found = changes(cloud, old, new)
    counts = {k: sum(1 for c in found if c.kind == k) for k in ("added", "removed", "replaced", "updated")}
    out = [f"## anycloud: {title or 'this change'} ({cloud})", "",
           f"**{counts['replaced']} replaced, {counts['removed']} removed, {counts['added']} added, "
           f"{counts['updated']} updated in place.**"
           + (" Protected resources come first: Pulumi refuses to delete one, so replacing or removing it needs "
              "`anycloud:decommission` first (a move, an alias)." if any(c.protected for c in found
                                                                                     if c.kind in ("replaced", "removed")) else "")]
    touched = [c for c in found if c.protected and c.kind in ("replaced", "removed")]
    if touched:
        out += ["", "Protected resources this change " + ", ".join(f"{c.kind.removesuffix('d')}s: `{c.name}` (`{c.type}`)"
                                                            for c in touched) + "."]
    if policy:
        out += ["", policy]
    for kind, heading in (("replaced", "Replaced (deleted and created again: what it holds is lost)"),
                          ("removed", "Removed"), ("added", "Added")):
        rows = [c for c in found if c.kind == kind]
        if not rows:
            continue
        out += ["", f"### {heading}", "", "| | resource | type | why |", "|---|---|---|---|"]
        for c in rows:
            mark = "protected" if c.protected else ""
            out.append(f"| {mark} | `{c.name}` | `{c.type}` | {('guess: ' if c.guess else '') + c.why if c.why else ''} |")
    updated = [c for c in found if c.kind == "updated"]
    if updated:
        out += ["", f"<details><summary>Updated in place ({len(updated)})</summary>", ""]
        out += [f"- {'**protected** ' if c.protected else ''}`{c.name}` (`{c.type}`): {c.why}" for c in updated]
        out += ["", "</details>"]
    if any(c.guess for c in found) or counts["replaced"]:
        out += ["", "_Replacements are read from the type, the URN and a documented catalogue of replacement-forcing "
                "properties; those marked guess come from a rule (the property named the resource). "
                "`pulumi preview --diff` is the authority._"]
    old_arch, new_arch = read(old), read(new)
    added, removed = _diagram_lines(old_arch, new_arch)
    out += ["", "### What runs (generated from the new stack)", ""]
    if added or removed:
        out += ["```diff"] + [f"+ {line}" for line in added] + [f"- {line}" for line in removed] + ["```", ""]
    else:
        out += ["No block or grant changes.", ""]
    out += ["<details><summary>Diagram</summary>", "", "```mermaid", mermaid(new_arch).rstrip(), "```", "", "</details>"]
    out += ["", "### Cost (USD at list prices, before free tiers)", ""]
    try:
        old_cost, new_cost = estimate(old), estimate(new)
        out += _cost_rows(old_cost, new_cost)
        out += ["", f"Prices: pricing/{cloud}.yaml ({new_cost.prices.region}), with their sources; "
                f"{len(new_cost.assumptions_used())} figures rest on assumptions (`anycloud check --cost` lists them)."]
    except PricingError as err:
        out.append(f"Not priced: {err}")
    return "\n".join(out) + "\n"

