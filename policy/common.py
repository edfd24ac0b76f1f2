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


def items_at(props: Mapping[str, Any] | None, path: str) -> list[tuple[str, Any]]:
    """(where, value) for every value at `path`, where `name[]` steps into each item of a list:
    `items_at(p, "template.containers[].envs[]")` -> [("template.containers[0].envs[1]", {...}), ...].
    Absent or mistyped parts give nothing; an unknown value raises, as `get` does."""
    found: list[tuple[str, Any]] = [("", props)]
    for part in path.split("."):
        key, each = (part[:-2], True) if part.endswith("[]") else (part, False)
        step = []
        for where, value in found:
            value = get(value, key)
            where = f"{where}.{key}" if where else key
            if not each:
                if value is not None:
                    step.append((where, value))
            elif isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
                step.extend((f"{where}[{i}]", value[i]) for i in range(len(value)))
        found = step
    return found


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


#: Condition operators a request passes only by matching a value (IAM condition operators
#: reference); Not... operators, ...IfExists (passes when the key is absent) and ForAllValues:
#: (passes on an empty set) test nothing a caller must show.
REQUIRING_STRING_OPERATORS = ("stringequals", "stringequalsignorecase", "stringlike")


def required_values(condition: Any, key: str) -> list[tuple[str, list[str]]]:
    """(operator, values) of each test of `key` in an IAM Condition block that a request must
    pass by matching one of the values; operators and keys in any case, ForAnyValue: allowed."""
    out: list[tuple[str, list[str]]] = []
    if not isinstance(condition, Mapping):
        return out
    wanted = key.lower()
    for operator, tests in condition.items():
        op = str(operator).strip().lower().removeprefix("foranyvalue:")
        if op not in REQUIRING_STRING_OPERATORS or not isinstance(tests, Mapping):
            continue
        for name, values in tests.items():
            if str(name).strip().lower() == wanted:
                out.append((op, [str(v) for v in as_list(values)]))
    return out


def resources_of(args: StackValidationArgs, types: Sequence[str]) -> list[PolicyResource]:
    return [r for r in args.resources if r.resource_type in types]


def dependency_urns(resource: PolicyResource, key: str) -> set[str]:
    """URNs of the resources the value of property `key` comes from (known even while the value is not)."""
    return {r.urn for r in (resource.property_dependencies or {}).get(key) or []}


def each_known(items: Iterable[Any], check: Callable[[Any], None]) -> None:
    """`check` on every item; an unknown value skips only its item and is re-raised at the end,
    so a stack policy still reports what it found before the engine notes it as not run."""
    unknown: UnknownValueError | None = None
    for item in items:
        try:
            check(item)
        except UnknownValueError as err:
            unknown = unknown or err
    if unknown is not None:
        raise unknown


# ------------------------------------------------------------------ Azure App Service and Functions

APP_SERVICE_PLAN = "azure-native:web:AppServicePlan"
WEB_APP_AUTH_SETTINGS_V2 = "azure-native:web:WebAppAuthSettingsV2"
#: Publishing-credential (basic auth) policies of an app: `allow` false turns basic auth off for FTP / SCM.
WEB_APP_FTP_ALLOWED = "azure-native:web:WebAppFtpAllowed"
WEB_APP_SCM_ALLOWED = "azure-native:web:WebAppScmAllowed"
WEB_APP_FTP_ALLOWED_SLOT = "azure-native:web:WebAppFtpAllowedSlot"
WEB_APP_SCM_ALLOWED_SLOT = "azure-native:web:WebAppScmAllowedSlot"
STORAGE_QUEUE = "azure-native:storage:Queue"
KEY_VAULT = "azure-native:keyvault:Vault"
USER_ASSIGNED_IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
#: Flex Consumption plans: sku FC1, tier FlexConsumption.
FLEX_SKU, FLEX_TIER = "fc1", "flexconsumption"
#: host.json through app settings: `AzureFunctionsJobHost__extensions__queues__<setting>`.
QUEUE_HOST_SETTING = "AzureFunctionsJobHost__extensions__queues__"
MAX_DEQUEUE_COUNT = QUEUE_HOST_SETTING + "maxDequeueCount"


