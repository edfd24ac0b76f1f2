"""What a rendered stack is, in the declaration's words: its blocks (API, routes, functions, queues
and their dead letters, tables, workflows, secrets, keys) and the grants between them, read back
from the stack's resources: a render, or any `pulumi stack export`.

Nothing here is taken from the declaration: an arrow exists because a grant exists in the
resources (an IAM policy, an IAM member, a role assignment), so a picture drawn from it cannot
drift from what deploys. Each cloud's package knows how its resources and grants map back
(`components/<cloud>/architecture.py`: `read(stack)`); this module holds the model, the index of
the resources and what is common to the three. The diagram (components/diagram.py), the cost
(components/cost.py) and the pull-request view (components/compare.py) read it.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

import yaml

#: libyaml's safe loader where PyYAML has it (ten times the pure-Python one), else the pure one: a
#: workflow's source, an API's OpenAPI document and the price tables are YAML.
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: The neutral block kinds, in the order a picture lays them out (the reading order of a request).
KINDS = ("api", "route", "function", "queue", "dead-letters", "workflow", "table", "secret", "key")

#: What a holder may do, as `uses` declares it (docs/design.md's verb table); `consume` is a queue
#: delivering to its consumer, `invoke` an API route or a workflow calling a function; `dead-letter`
#: a queue's redrive to its dead letters and `encrypts` a key's use are settings, not grants.
VERBS = ("invoke", "consume", "send", "start", "read", "write", "dead-letter", "encrypts")

#: The component types anycloud registers for the declared blocks (components/service.py).
COMPONENT_PREFIX = "anycloud:index:"

#: A type token's package -> the cloud whose package reads it back.
CLOUD_OF_PACKAGE = {"aws": "aws", "gcp": "gcp", "azure-native": "azure"}


class ArchitectureError(ValueError):
    """The resources are not an anycloud stack this module can read (no cloud's resources)."""


@dataclass(frozen=True)
class Block:
    """One declared building block and the cloud resources it stands for."""

    kind: str
    name: str
    service: str  # what it is on the cloud, e.g. "DynamoDB table"
    urns: tuple[str, ...]
    protected: bool = False
    note: str = ""  # e.g. a route's authentication, a function's warm instances
    group: str = ""  # the key of the block it is drawn inside (a route in its API, a task in its workflow)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"

    @property
    def label(self) -> str:
        name = f"{self.name} dead letters" if self.kind == "dead-letters" else self.name
        return f"{name} · {self.service}" + (f" ({self.note})" if self.note else "")


@dataclass(frozen=True)
class Arrow:
    """`source` may `verb` `target` because of the grant resources in `evidence` (their URNs)."""

    source: str
    target: str
    verb: str
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class Grant:
    """What a cloud's reader finds: a resource that holds (or is) the caller, a resource called,
    the verb, and the grant resources that allow it. Mapped onto blocks by `Architecture.build`."""

    source: str  # URN of a resource of the calling block
    target: str  # URN of a resource of the called block
    verb: str
    evidence: tuple[str, ...]


@dataclass
class Architecture:
    cloud: str
    blocks: dict[str, Block]
    arrows: list[Arrow] = field(default_factory=list)

    @classmethod
    def build(cls, stack: "Stack", blocks: Iterable[Block], grants: Iterable[Grant]) -> "Architecture":
        """Blocks from the cloud's reader; a grant's caller mapped onto the block that holds the
        resource, else the block of the resource's component (a role, a service account); what it
        calls must be a block's own resource (a grant on a table's stream machinery is not one on
        the table); arrows between the same two blocks with the same verb are one arrow (its
        evidence the union)."""
        by_key: dict[str, Block] = {}
        for block in sorted(blocks, key=lambda b: (KINDS.index(b.kind), b.name)):
            # Two resources of a block's type under one component (a table's database and its stream's
            # delivery ledger): the block is the one named as the component, the other is machinery.
            kept = by_key.get(block.key)
            if kept is None or (Stack.name({"urn": block.urns[0]}) == block.name != Stack.name({"urn": kept.urns[0]})):
                by_key[block.key] = block
        ordered = list(by_key.values())
        owner = {urn: b.key for b in ordered for urn in b.urns}
        merged: dict[tuple[str, str, str], set[str]] = {}
        for grant in grants:
            source, target = stack.block_of(grant.source, owner), owner.get(grant.target)
            if source in by_key and target in by_key and source != target:
                merged.setdefault((source, target, grant.verb), set()).update(grant.evidence)
        arrows = [Arrow(s, t, v, tuple(sorted(e))) for (s, t, v), e in merged.items()]
        arrows.sort(key=lambda a: (list(by_key).index(a.source), list(by_key).index(a.target), VERBS.index(a.verb)))
        return cls(cloud=stack.cloud, blocks=by_key, arrows=arrows)

    def of_kind(self, kind: str) -> list[Block]:
        return [b for b in self.blocks.values() if b.kind == kind]

    def lines(self) -> list[str]:
        """The arrows as sentences (the diff of two pictures compares these)."""
        return [f"{self.blocks[a.source].label} --{a.verb}--> {self.blocks[a.target].label}" for a in self.arrows]


class Stack:
    """An index over a stack's resources (export shape: urn, type, inputs, outputs, parent, id)."""

    def __init__(self, resources: Iterable[dict[str, Any]]):
        self.resources = [r for r in resources if not r["type"].startswith("pulumi:")]
        self.by_urn = {r["urn"]: r for r in self.resources}
        clouds = {CLOUD_OF_PACKAGE[r["type"].split(":", 1)[0]] for r in self.resources
                  if r["type"].split(":", 1)[0] in CLOUD_OF_PACKAGE}
        if len(clouds) != 1:
            found = ", ".join(sorted(clouds)) or "none"
            raise ArchitectureError(f"the stack's resources belong to {found} of the clouds; allowed: exactly one of "
                                    "aws, gcp, azure")
        self.cloud = clouds.pop()

    def of_type(self, *types: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r["type"] in types]

    @staticmethod
    def name(resource: dict[str, Any]) -> str:
        """The resource's logical name (the last part of its URN)."""
        return resource["urn"].rsplit("::", 1)[-1]

    @staticmethod
    def value(resource: dict[str, Any], key: str) -> Any:
        """The input (what the stack declares, and what a change edits), else the output the cloud
        computed (an ARN, an e-mail, a principal id)."""
        inputs = resource.get("inputs") or {}
        return inputs[key] if inputs.get(key) not in (None, "") else (resource.get("outputs") or {}).get(key)

    def find(self, types: Iterable[str], key: str, value: Any) -> dict[str, Any] | None:
        if value in (None, ""):
            return None
        types = set(types)
        for r in self.resources:
            if r["type"] in types and (self.value(r, key) == value or (key == "id" and r.get("id") == value)):
                return r
        return None

    def component(self, urn: str) -> tuple[str, str] | None:
        """The nearest declared block above a resource: ("table", "orders"); ("service", name) for
        what the service shares (its key, its alarm topic)."""
        resource = self.by_urn.get(urn)
        while resource is not None:
            if resource["type"].startswith(COMPONENT_PREFIX):
                return resource["type"][len(COMPONENT_PREFIX):].lower(), self.name(resource)
            resource = self.by_urn.get(resource.get("parent", ""))
        return None

    def block_of(self, urn: str, owner: dict[str, str]) -> str | None:
        if urn in owner:
            return owner[urn]
        component = self.component(urn)
        return f"{component[0]}:{component[1]}" if component else None

    def block(self, resource: dict[str, Any], service: str, *, kind: str | None = None, name: str | None = None,
              also: Iterable[dict[str, Any]] = (), note: str = "", group: str = "") -> Block:
        """A block for a primary resource: its kind and name from its component unless given."""
        component = self.component(resource["urn"]) or ("service", self.name(resource))
        members = [resource, *also]
        return Block(kind=kind or component[0], name=name or component[1], service=service,
                     urns=tuple(r["urn"] for r in members), protected=any(r.get("protect") for r in members),
                     note=note, group=group)


def strings(value: Any) -> Iterator[str]:
    """Every string inside a JSON value, its objects' keys included (an ARN in a policy, an identity's
    id as the key of `userAssignedIdentities`)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def mentions(resource: dict[str, Any], needle: str) -> bool:
    """Whether any input of the resource names `needle` (a key's ARN, a key's resource name)."""
    return bool(needle) and any(needle in s for s in strings(resource.get("inputs") or {}))


def policy_document(value: Any) -> dict[str, Any]:
    """An IAM policy document given as a JSON string or an object."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def read(resources: Iterable[dict[str, Any]]) -> Architecture:
    """The architecture of a stack's resources, read by its cloud's package."""
    stack = Stack(resources)
    reader = importlib.import_module(f"components.{stack.cloud}.architecture")
    return reader.read(stack)
