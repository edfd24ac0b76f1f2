"""GCP deployability: what Google's control plane refuses that mocks and emulators cannot see.

The mocks accept any id, any key and any order of creation; Google does not. An id outside a
service's naming rule, a customer-managed key from another location, a CMEK resource created
before its service agent may use the key, a dead-letter topic the Pub/Sub agent may not publish
to: each fails `pulumi up` after a clean preview, or (the last) silently keeps poison messages
cycling until retention drops them. Each rule encodes one documented rule, where a user's own
additions can hit it as well as our renderer.

Creation order and run time (issue 17): in a new project every resource waits for the API it is
created through and every grant to a service agent for that agent (the APIs of each type and
agent come from gcp_apis.py); a function's build account can read the gcf-v2-sources-* bucket
before the build starts; a workflow that logs may write logs; an API config id fits with the
provider's suffix; and no event path delivers through a subscription the stack cannot dead-letter.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity, StackValidationArgs
from pulumi_policy.proxy import UnknownValueError

from .common import (
    FIRESTORE_DATABASE,
    GCP_FUNCTION_V1,
    GCP_FUNCTION_V2,
    GCP_WORKFLOW,
    GCS_BUCKET,
    PUBSUB_SUBSCRIPTION,
    as_list,
    config,
    dependency_urns,
    each_known,
    get,
    known,
    resource_policy,
    resources_of,
    shown,
    stack_policy,
)
from .gcp_apis import AGENT_APIS, REQUESTED_AGENTS, SERVICE, SERVICE_IDENTITY, apis_of, short
from .identity import GCP_HIERARCHY_IAM_TYPES, GCP_IAM_TYPES, GCP_SERVICE_ACCOUNT, _bindings
from .streams import dead_letter_label

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


# ------------------------------------------------------------------ creation order: APIs and agents


def _by_api(args: StackValidationArgs, resource_type: str) -> dict[str, list[Any]]:
    """The stack's `projects.Service` (or `ServiceIdentity`) resources by the API they name."""
    found: dict[str, list[Any]] = {}
    for resource in resources_of(args, [resource_type]):
        api = short(known(resource.props, "service"))
        if api:
            found.setdefault(api, []).append(resource)
    return found


def _same_project(resource: Any, service: Any) -> bool:
    """A Service enables its API in its own project; unset or unknown projects are the provider's."""
    mine, theirs = known(resource.props, "project"), known(service.props, "project")
    return not (isinstance(mine, str) and isinstance(theirs, str) and mine != theirs)


def _waits_for_apis(args: StackValidationArgs, report: ReportViolation) -> None:
    """APIs the stack does not enable were enabled outside it: only the ones it enables are judged."""
    services = _by_api(args, SERVICE)
    if not services:
        return
    for resource in args.resources:
        target = known(resource.props, "service") if resource.resource_type == SERVICE_IDENTITY else None
        missing = []
        for api in apis_of(resource.resource_type, target):
            enabling = [s for s in services.get(api, []) if _same_project(resource, s)]
            if enabling and not any(_depends_on(resource, s.urn) for s in enabling):
                missing.append(f"{api}.googleapis.com (projects.Service '{enabling[0].name}')")
        if missing:
            report(f"{resource.resource_type} '{resource.name}': is created through {', '.join(missing)}, enabled by "
                   f"this stack, but does not wait for {'it' if len(missing) == 1 else 'them'}; in a new project Google "
                   "refuses it with \"API has not been used in project ... or it is disabled\", and the provider does "
                   "not retry.", resource.urn)


def _agent_grants_wait(args: StackValidationArgs, report: ReportViolation) -> None:
    """Agents of APIs the stack neither enables nor requests exist already: only the others are judged."""
    services, identities = _by_api(args, SERVICE), _by_api(args, SERVICE_IDENTITY)

    def check(grant: Any) -> None:
        agents = {d for _, _, members, _ in _bindings(grant) for d in map(_member_agent, members) if d in AGENT_APIS}
        for agent in sorted(agents):
            api = AGENT_APIS[agent]
            requested, enabled = identities.get(api, []), services.get(api, [])
            ready = requested if agent in REQUESTED_AGENTS else [*requested, *enabled]
            if not (requested or enabled) or any(_depends_on(grant, r.urn) for r in ready):
                continue
            member = f"service-<project number>@{agent}.iam.gserviceaccount.com"
            if agent in REQUESTED_AGENTS and not requested:
                need = (f"Google creates {member} only on request: a gcp.projects.ServiceIdentity for "
                        f"{api}.googleapis.com, and the grant depending on it")
            else:
                waits = ", ".join(f"'{r.name}'" for r in ready)
                need = f"the grant depending on {waits}, which makes {member} exist"
            report(f"{grant.resource_type} '{grant.name}': grants to the {api} service agent before it exists; "
                   f"Google refuses the grant (\"Service account ... does not exist\") and the provider does not "
                   f"retry; required: {need}.", grant.urn)

    each_known(resources_of(args, GCP_IAM_TYPES), check)


