"""Where an Azure resource sits in Azure Resource Manager's hierarchy, and what a management lock covers.

"When you apply a lock at a parent scope, all resources within that scope inherit the same
lock" (https://learn.microsoft.com/azure/azure-resource-manager/management/lock-resources):
a lock on a resource covers its child resources (a Cosmos DB account's databases, containers
and SQL role assignments) and the extension resources scoped to it or below it (role
assignments), a lock on a resource group covers everything in it, a lock on a subscription
everything. The pack reads the hierarchy two ways, so it works in a first preview (ids
unknown) as on a stack export (ids known):

- ARM ids, where known: a resource is below every resource whose id is a prefix of its own
  id, or, for an extension resource, of its `scope`;
- property dependencies: a resource is below the resource its parent-naming input
  (`accountName`, `databaseName`, `vaultName`, `serviceName`, `scope`, `resourceGroupName`,
  ...) comes from. A dependency cannot tell `account.id` from `account.id + "/dbs/x"`, so a
  scope computed from a resource's output counts as that resource.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from pulumi_policy import PolicyResource

from .common import dependency_urns, known, lower

LOCK_AT_RESOURCE = "azure-native:authorization:ManagementLockAtResourceLevel"
LOCK_BY_SCOPE = "azure-native:authorization:ManagementLockByScope"
LOCK_AT_RESOURCE_GROUP = "azure-native:authorization:ManagementLockAtResourceGroupLevel"
LOCK_AT_SUBSCRIPTION = "azure-native:authorization:ManagementLockAtSubscriptionLevel"
LOCKS = (LOCK_AT_RESOURCE, LOCK_BY_SCOPE, LOCK_AT_RESOURCE_GROUP, LOCK_AT_SUBSCRIPTION)
#: "CanNotDelete means authorized users can read and modify a resource, but they can't delete
#: it"; "ReadOnly means authorized users can read a resource, but they can't delete or update it".
DELETE_LOCK_LEVELS = ("CanNotDelete", "ReadOnly")

#: Inputs through which an azure-native resource names the resource it lives under.
PARENT_PROPS = ("resourceGroupName", "accountName", "databaseName", "keyspaceName", "graphName", "vaultName",
                "serviceName", "siteName", "serverName", "namespaceName", "workspaceName", "scope", "resourceUri",
                "hsmName")
#: Site children (auth settings, publishing-credential policies, slots) name their site in `name`.
SITE_CHILD_PREFIX = "azure-native:web:WebApp"

_GROUP_PATH = re.compile(r"^/resourcegroups/([^/]+)$")
_SUBSCRIPTION = re.compile(r"^/subscriptions/[^/]+", re.IGNORECASE)


def _path(value: Any) -> str | None:
    """An ARM id in lower case after its `/subscriptions/<id>` (a stack deploys to one
    subscription; "" is the subscription itself), without a trailing slash; None if not an id."""
    if not isinstance(value, str) or not _SUBSCRIPTION.match(value):
        return None
    return _SUBSCRIPTION.sub("", value.rstrip("/"), count=1).lower()


def arm_id(resource: PolicyResource) -> str | None:
    """The resource's ARM id (as `_path` gives it), when known."""
    return _path(known(resource.props, "id"))


def _literal_scope(resource: PolicyResource) -> str | None:
    return _path(known(resource.props, "scope"))


def _below(own: str | None, scope: str) -> bool:
    return own is not None and (scope == "" or own.startswith(scope + "/"))


