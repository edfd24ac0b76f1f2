"""Deployability: what AWS's control plane refuses and mocks, moto and the other rules cannot see.

A stack can pass every rule about meaning and still fail its first `pulumi up`, or deploy and
then fail at run time: a queue policy over the SQS quotas, a key policy that does not let the
deployer create the key's own alias, a CMK-encrypted state machine whose logs cannot be
delivered, a protected resource that the next routine change must replace. Each rule encodes
one documented limit or permission requirement, with the AWS page that states it, where a
user's own additions to a stack can hit it as well as our renderer. Character counts follow
IAM's rule: white space does not count.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    Severity,
    StackValidationArgs,
)

from .common import (
    ADVISORY,
    AWS_POLICY,
    AWS_ROLE,
    AWS_ROLE_POLICY,
    KMS_KEY,
    LAMBDA_FUNCTION,
    LOG_GROUP,
    SQS_QUEUE,
    SQS_QUEUE_POLICY,
    STATE_MACHINE,
    as_list,
    dependency_urns,
    get,
    known,
    plain,
    resource_policy,
    resources_of,
    shown,
    stack_policy,
    statements,
    wildcard_match,
)

KMS_ALIAS = "aws:kms/alias:Alias"
ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
LAYER_VERSION = "aws:lambda/layerVersion:LayerVersion"
GCP_SECRET_VERSION = "gcp:secretmanager/secretVersion:SecretVersion"
HTTP_API_STAGE = "aws:apigatewayv2/stage:Stage"
REST_API_STAGE = "aws:apigateway/stage:Stage"

LOGS_DELIVERY = "delivery.logs.amazonaws.com"


def _text(value: Any) -> str:
    """A policy document as the provider sends it: the JSON string as written, or the object serialised."""
    return value if isinstance(value, str) else json.dumps(plain(value), separators=(",", ":"))


def _size(value: Any) -> int:
    """Characters of a policy document without white space, as IAM counts them."""
    return len("".join(_text(value).split()))


def _matches(patterns: Iterable[Any], value: str) -> bool:
    return any(isinstance(p, str) and wildcard_match(p, value) for p in patterns)


def _grants(statement: Mapping[str, Any], action: str) -> bool:
    """An Allow statement that covers `action` (Action patterns, or a NotAction that leaves it in)."""
    if statement.get("Effect") != "Allow":
        return False
    if "NotAction" in statement:
        return not _matches(statement["NotAction"], action)
    return _matches(statement.get("Action", []), action)


def _principals(statement: Mapping[str, Any], kind: str) -> list[str]:
    """The statement's principals of one kind ("AWS", "Service"); "*" counts as every AWS principal."""
    principal = statement.get("Principal")
    if principal == "*":
        return ["*"] if kind == "AWS" else []
    if isinstance(principal, Mapping):
        return [p for p in as_list(principal.get(kind)) if isinstance(p, str)]
    return []


def _condition_keys(statement: Mapping[str, Any]) -> set[str]:
    condition = statement.get("Condition")
    if not isinstance(condition, Mapping):
        return set()
    return {str(key).lower() for tests in condition.values() if isinstance(tests, Mapping) for key in tests}


def _refers_to(resource: Any, prop: str, target: Any, ids: Iterable[Any]) -> bool:
    """Whether `resource.prop` comes from `target` (property dependency) or names one of its ids."""
    if target.urn in dependency_urns(resource, prop):
        return True
    value = known(resource.props, prop)
    return isinstance(value, str) and value in {i for i in ids if isinstance(i, str)}


# ------------------------------------------------------------------ SQS policy quotas

#: "Amazon SQS policy quotas":
#: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-policies.html
#: The table lists conditions beside the per-policy limits; they are counted per policy here.
SQS_POLICY_BYTES = 8192
SQS_POLICY_STATEMENTS = 20
SQS_POLICY_PRINCIPALS = 50
SQS_POLICY_CONDITIONS = 10
SQS_ACTIONS_PER_STATEMENT = 7