# ------------------------------------------------------------------ what service accounts need to run


def _account_email(value: Any) -> str | None:
    """The e-mail in `projects/P/serviceAccounts/E`, `serviceAccount:E` or `E`."""
    if not isinstance(value, str) or "@" not in value:
        return None
    return value.rsplit("/", 1)[-1].split(":", 1)[-1]


def _account_refs(resource: Any, prop: str, values: list[Any]) -> set[str]:
    """What an account property points at: the stack's accounts it depends on, and known e-mails."""
    deps = {f"urn:{d.urn}" for d in (resource.property_dependencies or {}).get(prop, [])
            if d.resource_type == GCP_SERVICE_ACCOUNT}
    return deps | {f"email:{e}" for e in map(_account_email, values) if e}


class _Holders:
    """Who holds one of `roles` on the project (or its folder or organization), read once per stack."""

    def __init__(self, args: StackValidationArgs, roles: tuple[str, ...]):
        accounts = resources_of(args, [GCP_SERVICE_ACCOUNT])
        emails = (known(a.props, "email") for a in accounts)
        self.accounts = {f"urn:{a.urn}" for a in accounts} | {f"email:{e}" for e in emails if e}
        self.unknown = False  # a grant whose members are unknown during preview may be to anyone
        self.entries: list[tuple[set[str], Any, Any]] = []  # (member refs, condition, grant)
        for grant in resources_of(args, GCP_HIERARCHY_IAM_TYPES):
            kind = grant.resource_type.rsplit(":", 1)[-1]
            prop = "member" if kind.endswith("Member") else "members" if kind.endswith("Binding") else "policyData"
            try:
                bindings, hidden = [(role, members, condition) for _, role, members, condition in _bindings(grant)], False
            except UnknownValueError:
                self.unknown |= prop == "policyData"
                bindings, hidden = [(known(grant.props, "role"), [], known(grant.props, "condition"))], True
            for role, members, condition in bindings:
                if role in roles:
                    refs = _account_refs(grant, prop, members)
                    self.unknown |= hidden and not refs
                    self.entries.append((refs, condition, grant))

    def managed(self, refs: set[str]) -> bool:
        """Whether `refs` name an account this stack manages (its grants can only be here)."""
        return bool(refs & self.accounts)

    def of(self, refs: set[str]) -> list[tuple[Any, Any]]:
        """(condition, grant) of each grant to the account known by any of `refs`."""
        return [(condition, grant) for members, condition, grant in self.entries if members & refs]


#: Predefined roles with storage.objects.get and storage.objects.list that can be granted on a
#: project (IAM roles and permissions index: Cloud Storage, Cloud Build, basic roles).
STORAGE_READERS = ("roles/storage.objectViewer", "roles/storage.objectUser", "roles/storage.objectAdmin",
                   "roles/storage.admin", "roles/cloudbuild.builds.builder", "roles/editor", "roles/owner")
#: Cloud Functions gen 2 copies the source into `gcf-v2-sources-<number>-<region>[-<key hash>]`,
#: as Cloud Storage names it in IAM conditions (a bucket, or an object below it).
SOURCE_BUCKETS = "projects/_/buckets/gcf-v2-sources-"
_STARTS_WITH = re.compile(r"""\(?\s*resource\.name\.startsWith\(\s*(["'])([^"']*)\1\s*\)\s*\)?""")