class Hierarchy:
    """The stack's resources with, for each, the stack's resources it lives under."""

    def __init__(self, resources: Sequence[PolicyResource]):
        self.resources = [r for r in resources if r.resource_type.startswith("azure-native:")]
        self.by_urn = {r.urn: r for r in self.resources}
        self.ids = {r.urn: arm_id(r) for r in self.resources}
        self._above: dict[str, set[str]] = {}

    def _parents(self, resource: PolicyResource) -> set[str]:
        """URNs of the resources directly above `resource` (by dependency or id prefix)."""
        props = list(PARENT_PROPS)
        if resource.resource_type.startswith(SITE_CHILD_PREFIX) and resource.resource_type != "azure-native:web:WebApp":
            props.append("name")
        found = {urn for prop in props for urn in dependency_urns(resource, prop) if urn in self.by_urn}
        own = self.ids[resource.urn] or _literal_scope(resource)
        if own is not None:
            found |= {urn for urn, rid in self.ids.items() if rid and urn != resource.urn
                      and (own == rid or _below(own, rid))}
        found.discard(resource.urn)
        return found

    def above(self, resource: PolicyResource) -> set[str]:
        """URNs of every resource of the stack that `resource` lives under (transitively)."""
        if resource.urn not in self._above:
            self._above[resource.urn] = set()  # a cycle of dependencies ends here
            out: set[str] = set()
            for parent in self._parents(resource):
                out.add(parent)
                out |= self.above(self.by_urn[parent])
            self._above[resource.urn] = out
        return self._above[resource.urn]

    def lock_targets(self, lock: PolicyResource) -> tuple[set[str], str | None, str | None]:
        """(URNs of the stack's resources the lock is on, the literal scope id it names, the literal
        resource group it names); a subscription lock is on everything."""
        typ, props = lock.resource_type, lock.props
        if typ == LOCK_AT_SUBSCRIPTION:
            return {r.urn for r in self.resources}, None, None
        if typ == LOCK_AT_RESOURCE_GROUP:
            deps = {u for u in dependency_urns(lock, "resourceGroupName") if u in self.by_urn}
            return deps, None, lower(known(props, "resourceGroupName")) if not deps else None
        if typ == LOCK_BY_SCOPE:
            deps = {u for u in dependency_urns(lock, "scope") if u in self.by_urn}
            scope = None if deps else _literal_scope(lock)
            if scope and (match := _GROUP_PATH.match(scope)):
                return deps, None, match.group(1)
            return deps, scope, None
        if typ == LOCK_AT_RESOURCE:
            deps = {u for u in dependency_urns(lock, "resourceName") if u in self.by_urn}
            if deps:
                return deps, None, None
            parts = [known(props, k) for k in ("resourceProviderNamespace", "parentResourcePath", "resourceType",
                                               "resourceName")]
            group = lower(known(props, "resourceGroupName"))
            if group and all(isinstance(p, str) for i, p in enumerate(parts) if i != 1) and parts[3]:
                path = "/".join(p.strip("/") for p in parts if isinstance(p, str) and p.strip("/"))
                suffix = f"/resourcegroups/{group}/providers/{path}".lower()
                ids = {u for u, rid in self.ids.items() if rid and rid.endswith(suffix)}
                return ids, None, None
        return set(), None, None

    def covered(self, lock: PolicyResource, include_targets: bool = False) -> list[PolicyResource]:
        """The stack's resources below the lock's scope (and, with `include_targets`, the resources
        it is on), locks excluded."""
        targets, scope, group = self.lock_targets(lock)
        out = []
        for resource in self.resources:
            if resource.resource_type in LOCKS or resource.urn == lock.urn:
                continue
            if resource.urn in targets:
                if include_targets or lock.resource_type == LOCK_AT_SUBSCRIPTION:
                    out.append(resource)
                continue
            if targets & self.above(resource):
                out.append(resource)
                continue
            own = self.ids[resource.urn] or _literal_scope(resource)
            if scope is not None and (_below(own, scope) or (include_targets and own == scope)):
                out.append(resource)
            elif group and (lower(known(resource.props, "resourceGroupName")) == group
                            or _below(own, f"/resourcegroups/{group}") or own == f"/resourcegroups/{group}"):
                out.append(resource)
        return out


def delete_locks(resources: Iterable[PolicyResource]) -> list[tuple[PolicyResource, Any]]:
    """(lock, level) of every management lock in `resources`."""
    return [(r, known(r.props, "level")) for r in resources if r.resource_type in LOCKS]