def sqs_policy_problems(policy: Any) -> list[str]:
    """Every SQS quota the queue policy document exceeds ([] when it fits)."""
    problems = []
    size = len(_text(policy).encode())
    if size > SQS_POLICY_BYTES:
        problems.append(f"it is {size} bytes (at most {SQS_POLICY_BYTES})")
    found = statements(policy)
    if len(found) > SQS_POLICY_STATEMENTS:
        problems.append(f"it has {len(found)} statements (at most {SQS_POLICY_STATEMENTS})")
    principals = sum(len(_principals(s, k)) for s in found for k in ("AWS", "Service", "Federated", "CanonicalUser"))
    if principals > SQS_POLICY_PRINCIPALS:
        problems.append(f"it names {principals} principals (at most {SQS_POLICY_PRINCIPALS})")
    conditions = sum(len(_condition_keys(s)) for s in found)
    if conditions > SQS_POLICY_CONDITIONS:
        problems.append(f"it has {conditions} conditions (at most {SQS_POLICY_CONDITIONS})")
    for index, s in enumerate(found):
        actions = s.get("NotAction", s.get("Action", []))
        if len(actions) > SQS_ACTIONS_PER_STATEMENT:
            where = s.get("Sid") or f"Statement[{index}]"
            problems.append(f"{where} lists {len(actions)} actions (at most {SQS_ACTIONS_PER_STATEMENT} per statement; "
                            'a Deny may say "sqs:*")')
    return problems


def _sqs_policy_quotas(args: ResourceValidationArgs, report: ReportViolation) -> None:
    policy = get(args.props, "policy")
    if not policy:
        return
    problems = sqs_policy_problems(policy)
    if problems:
        report(f"SQS policy of {args.resource_type} '{args.name}': {'; '.join(problems)}; SQS rejects it "
               "(or the provider times out waiting for it).")


# ------------------------------------------------------------------ IAM quotas

#: "IAM and AWS STS quotas": https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
ROLE_INLINE_CHARACTERS = 10240
MANAGED_POLICY_CHARACTERS = 6144
TRUST_POLICY_CHARACTERS_KEY = "trustPolicyCharacters"
MANAGED_POLICIES_PER_ROLE_KEY = "managedPoliciesPerRole"
ROLE_NAME = 64
ROLE_NAME_PREFIX = 38


def _role_of(policy: Any, roles: list[Any]) -> Any | None:
    for role in roles:
        ids = (known(role.props, "name"), known(role.props, "id"), known(role.props, "arn"))
        if _refers_to(policy, "role", role, ids):
            return role
    return None


def _iam_quotas(args: StackValidationArgs, report: ReportViolation) -> None:
    cfg = args.get_config()
    trust_limit = int(cfg.get(TRUST_POLICY_CHARACTERS_KEY) or 2048)
    attach_limit = int(cfg.get(MANAGED_POLICIES_PER_ROLE_KEY) or 10)
    roles = resources_of(args, [AWS_ROLE])
    inline: dict[str, list[tuple[str, int]]] = {r.urn: [] for r in roles}
    attached: dict[str, int] = {r.urn: len(as_list(get(r.props, "managedPolicyArns"))) for r in roles}
    for role in roles:
        for entry in as_list(get(role.props, "inlinePolicies")):
            if isinstance(entry, Mapping) and entry.get("policy"):
                inline[role.urn].append((f"inline policy {entry.get('name') or ''}".strip(), _size(entry["policy"])))
        trust = get(role.props, "assumeRolePolicy")
        if trust and _size(trust) > trust_limit:
            report(f"IAM role '{role.name}': its trust policy is {_size(trust)} characters (at most {trust_limit}; "
                   f"raise the account quota and config {TRUST_POLICY_CHARACTERS_KEY} together).", role.urn)
        name, prefix = known(role.props, "name"), known(role.props, "namePrefix")
        if isinstance(name, str) and len(name) > ROLE_NAME:
            report(f"IAM role '{role.name}': name {shown(name)} is {len(name)} characters (at most {ROLE_NAME}).", role.urn)
        if isinstance(prefix, str) and len(prefix) > ROLE_NAME_PREFIX:
            report(f"IAM role '{role.name}': namePrefix {shown(prefix)} is {len(prefix)} characters "
                   f"(at most {ROLE_NAME_PREFIX}).", role.urn)
    for policy in resources_of(args, [AWS_ROLE_POLICY]):
        role = _role_of(policy, roles)
        document = get(policy.props, "policy")
        if role is not None and document:
            inline[role.urn].append((f"role policy {policy.name}", _size(document)))
    for attachment in resources_of(args, [ROLE_POLICY_ATTACHMENT]):
        role = _role_of(attachment, roles)
        if role is not None:
            attached[role.urn] += 1
    for role in roles:
        total = sum(size for _, size in inline[role.urn])
        if total > ROLE_INLINE_CHARACTERS:
            parts = ", ".join(f"{what}: {size}" for what, size in inline[role.urn])
            report(f"IAM role '{role.name}': its inline policies total {total} characters without white space "
                   f"({parts}); IAM allows {ROLE_INLINE_CHARACTERS} per role.", role.urn)
        if attached[role.urn] > attach_limit:
            report(f"IAM role '{role.name}': {attached[role.urn]} managed policies attached (the account allows "
                   f"{attach_limit}; config {MANAGED_POLICIES_PER_ROLE_KEY} if the quota was raised, at most 20).", role.urn)
    for policy in resources_of(args, [AWS_POLICY]):
        document = get(policy.props, "policy")
        if document and _size(document) > MANAGED_POLICY_CHARACTERS:
            report(f"IAM policy '{policy.name}': {_size(document)} characters without white space (a managed policy "
                   f"holds at most {MANAGED_POLICY_CHARACTERS}).", policy.urn)