def _covers_sources(condition: Any) -> bool:
    """No condition, or one that is (ORs with) `resource.name.startsWith(P)` for a prefix P of
    SOURCE_BUCKETS. Anything else is taken as not covering: a static reading cannot evaluate it."""
    expression = condition.get("expression") if isinstance(condition, Mapping) else None
    if not expression:
        return True
    return any((m := _STARTS_WITH.fullmatch(term.strip())) is not None and SOURCE_BUCKETS.startswith(m.group(2))
               for term in str(expression).split("||"))


def _build_reads_sources(args: StackValidationArgs, report: ReportViolation) -> None:
    """Build accounts managed elsewhere have their grants there too: only the stack's are judged."""
    holders = _Holders(args, STORAGE_READERS)
    if holders.unknown:
        return
    for function in resources_of(args, [GCP_FUNCTION_V2]):
        account = known(function.props, "buildConfig.serviceAccount")
        refs = _account_refs(function, "buildConfig", [account])
        if not holders.managed(refs):
            continue
        held = holders.of(refs)
        covering = [grant for condition, grant in held if _covers_sources(condition)]
        what = f"{GCP_FUNCTION_V2} '{function.name}': its build account {shown(account)}"
        if not covering:
            found = "; ".join(f"'{g.name}' with condition {shown(get(c, 'expression'))}" for c, g in held) or "none"
            report(f"{what} cannot read the gcf-v2-sources-* bucket the build fetches the source from (\"Access to "
                   f"bucket gcf-v2-sources-... denied\"); project-level storage read grants found: {found}; required: "
                   f"one of {', '.join(STORAGE_READERS)} on the project, unconditioned or conditioned on "
                   f"resource.name.startsWith(\"{SOURCE_BUCKETS}\").", function.urn)
        elif not any(_depends_on(function, grant.urn) for grant in covering):
            report(f"{what} may read the function sources ({', '.join(repr(g.name) for g in covering)}), but the "
                   "function does not depend on that grant: the build can start before it exists.", function.urn)


#: Predefined roles with logging.logEntries.create (IAM roles and permissions index: Logging, basic roles).
LOG_WRITERS = ("roles/logging.logWriter", "roles/logging.admin", "roles/editor", "roles/owner")
#: Call-log levels that write logs; unset and CALL_LOG_LEVEL_UNSPECIFIED log nothing, as LOG_NONE does.
CALL_LOGGING = ("LOG_ALL_CALLS", "LOG_ERRORS_ONLY")


def _workflow_logs(args: StackValidationArgs, report: ReportViolation) -> None:
    """Workflows log as the workflow's account, for call logging and for `sys.log` steps alike."""
    holders = _Holders(args, LOG_WRITERS)
    if holders.unknown:
        return
    for workflow in resources_of(args, [GCP_WORKFLOW]):
        level, source = known(workflow.props, "callLogLevel"), known(workflow.props, "sourceContents")
        logs = [f"callLogLevel {shown(level)}"] if level in CALL_LOGGING else []
        logs += ["sys.log steps"] if isinstance(source, str) and "sys.log" in source else []
        account = known(workflow.props, "serviceAccount")
        refs = _account_refs(workflow, "serviceAccount", [account])
        if not logs or not holders.managed(refs):
            continue
        if not any(condition is None for condition, _ in holders.of(refs)):
            report(f"{GCP_WORKFLOW} '{workflow.name}': writes logs ({' and '.join(logs)}) as {shown(account)}, which "
                   "holds no role with logging.logEntries.create on the project, so nothing is written; required: "
                   f"one of {', '.join(LOG_WRITERS)}, unconditioned, on the project.", workflow.urn)


# ------------------------------------------------------------------ API Gateway config ids

API_CONFIG = "gcp:apigateway/apiConfig:ApiConfig"
#: API config ids: at most 63 lowercase letters, digits and hyphens, not starting with a hyphen.
CONFIG_ID = re.compile(r"[a-z0-9][-a-z0-9]{0,62}")
#: terraform-plugin-sdk's PrefixedUniqueId appends a 26-character suffix (helper/id UniqueIDSuffixLength).
UNIQUE_SUFFIX = 26


