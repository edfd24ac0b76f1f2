"""GCP deployability: what Google's control plane refuses that mocks and emulators cannot see.

The mocks accept any id, any key and any order of creation; Google does not. An id outside a
service's naming rule, a customer-managed key from another location, a CMEK resource created
before its service agent may use the key, a dead-letter topic the Pub/Sub agent may not publish
to: each fails `pulumi up` after a clean preview, or (the last) silently keeps poison messages
cycling until retention drops them. Each rule encodes one documented rule, where a user's own
additions can hit it as well as our renderer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity, StackValidationArgs

from .common import (
    FIRESTORE_DATABASE,
    GCP_FUNCTION_V2,
    GCP_WORKFLOW,
    GCS_BUCKET,
    PUBSUB_SUBSCRIPTION,
    as_list,
    dependency_urns,
    get,
    known,
    resource_policy,
    resources_of,
    shown,
    stack_policy,
)

PUBSUB_TOPIC = "gcp:pubsub/topic:Topic"
SECRET = "gcp:secretmanager/secret:Secret"
IMAGE_REPOSITORY = "gcp:artifactregistry/repository:Repository"
CRYPTO_KEY = "gcp:kms/cryptoKey:CryptoKey"
KEY_MEMBER = "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember"
KEY_BINDING = "gcp:kms/cryptoKeyIAMBinding:CryptoKeyIAMBinding"
TOPIC_MEMBER = "gcp:pubsub/topicIAMMember:TopicIAMMember"
TOPIC_BINDING = "gcp:pubsub/topicIAMBinding:TopicIAMBinding"
SUBSCRIPTION_MEMBER = "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember"
SUBSCRIPTION_BINDING = "gcp:pubsub/subscriptionIAMBinding:SubscriptionIAMBinding"
PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"
PROJECT_BINDING = "gcp:projects/iAMBinding:IAMBinding"

ENCRYPTER_DECRYPTER = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
PUBSUB_AGENT = "gcp-sa-pubsub"

# ------------------------------------------------------------------ names

#: type -> (property, pattern, what is allowed), from each service's resource naming rules.
NAME_RULES: dict[str, tuple[str, str, str]] = {
    "gcp:serviceaccount/account:Account": (
        "accountId", r"[a-z][-a-z0-9]{4,28}[a-z0-9]", "6-30 characters: a lowercase letter first, lowercase letters, "
        "digits and hyphens, not ending in a hyphen"),
    FIRESTORE_DATABASE: (
        "name", r"\(default\)|[a-z][a-z0-9-]{2,61}[a-z0-9]", "4-63 characters: a lowercase letter first, lowercase "
        "letters, digits and hyphens, ending in a letter or digit (or '(default)')"),
    GCP_FUNCTION_V2: (
        "name", r"[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?", "1-63 characters: a lowercase letter first, lowercase letters, "
        "digits and hyphens"),
    PUBSUB_TOPIC: (
        "name", r"(?!goog)[A-Za-z][-A-Za-z0-9_.~+%]{2,254}", "3-255 characters: a letter first, letters, digits and "
        "- _ . ~ + %, not starting with 'goog'"),
    PUBSUB_SUBSCRIPTION: (
        "name", r"(?!goog)[A-Za-z][-A-Za-z0-9_.~+%]{2,254}", "3-255 characters: a letter first, letters, digits and "
        "- _ . ~ + %, not starting with 'goog'"),
    GCP_WORKFLOW: (
        "name", r"[A-Za-z](?:[-_A-Za-z0-9]{0,62}[A-Za-z0-9])?", "1-64 characters: a letter first, letters, digits, "
        "hyphens and underscores"),
    IMAGE_REPOSITORY: (
        "repositoryId", r"[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?", "1-63 characters: a lowercase letter first, lowercase "
        "letters, digits and hyphens"),
    SECRET: ("secretId", r"[A-Za-z0-9_-]{1,255}", "1-255 letters, digits, - and _"),
}


def _names(args: ResourceValidationArgs, report: ReportViolation) -> None:
    prop, pattern, allowed = NAME_RULES[args.resource_type]
    value = get(args.props, prop)
    if isinstance(value, str) and not re.fullmatch(pattern, value):
        report(f"{args.resource_type} '{args.name}': {prop} {shown(value)} is not a valid name; allowed: {allowed}.")


#: type -> (property, most bytes): Workflows refuses a source over 128 KB (`sourceContents`).
SIZE_LIMITS: dict[str, tuple[str, int]] = {GCP_WORKFLOW: ("sourceContents", 128 * 1024)}


def _sizes(args: ResourceValidationArgs, report: ReportViolation) -> None:
    prop, most = SIZE_LIMITS[args.resource_type]
    value = get(args.props, prop)
    if isinstance(value, str) and len(value.encode()) > most:
        report(f"{args.resource_type} '{args.name}': {prop} is {len(value.encode())} bytes; allowed: at most {most}.")


# ------------------------------------------------------------------ customer-managed keys

#: type -> (key property, location property or None, the service agents that use the key), from
#: each service's CMEK page; Cloud Functions gen 2 lists five agents for every function
#: (https://cloud.google.com/functions/docs/securing/cmek). Pub/Sub topics are global: any key location.
CMEK: dict[str, tuple[str, str | None, tuple[str, ...]]] = {
    GCP_FUNCTION_V2: ("kmsKeyName", "location", ("gcf-admin-robot", "serverless-robot-prod", "gcp-sa-artifactregistry",
                                                  "gs-project-accounts", "gcp-sa-eventarc")),
    FIRESTORE_DATABASE: ("cmekConfig.kmsKeyName", "locationId", ("gcp-sa-firestore",)),
    IMAGE_REPOSITORY: ("kmsKeyName", "location", ("gcp-sa-artifactregistry",)),
    GCP_WORKFLOW: ("cryptoKeyName", "region", ("gcp-sa-workflows",)),
    GCS_BUCKET: ("encryption.defaultKmsKeyName", "location", ("gs-project-accounts",)),
    PUBSUB_TOPIC: ("kmsKeyName", None, (PUBSUB_AGENT,)),
    "gcp:secretmanager/regionalSecret:RegionalSecret": ("customerManagedEncryption.kmsKeyName", "location",
                                                        ("gcp-sa-secretmanager",)),
}
#: Secrets name keys per replica, or one global key with automatic replication.
SECRET_AGENTS = ("gcp-sa-secretmanager",)
#: Firestore and Storage multi-regions, as the Cloud KMS location their keys must be in.
MULTI_REGIONS = {"us": "us", "eu": "europe", "asia": "asia", "nam5": "us", "eur3": "europe"}


def _cmek_uses(resource_type: str, props: Mapping[str, Any]) -> Iterator[tuple[str, Any, Any, tuple[str, ...]]]:
    """(key property, key, location, agents) for each customer-managed key the resource names."""
    if resource_type == SECRET:
        auto = "replication.auto.customerManagedEncryption.kmsKeyName"
        if known(props, auto) is not None:
            yield auto, known(props, auto), "global", SECRET_AGENTS
        for i, replica in enumerate(as_list(known(props, "replication.userManaged.replicas"))):
            key = get(replica, "customerManagedEncryption.kmsKeyName")
            if key is not None:
                yield (f"replication.userManaged.replicas[{i}].customerManagedEncryption.kmsKeyName", key,
                       get(replica, "location"), SECRET_AGENTS)
        return
    path, where, agents = CMEK[resource_type]
    key = known(props, path)
    if key is not None:
        yield path, key, known(props, where) if where else None, agents


def _key_location(key: Any) -> str | None:
    match = re.match(r"^projects/[^/]+/locations/([^/]+)/keyRings/", key) if isinstance(key, str) else None
    return match.group(1).lower() if match else None


def _cmek_location(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for path, key, location, _ in _cmek_uses(args.resource_type, args.props):
        key_location = _key_location(key)
        if key_location is None or not isinstance(location, str):
            continue
        if key_location != MULTI_REGIONS.get(location.lower(), location.lower()):
            report(f"{args.resource_type} '{args.name}': {path} is in {shown(key_location)} but the resource is in "
                   f"{shown(location)}; Google refuses a customer-managed key from another location.")


def _member_agent(member: Any) -> str | None:
    """'gcp-sa-pubsub' for `serviceAccount:service-N@gcp-sa-pubsub.iam.gserviceaccount.com`."""
    match = re.fullmatch(r"serviceAccount:service-\d+@([a-z0-9-]+)\.iam\.gserviceaccount\.com", member) \
        if isinstance(member, str) else None
    return match.group(1) if match else None


class _Grants:
    """Who holds a role where: IAM member and binding resources, read once per stack."""

    def __init__(self, args: StackValidationArgs, role: str, member_type: str, binding_type: str, target: str):
        self.entries: list[tuple[Any, set[str], list[Any], Any]] = []  # (target id, its URNs, members, grant)
        for grant in resources_of(args, [member_type, binding_type, PROJECT_MEMBER, PROJECT_BINDING]):
            if known(grant.props, "role") != role:
                continue
            listed = known(grant.props, "member" if "member" in grant.props else "members")
            members = as_list(listed) if listed is not None else [None]  # None: unknown during preview
            project_wide = grant.resource_type in (PROJECT_MEMBER, PROJECT_BINDING)
            where = "*" if project_wide else known(grant.props, target)
            self.entries.append((where, set() if project_wide else dependency_urns(grant, target), members, grant))

    def on(self, ids: set[str], urns: set[str]) -> list[tuple[list[Any], Any]]:
        """(members, grant resource) of the grants on a target known by any of `ids` or `urns`."""
        return [(members, grant) for where, deps, members, grant in self.entries
                if where == "*" or where in ids or deps & urns]


def _depends_on(resource: Any, urn: str) -> bool:
    seen, todo = set(), list(resource.dependencies or [])
    while todo:
        dep = todo.pop()
        if dep.urn == urn:
            return True
        if dep.urn not in seen:
            seen.add(dep.urn)
            todo.extend(dep.dependencies or [])
    return False


def _agents_missing(grants: list[tuple[list[Any], Any]], agents: tuple[str, ...], resource: Any) -> list[str]:
    """Agents without a grant, and agents whose grant the resource does not (transitively) depend on.

    A grant whose member is unknown (a service identity during preview) may be any agent: then
    nothing is reported, rather than a guess."""
    found: dict[str, list[Any]] = {}
    for members, grant in grants:
        for member in members:
            if member is None:
                return []
            agent = _member_agent(member)
            if agent:
                found.setdefault(agent, []).append(grant)
    problems = []
    for agent in agents:
        if agent not in found:
            problems.append(agent)
        elif not any(_depends_on(resource, g.urn) for g in found[agent]):
            problems.append(f"{agent} (granted, but the resource does not depend on the grant)")
    return problems


def _stack_keys(args: StackValidationArgs) -> dict[str, str | None]:
    """URN -> `projects/.../cryptoKeys/name` of each key this stack manages."""
    keys = {}
    for key in resources_of(args, [CRYPTO_KEY]):
        ring, name = known(key.props, "keyRing"), known(key.props, "name")
        keys[key.urn] = f"{ring}/cryptoKeys/{name}" if ring and name else None
    return keys


def _cmek_agents(args: StackValidationArgs, report: ReportViolation) -> None:
    """Keys managed elsewhere (a central KMS project) have their grants there too: only keys this
    stack manages are judged, as their grants can only be here."""
    grants = _Grants(args, ENCRYPTER_DECRYPTER, KEY_MEMBER, KEY_BINDING, "cryptoKeyId")
    stack_keys = _stack_keys(args)
    for resource in resources_of(args, [*CMEK, SECRET]):
        for path, key, _, agents in _cmek_uses(resource.resource_type, resource.props):
            urns = dependency_urns(resource, path.split(".")[0]) & set(stack_keys)
            urns |= {u for u, name in stack_keys.items() if name is not None and name == key}
            if not urns:
                continue
            ids = {stack_keys[u] for u in urns} | {key}
            missing = _agents_missing(grants.on(ids, urns), agents, resource)
            if missing:
                report(f"{resource.resource_type} '{resource.name}': {path} names a customer-managed key, but these "
                       f"service agents cannot use it when the resource is created: {', '.join(missing)}; required: "
                       f"{ENCRYPTER_DECRYPTER} on the key for service-<project number>@<agent>.iam.gserviceaccount.com, "
                       "granted before the resource. Google refuses to create it otherwise.", resource.urn)


# ------------------------------------------------------------------ Pub/Sub dead-lettering


def _short(value: Any, kind: str) -> str | None:
    """The last segment of `projects/p/<kind>/name`, or the bare name."""
    return value.rsplit(f"/{kind}/", 1)[-1] if isinstance(value, str) else None


def _dead_letter_agent(args: StackValidationArgs, report: ReportViolation) -> None:
    publishers = _Grants(args, "roles/pubsub.publisher", TOPIC_MEMBER, TOPIC_BINDING, "topic")
    subscribers = _Grants(args, "roles/pubsub.subscriber", SUBSCRIPTION_MEMBER, SUBSCRIPTION_BINDING, "subscription")
    topics = resources_of(args, [PUBSUB_TOPIC])
    for sub in resources_of(args, [PUBSUB_SUBSCRIPTION]):
        if known(sub.props, "deadLetterPolicy") is None:
            continue
        dlq = known(sub.props, "deadLetterPolicy.deadLetterTopic")
        dlq_urns = {t.urn for t in topics if t.urn in dependency_urns(sub, "deadLetterPolicy")}
        dlq_ids = {i for t in topics if t.urn in dlq_urns for i in (known(t.props, "name"), known(t.props, "id")) if i}
        dlq_ids |= {dlq, _short(dlq, "topics")} - {None}
        name = known(sub.props, "name")
        sub_ids = {i for i in (name, f"projects/{known(sub.props, 'project')}/subscriptions/{name}") if i}
        for what, role, on in (
            ("publish to its dead-letter topic", "roles/pubsub.publisher", publishers.on(dlq_ids, dlq_urns)),
            ("acknowledge on this subscription", "roles/pubsub.subscriber", subscribers.on(sub_ids, {sub.urn})),
        ):
            for member in (m for members, _ in on for m in members):
                if member is None or _member_agent(member) == PUBSUB_AGENT:
                    break
            else:
                report(f"Pub/Sub subscription '{sub.name}' dead-letters, but the Pub/Sub service agent may not "
                       f"{what}; required: {role} for service-<project number>@{PUBSUB_AGENT}.iam.gserviceaccount.com. "
                       "Without it no message is forwarded: poison messages cycle until retention drops them.", sub.urn)


POLICIES = [
    resource_policy(
        "gcp-names-within-limits",
        "GCP resource ids fit their service's naming rules (service accounts 6-30, Firestore databases 4-63, "
        "functions and image repositories 63, workflows 64, topics and subscriptions 3-255 characters, ...).",
        sorted(NAME_RULES),
        _names,
        remediation="shorten the service, stack or resource name (the GCP renderer fits every id it makes).",
        severity=Severity.MEDIUM,
    ),
    resource_policy(
        "gcp-sizes-within-limits",
        "GCP definitions fit their service's size limit: a workflow's source at most 128 KB "
        "(https://cloud.google.com/workflows/quotas).",
        sorted(SIZE_LIMITS),
        _sizes,
        remediation="split the workflow, or use fewer steps or retry and catch entries (anycloud refuses an "
                    "oversized one before registering anything).",
        severity=Severity.MEDIUM,
    ),
    resource_policy(
        "gcp-cmek-key-in-resource-location",
        "A GCP resource encrypted with a customer-managed key uses a key in its own location (Cloud Functions, "
        "Firestore, Artifact Registry, Workflows, Cloud Storage, Secret Manager replicas; automatic replication needs a "
        "global key); Google refuses the resource otherwise (https://cloud.google.com/kms/docs/cmek#cmek_integrations).",
        sorted([*CMEK, SECRET]),
        _cmek_location,
        remediation="create the key ring in the resource's region (or the matching multi-region) and use a key from it.",
    ),
    stack_policy(
        "gcp-cmek-service-agents-can-use-key",
        "Every GCP resource encrypted with a key this stack manages is created after each service agent that encrypts "
        "its data holds roles/cloudkms.cryptoKeyEncrypterDecrypter on the key (functions: Cloud Functions, Cloud Run, "
        "Artifact Registry, Cloud Storage and Eventarc agents); Google refuses to create it otherwise.",
        sorted([*CMEK, SECRET, CRYPTO_KEY, KEY_MEMBER, KEY_BINDING, PROJECT_MEMBER, PROJECT_BINDING]),
        _cmek_agents,
        remediation="grant each listed agent the role on the key (gcp.kms.CryptoKeyIAMMember; materialise requested "
                    "agents with gcp.projects.ServiceIdentity) and give the resource depends_on=[the grants].",
    ),
    stack_policy(
        "gcp-pubsub-dead-letter-agent-permissions",
        "A dead-lettering Pub/Sub subscription lets the Pub/Sub service agent publish to the dead-letter topic and "
        "subscribe to the subscription (https://cloud.google.com/pubsub/docs/handling-failures#grant_forwarding_permissions).",
        sorted([PUBSUB_SUBSCRIPTION, PUBSUB_TOPIC, TOPIC_MEMBER, TOPIC_BINDING, SUBSCRIPTION_MEMBER, SUBSCRIPTION_BINDING,
                PROJECT_MEMBER, PROJECT_BINDING]),
        _dead_letter_agent,
        remediation="grant service-<project number>@gcp-sa-pubsub.iam.gserviceaccount.com roles/pubsub.publisher on the "
                    "dead-letter topic and roles/pubsub.subscriber on the subscription.",
    ),
]