# ------------------------------------------------------------------ KMS key policies

#: "Key policies in AWS KMS" (maximum size 32 KB):
#: https://docs.aws.amazon.com/kms/latest/developerguide/resource-limits.html
KEY_POLICY_BYTES = 32768


VIA_SERVICE = "kms:viaservice"
STATES_CONTEXT = "kms:encryptioncontext:aws:states:statemachinearn"


def _key_policy_allows(found: list[dict[str, Any]], action: str, *, service: str | None = None,
                       refused: frozenset[str] = frozenset()) -> bool:
    """An Allow for `action` to an AWS principal (the account, a role), or to `service` when given,
    without a condition key in `refused`."""
    for s in found:
        if not _grants(s, action) or _condition_keys(s) & refused:
            continue
        if service is not None and service in _principals(s, "Service"):
            return True
        if service is None and _principals(s, "AWS"):
            return True
    return False


def _role_allows(documents: list[Any], action: str, key_ids: Iterable[Any], refused: set[str]) -> bool:
    """An identity policy allows `action` on the key, without a condition key in `refused`."""
    for document in documents:
        for s in statements(document):
            if _grants(s, action) and not (_condition_keys(s) & refused):
                resources = s.get("Resource", [])
                if "*" in resources or any(_matches(resources, k) for k in key_ids if isinstance(k, str)):
                    return True
    return False


def _role_documents(args: StackValidationArgs, machine: Any) -> list[Any] | None:
    """The identity policies of the machine's role; None when the role is not in this stack."""
    roles = [r for r in resources_of(args, [AWS_ROLE])
             if _refers_to(machine, "roleArn", r, (known(r.props, "arn"),))]
    if not roles:
        return None
    documents: list[Any] = []
    for role in roles:
        documents += [e.get("policy") for e in as_list(get(role.props, "inlinePolicies")) if isinstance(e, Mapping)]
        documents += [get(p.props, "policy") for p in resources_of(args, [AWS_ROLE_POLICY]) if _role_of(p, [role])]
    return documents


