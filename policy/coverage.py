"""Where the pack's guarantees stop: every resource type in the stack that no policy reads.

A type is reviewed when a policy of the pack reads it (its `resource_types`), or when it is
listed in `INERT` below: types looked at and found to hold no data, grant no access and open no
endpoint, so no promise of the pack applies to them. Anything else is reported, one advisory
violation per type with its resources counted, so a team knows which part of its program the
check did not judge (`anycloud check --strict` fails on them in prod).

A dynamic resource (`pulumi-python:dynamic:Resource`, the Azure rendering's package upload
among them) runs code of the program's own during the deployment: no policy can read what it
does, so it is always reported.

Only custom resources count: component resources (the program's own groupings) have no
provider and carry no settings of their own. The engine hands every resource with its provider;
the offline evaluation does the same from the export's `custom` flag.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

from pulumi_policy import StackValidationArgs

from .common import ADVISORY, stack_policy

NAME = "resource-types-reviewed"
EVERY_TYPE = "*"  # its `resource_types`: it reads every type

#: Types reviewed and found to carry none of the pack's promises, each with why.
INERT: dict[str, str] = {
    "random:index/randomString:RandomString": "a generated name suffix held in state; no cloud resource",
    "random:index/randomId:RandomId": "a generated identifier held in state; no cloud resource",
    "random:index/randomPet:RandomPet": "a generated name held in state; no cloud resource",
    "time:index/sleep:Sleep": "a wait between two operations during a deployment; no cloud resource",
    "time:index/rotating:Rotating": "a timestamp held in state; no cloud resource",
    "aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig": "how many instances stay initialised; a cost, not an access, key or endpoint",
    "aws:cloudwatch/dashboard:Dashboard": "a page of metric graphs; sharing a dashboard is an account setting, not this resource's",
    "gcp:monitoring/notificationChannel:NotificationChannel": "where alerts are sent (an address); holds no data",
    "gcp:apigateway/api:Api": "a name for an API's configs; what it serves and who may call is in its ApiConfig, which the route policies read",
    "gcp:apigateway/gateway:Gateway": "serves one ApiConfig (read by the route policies); it has no setting of its own that opens or protects anything",
    "gcp:firestore/field:Field": "one field's index and TTL settings; no access, key or endpoint",
    "gcp:firestore/index:Index": "a composite index of a database the table policies read; no access, key or endpoint",
    "gcp:kms/keyRing:KeyRing": "a name space for keys that cannot be deleted and has no settings; its keys are read by the key policies",
}


def reviewed_types(policies) -> frozenset[str]:
    """Every type some policy of `policies` reads, and the inert ones."""
    read = {t for p in policies for t in (p.resource_types or ()) if t != EVERY_TYPE}
    return frozenset(read | set(INERT))


@lru_cache(maxsize=1)
def _pack_reviews() -> frozenset[str]:
    from . import POLICIES  # the whole pack, this policy included, is built by policy/__init__.py

    return reviewed_types(POLICIES)


def unreviewed(custom_types: Iterable[str]) -> Counter[str]:
    """How many resources of each type (of custom resources) no policy of the pack reads."""
    reviewed = _pack_reviews()
    return Counter(t for t in custom_types if not t.startswith("pulumi:") and t not in reviewed)


def _check(args: StackValidationArgs, report) -> None:
    counts = unreviewed(r.resource_type for r in args.resources if r.provider is not None)
    for type_, count in sorted(counts.items()):
        report(f"{type_} ({count} resource{'s' if count > 1 else ''}) is read by no policy of the pack: its settings "
               "(keys, access, endpoints, backups) were not judged.")


POLICIES = [
    stack_policy(
        NAME,
        "Says which resource types no policy of the pack reads, so a team knows where the pack's guarantees stop "
        "(advisory; `anycloud check --strict` fails on them in prod).",
        [EVERY_TYPE],
        _check,
        remediation="review the type's settings yourself, or add a policy that reads it (policy/README.md says how); "
                    "types that carry no promise belong in policy/coverage.py INERT, with why.",
        level=ADVISORY,
    ),
]