def _api_config_id(args: ResourceValidationArgs, report: ReportViolation) -> None:
    prefix, config_id = get(args.props, "apiConfigIdPrefix"), get(args.props, "apiConfigId")
    longest = 63 - UNIQUE_SUFFIX
    if isinstance(prefix, str) and prefix and (len(prefix) > longest or not CONFIG_ID.fullmatch(prefix)):
        report(f"{API_CONFIG} '{args.name}': apiConfigIdPrefix {shown(prefix)} ({len(prefix)} characters) cannot make "
               f"a valid config id with the provider's {UNIQUE_SUFFIX}-character suffix; allowed: at most {longest} "
               "lowercase letters, digits and hyphens, not starting with a hyphen.")
    if isinstance(config_id, str) and config_id and not CONFIG_ID.fullmatch(config_id):
        report(f"{API_CONFIG} '{args.name}': apiConfigId {shown(config_id)} is not a valid config id; allowed: 1-63 "
               "lowercase letters, digits and hyphens, not starting with a hyphen.")


# ------------------------------------------------------------------ event paths without dead letters

EVENTARC_TRIGGER = "gcp:eventarc/trigger:Trigger"
#: Config: Eventarc triggers and event functions (logical or physical names) accepted without a
#: dead letter, e.g. once a dead-letter topic was put on Eventarc's subscription by hand.
UNDEAD_LETTERED = "eventPathsWithoutDeadLetters"