def lower(value: Any) -> str | None:
    """A known, non-empty string in lower case (Azure names compare case-insensitively); else None."""
    return value.lower() if isinstance(value, str) and value else None


def is_function_app(props: Mapping[str, Any]) -> bool:
    """A Microsoft.Web site whose kind says function app (`functionapp`, `functionapp,linux`, ...)."""
    return "functionapp" in str(known(props, "kind") or "").lower()


#: An app setting whose value is unknown during preview (computed from another resource's output).
UNKNOWN_SETTING = object()


def app_settings(props: Mapping[str, Any]) -> dict[str, Any]:
    """siteConfig.appSettings ([{name, value}]) as {name: value}. An unknown list raises; an entry
    unknown as a whole is skipped, and an unknown value becomes UNKNOWN_SETTING."""
    raw = get(props, "siteConfig.appSettings")
    if not isinstance(raw, Sequence) or isinstance(raw, (str, bytes)):
        return {}
    out: dict[str, Any] = {}
    for i in range(len(raw)):
        try:
            entry = raw[i]
            name = entry.get("name") if isinstance(entry, Mapping) else None
        except UnknownValueError:
            continue
        if not isinstance(name, str):
            continue
        try:
            out[name] = entry.get("value")
        except UnknownValueError:
            out[name] = UNKNOWN_SETTING
    return out


def setting(settings: Mapping[str, Any], name: str) -> tuple[str, Any] | None:
    """(the name as written, value) of an app setting, its name compared case-insensitively."""
    wanted = name.lower()
    return next(((k, v) for k, v in settings.items() if k.lower() == wanted), None)


def refers(resource: PolicyResource, prop: str, target: PolicyResource, values: Iterable[Any]) -> bool:
    """Whether `resource.prop` is `target`: a property dependency on it, or a known value equal
    (case-insensitively) to one of `values` (its name or ARM id)."""
    if target.urn in dependency_urns(resource, prop):
        return True
    mine = lower(known(resource.props, prop))
    return mine is not None and mine in {lower(v) for v in values if lower(v)}


def arm_name(arm_id: Any) -> str | None:
    """The last segment of an ARM id, lower case."""
    return lower(arm_id.rstrip("/").rsplit("/", 1)[-1]) if isinstance(arm_id, str) else None


def plan_of(app: PolicyResource, plans: Sequence[PolicyResource]) -> PolicyResource | None:
    """The App Service plan in the stack that `serverFarmId` names (dependency, id or name)."""
    for plan in plans:
        if plan.urn in dependency_urns(app, "serverFarmId"):
            return plan
    farm = known(app.props, "serverFarmId")
    for plan in plans:
        ids = {lower(known(plan.props, "id")), lower(known(plan.props, "name"))} - {None}
        if lower(farm) in ids or arm_name(farm) in ids:
            return plan
    return None


def is_flex_plan(plan: PolicyResource | None) -> bool:
    return plan is not None and (lower(known(plan.props, "sku.name")) == FLEX_SKU
                                 or lower(known(plan.props, "sku.tier")) == FLEX_TIER)


def is_flex_app(app: PolicyResource, plans: Sequence[PolicyResource]) -> bool:
    """A Flex Consumption app: it carries functionAppConfig (only Flex sites have one), or its
    plan in the stack is FC1 / FlexConsumption."""
    return known(app.props, "functionAppConfig") is not None or is_flex_plan(plan_of(app, plans))


def same_app(side: PolicyResource, app: PolicyResource) -> bool:
    """Whether a site child resource keyed by (name, resourceGroupName) - auth settings,
    publishing-credential policies - belongs to `app`: its name depends on the app or equals
    the app's name, and the resource groups agree wherever both are known."""
    if app.urn in dependency_urns(side, "name"):
        return True
    name = lower(known(side.props, "name"))
    if name is None or name != lower(known(app.props, "name")):
        return False
    if dependency_urns(side, "resourceGroupName") & dependency_urns(app, "resourceGroupName"):
        return True
    mine, theirs = lower(known(side.props, "resourceGroupName")), lower(known(app.props, "resourceGroupName"))
    return mine is None or theirs is None or mine == theirs
