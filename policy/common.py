"""What every policy module shares: the policy factories, config, and safe property access.

Policies receive the engine's view of a resource: camelCase properties, wrapped by the SDK's
`unknown_checking_proxy` so touching a value that is unknown during preview raises
`UnknownValueError` (the engine, and the offline harness, turn that into an advisory note).
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

MANDATORY = EnforcementLevel.MANDATORY
ADVISORY = EnforcementLevel.ADVISORY

#: Pack-wide config every policy accepts; `environment` defaults to prod, the strictest rules.
ENVIRONMENT = "environment"
REQUIRE_CMK = "requireCustomerManagedKeys"
CONFIG_PROPERTIES: dict[str, dict[str, Any]] = {
    ENVIRONMENT: {"type": "string", "enum": ["dev", "prod"], "default": "prod",
                  "description": "dev relaxes the prod-only rules: CORS '*', table backups and deletion protection, "
                                 "open routes on an API with no authentication configured at all."},
}
CMK_PROPERTY = {
    REQUIRE_CMK: {"type": "boolean", "default": True,
                  "description": "Require customer-managed keys; when false, provider-managed encryption must still be explicitly on."},
}

#: Type tokens read by more than one policy module (one spelling, one place).
SQS_QUEUE = "aws:sqs/queue:Queue"
LAMBDA_FUNCTION = "aws:lambda/function:Function"
DYNAMODB_TABLE = "aws:dynamodb/table:Table"
STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
SQS_QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
SNS_TOPIC = "aws:sns/topic:Topic"
#: pulumi-aws 7: `Bucket` is the former `BucketV2`; the V2 tokens remain as deprecated aliases.
S3_BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
KMS_KEY = "aws:kms/key:Key"
AWS_ROLE = "aws:iam/role:Role"
AWS_ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
AWS_POLICY = "aws:iam/policy:Policy"
FIRESTORE_DATABASE = "gcp:firestore/database:Database"
GCP_WORKFLOW = "gcp:workflows/workflow:Workflow"
GCP_FUNCTION_V2 = "gcp:cloudfunctionsv2/function:Function"
GCP_FUNCTION_V1 = "gcp:cloudfunctions/function:Function"
GCS_BUCKET = "gcp:storage/bucket:Bucket"
PUBSUB_SUBSCRIPTION = "gcp:pubsub/subscription:Subscription"
COSMOS_ACCOUNT = "azure-native:cosmosdb:DatabaseAccount"
STORAGE_ACCOUNT = "azure-native:storage:StorageAccount"
SERVICEBUS_NAMESPACE = "azure-native:servicebus:Namespace"
WEB_APP = "azure-native:web:WebApp"
#: A deployment slot is a second live copy of the app, with its own TLS, HTTPS and FTP settings.
WEB_APP_SLOT = "azure-native:web:WebAppSlot"

ResourceCheck = Callable[[ResourceValidationArgs, ReportViolation], None]
StackCheck = Callable[[StackValidationArgs, ReportViolation], None]


def _schema(extra: Mapping[str, dict[str, Any]] | None) -> PolicyConfigSchema:
    return PolicyConfigSchema(properties={**CONFIG_PROPERTIES, **(extra or {})})


def _policy(cls, name, description, types, validate, remediation, level, severity, config):
    """Build a policy with the pack's common settings; `resource_types` is what README and tests read."""
    policy = cls(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=level,
        severity=severity,
        config_schema=_schema(config),
        remediation_steps=remediation,
    )
    policy.resource_types = tuple(sorted(types))
    return policy


def resource_policy(
    name: str,
    description: str,
    types: Iterable[str],
    check: ResourceCheck,
    *,
    remediation: str,
    level: EnforcementLevel = MANDATORY,
    severity: Severity = Severity.HIGH,
    config: Mapping[str, dict[str, Any]] | None = None,
) -> ResourceValidationPolicy:
    """A policy run on each resource whose type is in `types`; every message ends with the fix."""
    wanted = frozenset(types)

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type in wanted:
            check(args, lambda message, urn=None: report(f"{message} Fix: {remediation}", urn))

    return _policy(ResourceValidationPolicy, name, description, wanted, validate, remediation, level, severity, config)