def _event_paths(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == EVENTARC_TRIGGER and dead_letter_label(args.props):
        return  # its destination dead-letters itself; stream-dead-letters-kept-and-alerted checks the claim
    if args.resource_type == EVENTARC_TRIGGER:
        how = "delivers through the Pub/Sub subscription Eventarc creates and owns (eventarc-<region>-...)"
        loss = "an event its destination keeps refusing is dropped after 24 hours (a workflow destination: at once)"
    else:
        trigger = get(args.props, "eventTrigger")
        if not trigger:
            return
        how = "has an eventTrigger, delivered through a subscription Google creates and owns"
        retry = get(trigger, "retryPolicy") if args.resource_type == GCP_FUNCTION_V2 else get(trigger, "failurePolicy")
        loss = ("a failing event is retried, then dropped when retention ends" if retry in ("RETRY_POLICY_RETRY",)
                or isinstance(retry, Mapping) and retry.get("retry") else "a failing event is dropped at once")
    allowed = {str(n) for n in config(args, UNDEAD_LETTERED, [])}
    if allowed & {args.name, str(get(args.props, "name") or "")}:
        return
    report(f"{args.resource_type} '{args.name}': {how}, which no dead-letter policy of this stack can be on: {loss}, "
           "and nothing keeps it; required: a topic and a push subscription this stack owns, with a deadLetterPolicy "
           f"and a subscription keeping the dead letters, or the name in config {UNDEAD_LETTERED} "
           f"(now {sorted(allowed)}).")


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
    stack_policy(
        "gcp-resources-wait-for-their-api",
        "Every GCP resource created through an API this stack enables (gcp.projects.Service) depends on that "
        "Service: in a new project Google refuses it with \"API has not been used in project ... or it is disabled\" "
        "and the provider does not retry (terraform-provider-google FAQ, \"403 Service API disabled\"). The API of "
        "each type comes from policy/gcp_apis.py (every pulumi-gcp module; the bootstrap Cloud Resource Manager and "
        "Service Usage APIs are exempt); APIs the stack does not enable are taken as enabled outside it.",
        ["gcp:*", SERVICE, SERVICE_IDENTITY],
        _waits_for_apis,
        remediation="give the resource depends_on=[the API's gcp.projects.Service] (anycloud: GcpContext.opts(parent, "
                    "api=...)).",
    ),
    stack_policy(
        "gcp-agent-grants-wait-for-their-agent",
        "Every IAM grant (member, binding or policy, on any resource or the project) to a Google service agent the "
        "stack makes exist waits for it: for agents Google creates on request (Pub/Sub, Firestore, Secret Manager, "
        "Workflows, Eventarc, Artifact Registry, ...), the agent's gcp.projects.ServiceIdentity; for agents that "
        "appear with their API (Cloud Functions, Cloud Run, Cloud Storage, ...), that API's gcp.projects.Service or "
        "a ServiceIdentity. A grant to an agent that does not exist yet fails (\"Service account ... does not "
        "exist\", terraform-provider-google#9969); agents by API from https://cloud.google.com/iam/docs/service-agents.",
        [*GCP_IAM_TYPES, SERVICE, SERVICE_IDENTITY],
        _agent_grants_wait,
        remediation="name the agent through gcp.projects.ServiceIdentity(service=...).member (the grant then depends on "
                    "it), or give the grant depends_on=[the API's gcp.projects.Service] for agents that appear with "
                    "their API.",
    ),
    stack_policy(
        "gcp-build-account-reads-function-sources",
        "A Cloud Functions gen 2 function built by a service account this stack manages can read the source Cloud "
        "Functions copies into its gcf-v2-sources-* bucket: the account holds storage object read (roles/storage."
        "objectViewer, objectUser, objectAdmin, admin, cloudbuild.builds.builder, editor, owner) on the project, "
        "unconditioned or conditioned on resource.name.startsWith(\"projects/_/buckets/gcf-v2-sources-\") or a "
        "broader prefix, and the function depends on that grant (terraform-provider-google#20571, "
        "magic-modules#11324, the provider's cloudfunctions2_basic_builder example).",
        [GCP_FUNCTION_V2, GCP_SERVICE_ACCOUNT, *GCP_HIERARCHY_IAM_TYPES],
        _build_reads_sources,
        remediation="grant the build account roles/storage.objectViewer on the project with the condition "
                    "resource.name.startsWith(\"projects/_/buckets/gcf-v2-sources-\") and give the function "
                    "depends_on=[that grant] (and a pause after it: IAM changes take minutes to apply).",
    ),
    stack_policy(
        "gcp-workflow-call-logs-writable",
        "A workflow that logs (callLogLevel LOG_ALL_CALLS or LOG_ERRORS_ONLY, or sys.log steps) runs as a service "
        "account this stack manages that holds a role with logging.logEntries.create (roles/logging.logWriter, "
        "logging.admin, editor, owner) on the project; otherwise no log is written "
        "(https://cloud.google.com/workflows/docs/authentication). Unset and LOG_NONE write no call logs.",
        [GCP_WORKFLOW, GCP_SERVICE_ACCOUNT, *GCP_HIERARCHY_IAM_TYPES],
        _workflow_logs,
        remediation="grant the workflow's service account roles/logging.logWriter on the project "
                    "(gcp.projects.IAMMember).",
    ),
    resource_policy(
        "gcp-api-config-id-fits",
        "An API Gateway config id is at most 63 lowercase letters, digits and hyphens, not starting with a hyphen "
        "(https://cloud.google.com/api-gateway/docs/creating-api-config, \"API config ID requirements\"); the "
        "provider makes it from apiConfigIdPrefix and a 26-character unique suffix (terraform-plugin-sdk "
        "helper/id), so the prefix is at most 37 characters.",
        [API_CONFIG],
        _api_config_id,
        remediation="use an apiConfigIdPrefix of at most 37 characters, or an apiConfigId of at most 63 (lowercase "
                    "letters, digits, hyphens); anycloud: components/gcp/api.py CONFIG_PREFIX_MAX.",
        severity=Severity.MEDIUM,
    ),
    resource_policy(
        "gcp-event-paths-dead-lettered",
        "No event path drops what its destination keeps refusing: an Eventarc trigger, and a Cloud Functions event "
        "trigger (gen 1 or 2), deliver through a Pub/Sub subscription Eventarc or Cloud Functions creates and owns, "
        "which no dead-letter policy of the stack can be on; an undeliverable event is discarded when retention ends "
        "(https://cloud.google.com/eventarc/docs/retry-events), or at once without retries. A topic and a push "
        "subscription the stack owns, with a dead-letter topic, keep them. Names listed in config "
        "eventPathsWithoutDeadLetters are accepted, and triggers labelled anycloud-dead-letters=<topic>, whose "
        "destination dead-letters itself (stream-dead-letters-kept-and-alerted checks that claim).",
        [EVENTARC_TRIGGER, GCP_FUNCTION_V2, GCP_FUNCTION_V1],
        _event_paths,
        remediation="publish to a topic and deliver with a gcp.pubsub.Subscription this stack owns (push_config with "
                    "OIDC, dead_letter_policy, a subscription keeping the dead letters, an alert on it); for storage or "
                    "audit-log events, a storage.Notification or a logging sink to that topic.",
        config={UNDEAD_LETTERED: {"type": "array", "items": {"type": "string"}, "default": [],
                                  "description": "Eventarc triggers and event-triggered functions (logical or "
                                                 "physical names) accepted without a dead letter."}},
    ),
]