def _key_policy_problems(args: StackValidationArgs, key: Any) -> list[tuple[str, str]]:
    policy = get(key.props, "policy")
    if not policy:
        return []
    problems: list[tuple[str, str]] = []
    size = len(_text(policy).encode())
    if size > KEY_POLICY_BYTES:
        problems.append((key.urn, f"its key policy is {size} bytes (at most {KEY_POLICY_BYTES})"))
    found = statements(policy)
    ids = (known(key.props, "arn"), known(key.props, "keyId"), known(key.props, "id"))
    if not get(key.props, "bypassPolicyLockoutSafetyCheck") and not _key_policy_allows(found, "kms:PutKeyPolicy"):
        problems.append((key.urn, "no statement lets an AWS principal call kms:PutKeyPolicy, so KMS refuses the policy "
                                  "(the lockout safety check)"))
    for alias in resources_of(args, [KMS_ALIAS]):
        if not _refers_to(alias, "targetKeyId", key, ids):
            continue
        missing = [a for a in ("kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias") if not _key_policy_allows(found, a)]
        if missing:
            problems.append((alias.urn, f"alias '{alias.name}' targets it, but its key policy does not allow "
                                        f"{', '.join(missing)} to an AWS principal, so the alias cannot be created, "
                                        "moved or deleted"))
    for machine in resources_of(args, [STATE_MACHINE]):
        if get(machine.props, "encryptionConfiguration.type") != "CUSTOMER_MANAGED_KMS_KEY":
            continue
        if not _refers_to(machine, "encryptionConfiguration", key, ids) and get(
                machine.props, "encryptionConfiguration.kmsKeyId") not in [i for i in ids if i]:
            continue
        documents = _role_documents(args, machine)
        # The execution role calls KMS itself: a kms:ViaService condition (in the key policy or
        # the role) never matches it, and the executions fail.
        for action in ("kms:Decrypt", "kms:GenerateDataKey"):
            if not _key_policy_allows(found, action, refused=frozenset({VIA_SERVICE})):
                problems.append((machine.urn, f"state machine '{machine.name}' is encrypted with this key, but the key "
                                              f"policy allows {action} to AWS principals only under kms:ViaService, "
                                              "which the execution role's own calls do not carry"))
            if documents is not None and not _role_allows(documents, action, ids, {VIA_SERVICE}):
                problems.append((machine.urn, f"state machine '{machine.name}' is encrypted with this key, but its role "
                                              f"does not allow {action} on the key without a kms:ViaService condition "
                                              f"(bind it with {{\"StringEquals\": {{\"kms:EncryptionContext:aws:states:"
                                              f"stateMachineArn\": <machine ARN>}}}} instead)"))
        if str(get(machine.props, "loggingConfiguration.level", "OFF")).upper() == "OFF":
            continue
        if not _key_policy_allows(found, "kms:Decrypt", service=LOGS_DELIVERY):
            problems.append((machine.urn, f"state machine '{machine.name}' logs with this key, but the key policy does "
                                          f"not allow {LOGS_DELIVERY} kms:Decrypt, so its log events are not delivered"))
        refused = {VIA_SERVICE, STATES_CONTEXT}
        if not _key_policy_allows(found, "kms:GenerateDataKey", refused=frozenset(refused)):
            problems.append((machine.urn, f"state machine '{machine.name}' logs with this key, but the key policy does "
                                          "not let the account's roles generate data keys for log delivery (without "
                                          "kms:ViaService or a state-machine encryption context)"))
        if documents is not None and not _role_allows(documents, "kms:GenerateDataKey", ids, refused):
            problems.append((machine.urn, f"state machine '{machine.name}' logs with this key, but its role does not "
                                          "allow kms:GenerateDataKey on the key for the log delivery "
                                          "(condition kms:EncryptionContext:SourceArn = arn:aws:logs:REGION:ACCOUNT:*), "
                                          "so its log events are not delivered"))
    return problems


def _kms_key_policies(args: StackValidationArgs, report: ReportViolation) -> None:
    for key in resources_of(args, [KMS_KEY]):
        for urn, problem in _key_policy_problems(args, key):
            report(f"KMS key '{key.name}': {problem}.", urn)


# ------------------------------------------------------------------ protected, yet replaced


#: Types a routine change replaces: a new secret value forces a new AWS or GCP secret version,
#: and a Lambda layer version is immutable. Pulumi refuses to replace a protected resource
#: (https://www.pulumi.com/docs/iac/concepts/options/protect/), so protecting one blocks the
#: next rotation or release. Protect the secret (or the function), not its versions.
REPLACED_ON_ROUTINE_CHANGE = {
    SECRET_VERSION: "a new secret value replaces the version",
    GCP_SECRET_VERSION: "new secret data replaces the version",
    LAYER_VERSION: "every change to a layer publishes a new version",
}