def stack_policy(
    name: str,
    description: str,
    types: Iterable[str],
    check: StackCheck,
    *,
    remediation: str,
    level: EnforcementLevel = MANDATORY,
    severity: Severity = Severity.HIGH,
    config: Mapping[str, dict[str, Any]] | None = None,
) -> StackValidationPolicy:
    """A policy over the whole stack (correlating resources); `types` documents what it reads."""

    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        check(args, lambda message, urn=None: report(f"{message} Fix: {remediation}", urn))

    return _policy(StackValidationPolicy, name, description, types, validate, remediation, level, severity, config)


# ------------------------------------------------------------------ reading props


def get(props: Mapping[str, Any] | None, path: str, default: Any = None) -> Any:
    """`get(props, "serverSideEncryption.kmsKeyArn")`: None-safe nested lookup."""
    value: Any = props
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return default
        value = value[part]
    return default if value is None else value


def known(props: Mapping[str, Any] | None, path: str) -> Any:
    """A value used only to correlate resources: None when absent or unknown during preview.

    Stack policies correlate through property dependencies first, so an unknown ARN or URL must
    not stop them; the values a policy judges are read with `get`, which raises.
    """
    try:
        return get(props, path)
    except UnknownValueError:
        return None


def plain(value: Any) -> Any:
    """Proxied props as plain JSON-able values, for messages."""
    if isinstance(value, Mapping):
        return {str(k): plain(value[k]) for k in value}
    if isinstance(value, Iterable) and not isinstance(value, (str, bytes)):
        return [plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def shown(value: Any) -> str:
    """A value as the stack file would spell it: 'text', true, 30, ["a"]; absent is 'not set'."""
    if value is None or value == "":
        return "not set"
    if isinstance(value, str):
        return repr(value)
    try:
        return json.dumps(plain(value))
    except (TypeError, ValueError):
        return repr(value)


def named(args: ResourceValidationArgs | PolicyResource, kind: str) -> str:
    """How a message names the resource (the policy's args, or a stack policy's resource): kind 'name' (type)."""
    return f"{kind} '{args.name}' ({args.resource_type})"


def config(args: ResourceValidationArgs | StackValidationArgs, key: str, default: Any) -> Any:
    value = args.get_config().get(key)
    return default if value is None else value


def is_prod(args: ResourceValidationArgs | StackValidationArgs) -> bool:
    return config(args, ENVIRONMENT, "prod") == "prod"


def require_cmk(args: ResourceValidationArgs | StackValidationArgs) -> bool:
    return bool(config(args, REQUIRE_CMK, True))


def as_list(value: Any) -> list[Any]:
    """A value or a sequence of values as a list (IAM fields take either)."""
    if value is None:
        return []
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        return [value]
    return list(value)


def wildcard_match(pattern: str, value: str) -> bool:
    """IAM's `*`/`?` matching, case-insensitive (actions are; ARNs are compared the same way here)."""
    return fnmatch.fnmatchcase(value.lower(), pattern.lower())


def everyone(principal: Any) -> bool:
    """A policy statement's Principal meaning anyone: "*", or "*" among its AWS principals (key in any case)."""
    if isinstance(principal, str):
        return principal.strip() == "*"
    if isinstance(principal, Mapping):
        return any(str(p).strip() == "*" for key, value in principal.items() if str(key).upper() == "AWS"
                   for p in as_list(value))
    return False


def document(value: Any) -> dict[str, Any]:
    """An IAM-style policy document from a JSON string or an object; {} when absent."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return dict(value)


def statements(value: Any) -> list[dict[str, Any]]:
    """The statements of a policy document, each with Action/Resource as lists."""
    out = []
    for s in as_list(document(value).get("Statement")):
        if isinstance(s, Mapping):
            s = dict(s)
            for key in ("Action", "NotAction", "Resource", "NotResource"):
                if key in s:
                    s[key] = as_list(s[key])
            out.append(s)
    return out


def resources_of(args: StackValidationArgs, types: Sequence[str]) -> list[PolicyResource]:
    return [r for r in args.resources if r.resource_type in types]


def dependency_urns(resource: PolicyResource, key: str) -> set[str]:
    """URNs of the resources the value of property `key` comes from (known even while the value is not)."""
    return {r.urn for r in (resource.property_dependencies or {}).get(key) or []}