def _protected_versions(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.opts is not None and args.opts.protect:
        report(f"{args.resource_type} '{args.name}' is protected, but {REPLACED_ON_ROUTINE_CHANGE[args.resource_type]}, "
               "and Pulumi refuses to replace a protected resource: the next rotation or release fails.")


# ------------------------------------------------------------------ names and sizes


#: type -> (property, shortest, longest), from each service's quotas page: Lambda
#: (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html), SQS
#: (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-queues.html),
#: Step Functions (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html),
#: DynamoDB, SNS, KMS aliases, CloudWatch Logs and alarms, Secrets Manager, API Gateway; IAM
#: role names are checked with the IAM quotas.
NAME_LIMITS: dict[str, tuple[str, int, int]] = {
    LAMBDA_FUNCTION: ("name", 1, 64),
    SQS_QUEUE: ("name", 1, 80),
    STATE_MACHINE: ("name", 1, 80),
    "aws:dynamodb/table:Table": ("name", 3, 255),
    "aws:sns/topic:Topic": ("name", 1, 256),
    KMS_ALIAS: ("name", 7, 256),
    LOG_GROUP: ("name", 1, 512),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("name", 1, 255),
    "aws:secretsmanager/secret:Secret": ("name", 1, 512),
    "aws:apigatewayv2/api:Api": ("name", 1, 128),
    "aws:lambda/permission:Permission": ("statementId", 1, 100),
}


def _name_limits(args: ResourceValidationArgs, report: ReportViolation) -> None:
    prop, shortest, longest = NAME_LIMITS[args.resource_type]
    value = get(args.props, prop)
    if not isinstance(value, str):
        return
    if not shortest <= len(value) <= longest:
        report(f"{args.resource_type} '{args.name}': {prop} {shown(value)} is {len(value)} characters; allowed: "
               f"{shortest} to {longest}.")
    if args.resource_type == KMS_ALIAS and (not value.startswith("alias/") or value.startswith("alias/aws/")):
        report(f"{args.resource_type} '{args.name}': name {shown(value)} must start with 'alias/' and not "
               "'alias/aws/' (reserved for AWS managed keys).")


#: "Lambda quotas": 4 KB for all of a function's environment variables together.
LAMBDA_ENVIRONMENT_BYTES = 4096


def _lambda_environment(args: ResourceValidationArgs, report: ReportViolation) -> None:
    variables = get(args.props, "environment.variables")
    if not isinstance(variables, Mapping):
        return
    size = sum(len(str(k).encode()) + len(str(variables[k]).encode()) for k in variables)
    if size > LAMBDA_ENVIRONMENT_BYTES:
        biggest = sorted(variables, key=lambda k: -len(str(variables[k])))[:3]
        report(f"Lambda function '{args.name}': its environment variables total {size} bytes (at most "
               f"{LAMBDA_ENVIRONMENT_BYTES}); the largest are {', '.join(biggest)}.")


# ------------------------------------------------------------------ vended log groups

VENDED = ":log-group:/aws/vendedlogs/"
LOG_DESTINATIONS = {
    STATE_MACHINE: "loggingConfiguration.logDestination",
    HTTP_API_STAGE: "accessLogSettings.destinationArn",
    REST_API_STAGE: "accessLogSettings.destinationArn",
}


def _vended_log_groups(args: ResourceValidationArgs, report: ReportViolation) -> None:
    path = LOG_DESTINATIONS[args.resource_type]
    destination = get(args.props, path)
    if isinstance(destination, str) and ":log-group:" in destination and VENDED not in destination:
        report(f"{args.resource_type} '{args.name}': {path} {shown(destination)} is not under /aws/vendedlogs/; "
               "each such log group adds to the account's CloudWatch Logs resource policy, which holds 5,120 "
               "characters (10 policies a region), after which log delivery setup fails.")


POLICIES = [
    resource_policy(
        "aws-sqs-policy-quotas",
        "SQS queue policies fit the SQS policy quotas: 8,192 bytes, 20 statements, 50 principals, 10 conditions, "
        "7 actions per statement (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/"
        "quotas-policies.html).",
        [SQS_QUEUE, SQS_QUEUE_POLICY],
        _sqs_policy_quotas,
        remediation='write a Deny over every action as "sqs:*" (a wildcard only takes away), and split or shorten '
        "the policy until it fits.",
        severity=Severity.HIGH,
    ),
    stack_policy(
        "aws-iam-policy-quotas",
        "IAM roles and policies fit IAM's quotas: inline policies 10,240 characters per role, managed policies 6,144, "
        "trust policies 2,048 (configurable), 10 managed policies per role (configurable), role names 64 and name "
        "prefixes 38 characters (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).",
        [AWS_ROLE, AWS_ROLE_POLICY, AWS_POLICY, ROLE_POLICY_ATTACHMENT],
        _iam_quotas,
        remediation="split the role's permissions between roles (one per workload), shorten the documents "
        "(one statement per resource set), or raise the account quota and the policy config with it.",
        severity=Severity.HIGH,
        config={
            TRUST_POLICY_CHARACTERS_KEY: {"type": "integer", "default": 2048, "minimum": 2048, "maximum": 4096,
                                          "description": "The account's role trust policy length quota."},
            MANAGED_POLICIES_PER_ROLE_KEY: {"type": "integer", "default": 10, "minimum": 10, "maximum": 20,
                                            "description": "The account's managed policies per role quota."},
        },
    ),
    stack_policy(
        "aws-kms-key-policy-allows-dependents",
        "A KMS key policy lets KMS accept it (an AWS principal may call PutKeyPolicy), fits 32 KB, allows "
        "CreateAlias/UpdateAlias/DeleteAlias when an alias targets the key "
        "(https://docs.aws.amazon.com/kms/latest/developerguide/alias-access.html), and, for a state machine that "
        "logs with the key, lets delivery.logs.amazonaws.com decrypt while the machine's role may generate data keys "
        "for the log delivery (https://docs.aws.amazon.com/step-functions/latest/dg/encryption-at-rest.html).",
        [KMS_KEY, KMS_ALIAS, STATE_MACHINE, AWS_ROLE, AWS_ROLE_POLICY],
        _kms_key_policies,
        remediation="allow the account's administrators kms:PutKeyPolicy and kms:CreateAlias/UpdateAlias/DeleteAlias "
        "in the key policy; for CMK-encrypted state machines that log, add a key-policy statement for "
        'delivery.logs.amazonaws.com with kms:Decrypt and give the role kms:GenerateDataKey on the key with '
        '{"StringEquals": {"kms:EncryptionContext:SourceArn": "arn:aws:logs:REGION:ACCOUNT:*"}}.',
        severity=Severity.HIGH,
    ),
    resource_policy(
        "protected-resources-replaced-by-routine-changes",
        "Resources that a routine change replaces (AWS and GCP secret versions, Lambda layer versions) are not "
        "protected: Pulumi refuses to replace a protected resource, so rotating a secret would fail.",
        sorted(REPLACED_ON_ROUTINE_CHANGE),
        _protected_versions,
        remediation="protect the secret itself and leave its versions unprotected.",
        severity=Severity.MEDIUM,
    ),
    resource_policy(
        "aws-names-within-limits",
        "AWS resource names fit their service's length limits (Lambda 64, SQS and Step Functions 80, DynamoDB 3-255, "
        "aliases start with alias/ and not alias/aws/, ...), which a long stack or service name can exceed.",
        sorted(NAME_LIMITS),
        _name_limits,
        remediation="shorten the service, stack or resource name, or set a shorter explicit name.",
        severity=Severity.MEDIUM,
    ),
    resource_policy(
        "aws-lambda-environment-quota",
        "A Lambda function's environment variables total at most 4 KB "
        "(https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).",
        [LAMBDA_FUNCTION],
        _lambda_environment,
        remediation="move large values to Secrets Manager, SSM parameters or the package, and pass their names.",
        severity=Severity.MEDIUM,
    ),
    resource_policy(
        "aws-vended-log-groups",
        "Step Functions logs and API Gateway access logs go to log groups under /aws/vendedlogs/, which need no "
        "entry in the account's CloudWatch Logs resource policy (5,120 characters) "
        "(https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html).",
        sorted(LOG_DESTINATIONS),
        _vended_log_groups,
        remediation="name the log group /aws/vendedlogs/<service>/<name>.",
        level=ADVISORY,
        severity=Severity.LOW,
    ),
]
