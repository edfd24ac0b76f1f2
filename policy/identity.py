"""Least privilege on AWS, GCP and Azure: every workload gets exactly the access it needs.

AWS: identity policies (role inline policies, role/user/group policies, managed policies, IAM
Identity Center permission sets' inline policies) allow no wildcard actions, no
NotAction/NotResource, `Resource: "*"` only for the unscoped actions the rendering needs
(telemetry and Step Functions log delivery, policy/aws_actions.py; config replaces them) and no
ARNs with a wildcard partition, service, region or account; no AWS-managed
admin/power-user/FullAccess attachments; Lambda permissions for AWS services carry a `sourceArn`;
roles trust only service principals or a federated OIDC identity pinned by audience and subject;
one role per function. Deny statements never count: they take permissions away. KMS key
policies are resource policies (`"*"` there means "this key") and are not read here. What
workloads may not do at all (permissions management) is policy/privileges.py's.

GCP: no primitive roles, no `allUsers`/`allAuthenticatedUsers` outside the declared public
resources, project/folder/organization data roles only with an IAM condition, one dedicated
non-default service account per function.

Azure: data-plane roles (by the catalogue of built-in roles, or a custom role's data actions)
scoped to the resource (Cosmos DB's to one container), custom roles without wildcards, one
managed identity per function app.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pulumi_policy import ResourceValidationArgs, Severity, StackValidationArgs
from pulumi_policy.proxy import UnknownValueError

from . import aws_actions
from .azure_roles import DATA_ROLES
from .common import (
    AWS_POLICY,
    AWS_ROLE,
    AWS_ROLE_POLICY,
    GCP_FUNCTION_V1,
    GCP_FUNCTION_V2,
    LAMBDA_FUNCTION,
    WEB_APP,
    as_list,
    config,
    document,
    each_known,
    get,
    known,
    plain,
    required_values,
    resource_policy,
    resources_of,
    shown,
    stack_policy,
    statements,
)
from .role_meaning import AZ_ROLE_DEFINITION, KEY_READING, AzureCustomRoles, azure_grants, azure_operations, role_guid

Report = Callable[..., None]

#: `Resource: "*"` is allowed for the unscoped actions the rendering needs (telemetry, Step
#: Functions log delivery: aws_actions.UNSCOPED_BY_DEFAULT), and those config `unscopedActions`
#: adds. Anything else names the resources it uses.
UNSCOPED_ACTIONS_KEY = "unscopedActions"
ALLOWED_MANAGED_KEY = "allowedManagedPolicies"
#: AWS-managed policies whose content grants only actions without resource-level permissions
#: (AWSXRayDaemonWriteAccess: the X-Ray trace and sampling calls), so they widen nothing.
REVIEWED_MANAGED_POLICIES = ("AWSXRayDaemonWriteAccess",)
PUBLIC_RESOURCES_KEY = "publicResources"
DATA_ROLES_KEY = "dataPlaneRoleIds"


def _label(args: ResourceValidationArgs) -> str:
    return f'{args.resource_type} "{args.name}"'


def _quote(values: Iterable[Any]) -> str:
    return ", ".join(json.dumps(plain(v), default=str) for v in values)


# =================================================================================== AWS

AWS_USER_POLICY = "aws:iam/userPolicy:UserPolicy"
AWS_GROUP_POLICY = "aws:iam/groupPolicy:GroupPolicy"
#: An IAM Identity Center permission set's inline policy: the identity policy of the roles it provisions.
SSO_INLINE_POLICY = "aws:ssoadmin/permissionSetInlinePolicy:PermissionSetInlinePolicy"
#: Every pulumi-aws input that holds an identity policy document (the iam module's `policy`
#: inputs, Role `inlinePolicies[].policy`, ssoadmin `inlinePolicy`); trust policies are read apart.
AWS_IDENTITY_DOCUMENT_TYPES = (AWS_ROLE, AWS_ROLE_POLICY, AWS_USER_POLICY, AWS_GROUP_POLICY, AWS_POLICY, SSO_INLINE_POLICY)
AWS_LAMBDA_PERMISSION = "aws:lambda/permission:Permission"
#: Attachment resources and the property holding the managed policy ARN(s).
AWS_ATTACHMENTS = {
    AWS_ROLE: "managedPolicyArns",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "policyArn",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment": "policyArn",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment": "policyArn",
    "aws:iam/policyAttachment:PolicyAttachment": "policyArn",
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive": "policyArns",
    "aws:iam/userPolicyAttachmentsExclusive:UserPolicyAttachmentsExclusive": "policyArns",
    "aws:iam/groupPolicyAttachmentsExclusive:GroupPolicyAttachmentsExclusive": "policyArns",
}

_AWS_MANAGED_ARN = re.compile(r"^arn:aws(?:-[a-z-]+)?:iam::aws:policy/(?:.*/)?(?P<name>[^/]+)$")
_WILDCARD = re.compile(r"[*?]")
#: Services whose ARN resource part starts with a resource type: `table/*` means every table.
_TYPED_RESOURCES = {
    "dynamodb": ("table",),
    "lambda": ("function", "layer", "event-source-mapping"),
    "logs": ("log-group",),
    "states": ("stateMachine", "execution", "activity"),
    "secretsmanager": ("secret",),
    "kms": ("key", "alias"),
    "events": ("rule", "event-bus"),
    "iam": ("role", "user", "group", "policy"),
    "ssm": ("parameter",),
    "ecr": ("repository",),
    "apigateway": ("restapis", "apis"),
}


def identity_documents(args: ResourceValidationArgs | Any) -> list[tuple[str, Any]]:
    """(where, document) for the permission documents of an IAM resource (not trust policies);
    `args` is a policy's args or a stack policy's resource."""
    if args.resource_type == AWS_ROLE:
        out = []
        for i, inline in enumerate(as_list(args.props.get("inlinePolicies"))):
            if isinstance(inline, Mapping):
                name = inline.get("name")
                where = f"inlinePolicies[{i}]" + (f' ("{name}")' if name else "") + ".policy"
                out.append((where, inline.get("policy")))
        return out
    if args.resource_type == SSO_INLINE_POLICY:
        return [("inlinePolicy", args.props.get("inlinePolicy"))]
    return [("policy", args.props.get("policy"))]


def allows(statement: Mapping[str, Any]) -> bool:
    """Anything but an explicit Deny grants (or is meant to grant) permissions."""
    return statement.get("Effect") != "Deny"


def statement_at(where: str, index: int, statement: Mapping[str, Any]) -> str:
    sid = statement.get("Sid")
    return f"{where} statement {index}" + (f' (Sid "{sid}")' if sid else "")


def _check_wildcard_actions(args: ResourceValidationArgs, report: Report) -> None:
    documents = identity_documents(args)
    if args.resource_type == AWS_ROLE:
        documents.append(("assumeRolePolicy", args.props.get("assumeRolePolicy")))
    for where, doc in documents:
        for i, s in enumerate(statements(doc)):
            if not allows(s):
                continue
            if "NotAction" in s:
                report(f"{_label(args)}: {statement_at(where, i, s)} is an Allow with NotAction {_quote(s['NotAction'])}, "
                       "which grants every other action, including ones AWS adds later; "
                       "required: an explicit Action list.")
            wild = [str(a) for a in s.get("Action", []) if _WILDCARD.search(str(a))]
            if wild:
                report(f"{_label(args)}: {statement_at(where, i, s)} allows wildcard action(s) {_quote(wild)} "
                       f"({'; '.join(_grants(a) for a in wild)}); "
                       "required: the exact actions the workload calls (no '*' in an Allow).")


def _grants(pattern: str) -> str:
    """What an action pattern grants, by AWS's catalogue: 'grants 5 actions: a, b, ...'."""
    actions = aws_actions.expand(pattern)
    if actions is None:
        return f"{pattern} matches every action of " + ("every service" if ":" not in pattern or pattern.startswith("*")
                                                           else "a service the catalogue does not know")
    shown_actions = ", ".join(actions[:5]) + (", ..." if len(actions) > 5 else "")
    return f"{pattern} grants {len(actions)} action{'s' if len(actions) != 1 else ''} today" + (
        f": {shown_actions}" if actions else "") + ", and any AWS adds later"


def _arn_problem(arn: str) -> str | None:
    """Why an ARN in an Allow is too wide, or None."""
    if arn == "*" or not arn.startswith("arn:"):
        return None
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return "is not a complete ARN but contains a wildcard" if _WILDCARD.search(arn) else None
    _, partition, service, region, account, resource = parts
    fields = [name for name, value in (("partition", partition), ("service", service), ("region", region),
                                       ("account", account)) if _WILDCARD.search(value)]
    if fields:
        return f"has a wildcard in its {'/'.join(fields)} field{'s' if len(fields) > 1 else ''}"
    if re.fullmatch(r"[*?]+", resource):
        return "matches every resource of the service in the account"
    for kind in _TYPED_RESOURCES.get(service, ()):
        if re.fullmatch(rf"{re.escape(kind)}[/:][*?]+", resource):
            return f"matches every {kind} in the account"
    if service == "execute-api":
        # apiId/stage/METHOD/path: stages and path parameters are matched with "*" by design;
        # the API itself must be named.
        return "has a wildcard in its API id" if _WILDCARD.search(resource.split("/", 1)[0]) else None
    # Only a trailing "/*" or ":*" after a named resource (its objects, streams, indexes,
    # versions) scopes; a wildcard anywhere else matches other resources' names.
    inner = resource[:-2] if re.search(r"[/:]\*$", resource) else resource
    if _WILDCARD.search(inner):
        return "has a wildcard inside the resource name, matching every resource whose name fits"
    return None


def _unscoped_ok(action: str, allowed: set[str]) -> bool:
    """Whether an action (every action a pattern grants) is one allowed on "*"."""
    if not _WILDCARD.search(action):
        return action.lower() in allowed
    actions = aws_actions.expand(action)
    return bool(actions) and all(a.lower() in allowed for a in actions)


def _why_wide(action: str) -> str:
    """What an action on "*" reaches, by the catalogue."""
    level = aws_actions.resource_level(action) if not _WILDCARD.search(action) else True
    what = ("not in AWS's catalogue" if level is None else "can name its resources" if level
            else "no resource type: every resource it acts on in the account")
    return f"{json.dumps(action)} ({what})"


def _pins_values(values: list[str]) -> bool:
    """Condition values that name something: none empty or starting with a wildcard."""
    return bool(values) and all(v and not _WILDCARD.match(v) for v in values)


def _check_resource_scope(args: ResourceValidationArgs, report: Report) -> None:
    allowed = {str(a).lower() for a in [*aws_actions.UNSCOPED_BY_DEFAULT, *config(args, UNSCOPED_ACTIONS_KEY, [])]}
    for where, doc in identity_documents(args):
        for i, s in enumerate(statements(doc)):
            if not allows(s):
                continue
            at = f"{_label(args)}: {statement_at(where, i, s)}"
            if "NotResource" in s:
                report(f"{at} is an Allow with NotResource {_quote(s['NotResource'])}, which grants every other "
                       "resource; required: an explicit Resource list.")
            resources = [str(r) for r in s.get("Resource", [])]
            if "*" in resources:
                if "NotAction" in s:
                    report(f'{at} allows NotAction {_quote(s["NotAction"])} on Resource "*"; required: explicit '
                           'actions, and Resource "*" only for telemetry, log delivery and config unscopedActions.')
                wide = [str(a) for a in s.get("Action", []) if not _unscoped_ok(str(a), allowed)]
                if wide:
                    report(f'{at} allows {"; ".join(_why_wide(a) for a in wide)} on Resource "*"; required: the '
                           "ARNs of the resources these actions use (Resource \"*\" is kept for telemetry, Step Functions "
                           f"log delivery and the actions a reviewer lists in config {UNSCOPED_ACTIONS_KEY}).")
                for action in s.get("Action", []):
                    key = aws_actions.SCOPING_CONDITIONS.get(str(action).lower())
                    if key and not any(_pins_values(values) for _, values in required_values(s.get("Condition"), key)):
                        report(f'{at} allows {json.dumps(str(action))} on Resource "*" without a condition naming '
                               f"{key} (now {shown(plain(s.get('Condition')))}), so it writes to every one; required: "
                               f'Condition {{"StringEquals": {{"{key}": "<the service\'s own>"}}}}.')
            for arn in resources:
                problem = _arn_problem(arn)
                if problem:
                    report(f"{at} allows Resource {json.dumps(arn)}, which {problem}; required: the concrete "
                           "partition, service, region and account, and the resource's own name (a trailing "
                           "'/*' or ':*' after it is fine).")


def _check_managed_policies(args: ResourceValidationArgs, report: Report) -> None:
    """AWS-managed policies are AWS's documents, not the workload's: their names do not say what
    they grant (`AmazonS3ReadOnlyAccess` is s3:Get* and s3:List* on every bucket), and AWS
    widens them over time. Only those a reviewer named in config `allowedManagedPolicies` pass."""
    prop = AWS_ATTACHMENTS[args.resource_type]
    allowed = {str(n) for n in config(args, ALLOWED_MANAGED_KEY, list(REVIEWED_MANAGED_POLICIES))}
    for arn in as_list(args.props.get(prop)):
        m = _AWS_MANAGED_ARN.match(str(arn))
        if not m or m.group("name") in allowed:
            continue
        name = m.group("name")
        if name.startswith("AdministratorAccess") or name == "PowerUserAccess" or "FullAccess" in name:
            what = "which grants every action of one or more services on every resource"
        else:
            what = ("whose content AWS writes and widens: managed policies grant service-wide actions "
                    "(Get*, List*, Describe*, ...) on every resource, whatever the name says")
        report(f"{_label(args)}: {prop} attaches the AWS-managed policy {json.dumps(str(arn))}, {what}; required: an "
               "inline or customer-managed policy listing the exact actions on the workload's own resources (or the "
               f"policy's name in config {ALLOWED_MANAGED_KEY} after review).")


_SERVICE_PRINCIPAL = re.compile(r"^[a-z0-9.-]+\.(?:amazonaws\.com(?:\.cn)?|amazon\.com)$")


def _check_lambda_permission(args: ResourceValidationArgs, report: Report) -> None:
    principal = str(args.props.get("principal") or "")
    action = str(args.props.get("action") or "")
    if action.lower() == "lambda:invokefunctionurl":
        return  # function URL access is the exposure policies' business (auth type NONE/AWS_IAM)
    source_arn = args.props.get("sourceArn")
    if _SERVICE_PRINCIPAL.match(principal):
        if not source_arn:
            report(f"{_label(args)}: principal {json.dumps(principal)} may invoke the function with no sourceArn, so "
                   "any resource of that service in any account can call it (confused deputy); required: sourceArn "
                   "set to the one API, topic, bucket, queue or rule that invokes it.")
    elif principal == "*" and not source_arn and not args.props.get("principalOrgId"):
        report(f'{_label(args)}: principal "*" lets anyone invoke the function; required: a service principal '
               "with sourceArn, or a specific account.")
    if source_arn:
        problem = _arn_problem(str(source_arn))
        if problem:
            report(f"{_label(args)}: sourceArn {json.dumps(str(source_arn))} {problem}; required: the ARN of the one "
                   "resource that invokes the function.")


#: GitHub Actions' OIDC issuer, whose subjects are `repo:<owner>/<repo>:<context>` ("About
#: security hardening with OpenID Connect", example subject claims).
GITHUB_OIDC = "token.actions.githubusercontent.com"
_GITHUB_REPO = re.compile(r"^repo:[^/:*?]+/[^/:*?]+:")


def _subject_pinned(issuer: str, operator: str, value: str) -> bool:
    """Whether a `sub` test names one workload: an exact value, or a pattern whose literal start
    names it (on GitHub the whole `repo:<owner>/<repo>:`, elsewhere two complete fields)."""
    if operator != "stringlike" or not _WILDCARD.search(value):
        return bool(value) and value != "*"
    head = _WILDCARD.split(value, 1)[0]
    if issuer.split("/", 1)[0] == GITHUB_OIDC:  # also an enterprise's issuer, <host>/<enterprise>
        return bool(_GITHUB_REPO.match(head))
    return head.count(":") >= 2 and all(head.split(":")[:2])


def _federated_problem(statement: Mapping[str, Any], providers: list[str]) -> str | None:
    """Why a web-identity trust does not pin who may assume the role: each OIDC provider needs a
    `<issuer>:aud` test with exact values and a `<issuer>:sub` test naming the workload ("Create a
    role for OpenID Connect federation"; GitHub's "Configuring OpenID Connect in Amazon Web
    Services"). SAML providers federate people, not workloads."""
    condition = statement.get("Condition")
    for provider in providers:
        if ":saml-provider/" in provider:
            return f"trusts SAML provider {json.dumps(provider)}, which federates people rather than a workload"
        issuer = provider.split(":oidc-provider/", 1)[-1].strip().rstrip("/")
        auds = required_values(condition, f"{issuer}:aud")
        if not any(values and not any(_WILDCARD.search(v) for v in values) for _, values in auds):
            return (f"trusts {json.dumps(provider)} without an exact {issuer}:aud test (StringEquals), so tokens "
                    "minted for any audience are accepted")
        subs = required_values(condition, f"{issuer}:sub")
        if not any(values and all(_subject_pinned(issuer, op, v) for v in values) for op, values in subs):
            seen = [v for _, values in subs for v in values]
            return (f"trusts {json.dumps(provider)} with {issuer}:sub " + (_quote(seen) if seen else "not tested")
                    + ", which does not name one workload (required: e.g. repo:<owner>/<repo>:ref:refs/heads/main)")
    return None


def _principal_problem(statement: Mapping[str, Any]) -> str | None:
    if "NotPrincipal" in statement:
        return f"uses NotPrincipal {_quote([statement['NotPrincipal']])}, trusting everyone else"
    principal = statement.get("Principal")
    if principal is None:
        return "has no Principal"
    if not isinstance(principal, Mapping):
        return f"trusts Principal {json.dumps(str(principal))}"
    others = [k for k in principal if k not in ("Service", "Federated")]
    if others:
        return f"trusts {json.dumps({k: plain(principal[k]) for k in others})}"
    if "Federated" in principal:
        problem = _federated_problem(statement, [str(p) for p in as_list(principal.get("Federated"))])
        if problem or "Service" not in principal:
            return problem
    services = [str(s) for s in as_list(principal.get("Service"))]
    if not services:
        return "has an empty Service principal"
    wild = [s for s in services if _WILDCARD.search(s)]
    if wild:
        return f"trusts wildcard service principal(s) {_quote(wild)}"
    return None


def _check_trust(args: ResourceValidationArgs, report: Report) -> None:
    for i, s in enumerate(statements(args.props.get("assumeRolePolicy"))):
        if not allows(s):
            continue
        problem = _principal_problem(s)
        if problem:
            report(f"{_label(args)}: {statement_at('assumeRolePolicy', i, s)} {problem}; required: Principal "
                   '{"Service": "<service>.amazonaws.com"}, or a Federated OIDC provider with exact aud and a sub '
                   'naming the workload (no AWS account, "*" or SAML principals).')


# ------------------------------------------------------------------ stack: one identity per workload


def _union_groups(items: list[tuple[Any, set[str]]]) -> list[list[Any]]:
    """Items that share any key, transitively; only groups of two or more."""
    parent = list(range(len(items)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, (_, keys) in enumerate(items):
        for key in keys:
            if key in owner:
                parent[find(i)] = find(owner[key])
            else:
                owner[key] = i
    groups: dict[int, list[Any]] = {}
    for i, (item, _) in enumerate(items):
        groups.setdefault(find(i), []).append(item)
    return [g for g in groups.values() if len(g) > 1]


def _reference_keys(resource: Any, prop: str, dep_types: Iterable[str], read: Callable[[Any], Iterable[Any]]) -> set[str]:
    """Identify what `prop` points at: its known value(s), and the resources it depends on.

    During preview the value (a role ARN, an identity id) is usually unknown; the property
    dependency still names the resource it comes from (when there is exactly one). Only when
    neither is available does the UnknownValueError propagate (the engine then skips the
    policy with a note).
    """
    wanted = set(dep_types)
    deps = {d.urn for d in (resource.property_dependencies or {}).get(prop, []) if d.resource_type in wanted}
    # a value computed from several such resources doesn't say which one it is
    keys = {f"urn:{urn}" for urn in deps} if len(deps) == 1 else set()
    try:
        values = [v for v in read(resource.props) if v]
    except UnknownValueError:
        if not keys:
            raise
        values = []
    return keys | {f"value:{v}" for v in values}


def _check_one_role_per_function(args: StackValidationArgs, report: Report) -> None:
    functions = resources_of(args, [LAMBDA_FUNCTION])
    items = [(f, _reference_keys(f, "role", [AWS_ROLE], lambda p: [p.get("role")])) for f in functions]
    for group in _union_groups([(f, keys) for f, keys in items if keys]):
        role = next((r for r in (known(f.props, "role") for f in group) if r), None)
        which = f" role {json.dumps(role)}" if role else " one role"
        for f in group:
            report(f'{LAMBDA_FUNCTION} "{f.name}": shares{which} with {_others(f, group)}; every function then holds '
                   "the union of their permissions; required: one role per function, with only that function's "
                   "grants.", f.urn)


def _others(item: Any, group: list[Any]) -> str:
    others = [o.name for o in group if o is not item]
    return ("function " if len(others) == 1 else "functions ") + ", ".join(f'"{n}"' for n in others)


# =================================================================================== GCP

#: Resource IAM stems per module in pulumi-gcp 10.2: each has <stem>Member, <stem>Binding and
#: <stem>Policy resources (`gcp:pubsub/topicIAMMember:TopicIAMMember`, ...).
_GCP_IAM_STEMS = {
    "accesscontextmanager": "accessPolicyIam",
    "apigateway": "apiConfigIam apiIam gatewayIam",
    "apigee": "environmentIam",
    "artifactregistry": "repositoryIam",
    "beyondcorp": "securityGatewayApplicationIam securityGatewayIam",
    "biglake": "hiveCatalogIam hiveDatabaseIam hiveTableIam icebergCatalogIam icebergNamespaceIam icebergTableIam",
    "bigquery": "connectionIam datapolicyv2DataPolicyIam datasetIam iam routineIam",
    "bigqueryanalyticshub": "dataExchangeIam listingIam",
    "bigquerydatapolicy": "dataPolicyIam",
    "bigtable": "instanceIam tableIam",
    "billing": "accountIam",
    "binaryauthorization": "attestorIam",
    "certificateauthority": "caPoolIam certificateTemplateIam",
    "cloudbuildv2": "connectionIAM",
    "clouddeploy": "customTargetTypeIam deliveryPipelineIam targetIam",
    "cloudfunctions": "functionIam",
    "cloudfunctionsv2": "functionIam",
    "cloudrun": "iam",
    "cloudrunv2": "jobIam serviceIam workerPoolIam",
    "cloudtasks": "queueIam",
    "colab": "runtimeTemplateIam",
    "compute": "backendBucketIam backendServiceIam diskIam firewallPolicyIam imageIam instanceIAM "
               "instanceTemplateIam instantSnapshotIam machineImageIam networkFirewallPolicyIam "
               "regionBackendBucketIam regionBackendServiceIam regionDiskIam regionInstantSnapshotIam "
               "regionNetworkFirewallPolicyIam snapshotIam storagePoolIam subnetworkIAM",
    "containeranalysis": "noteIam",
    "datacatalog": "entryGroupIam policyTagIam tagTemplateIam taxonomyIam",
    "dataform": "repositoryIam",
    "dataplex": "aspectTypeIam assetIam dataProductIam datascanIam entryGroupIam entryTypeIam glossaryIam "
                "lakeIam taskIam zoneIam",
    "dataproc": "autoscalingPolicyIam clusterIAM jobIAM metastoreDatabaseIam metastoreFederationIam "
                "metastoreServiceIam metastoreTableIam",
    "discoveryengine": "searchEngineIam",
    "dns": "dnsManagedZoneIam",
    "endpoints": "consumersIam serviceIam",
    "eventarc": "pipelineIam",
    "folder": "iAM",
    "gemini": "dataAnalyticsDataAgentIam repositoryGroupIam",
    "gkebackup": "backupPlanIam restorePlanIam",
    "gkehub": "featureIam membershipIam scopeIam",
    "healthcare": "consentStoreIam datasetIam dicomStoreIam fhirStoreIam hl7StoreIam",
    "iam": "workforcePoolIam workloadIdentityPoolIam",
    "iap": "agentRegistryAgentIam agentRegistryEndpointIam agentRegistryIam agentRegistryMcpServerIam "
           "appEngineServiceIam appEngineVersionIam locationWebIam tunnelDestGroupIam tunnelIam tunnelInstanceIAM "
           "webBackendServiceIam webCloudRunServiceIam webForwardingRuleServiceIam webIam "
           "webRegionBackendServiceIam webRegionForwardingRuleServiceIam webTypeAppEngingIam webTypeComputeIam",
    "kms": "cryptoKeyIAM ekmConnectionIam keyRingIAM",
    "logging": "logViewIam",
    "networkconnectivity": "hubIam",
    "networksecurity": "addressGroupIam",
    "organizations": "iAM",
    "projects": "iAM",
    "pubsub": "schemaIam subscriptionIAM topicIAM",
    "runtimeconfig": "configIam",
    "secretmanager": "regionalSecretIam secretIam",
    "securesourcemanager": "instanceIam repositoryIam",
    "securitycenter": "instanceIam sourceIam v2OrganizationSourceIam",
    "serviceaccount": "iAM",
    "servicedirectory": "namespaceIam serviceIam",
    "sourcerepo": "repositoryIam",
    "spanner": "databaseIAM instanceIAM",
    "storage": "bucketIAM managedFolderIam",
    "tags": "tagKeyIam tagValueIam",
    "vertex": "aiEndpointIam aiFeatureGroupIam aiFeatureOnlineStoreFeatureviewIam aiFeatureOnlineStoreIam "
              "aiFeatureStoreEntityTypeIam aiFeatureStoreIam aiReasoningEngineIam",
    "workbench": "instanceIam",
    "workstations": "workstationConfigIam workstationIam",
}


def _gcp_iam_types(kinds: Iterable[str], modules: Iterable[str] | None = None) -> tuple[str, ...]:
    wanted = set(modules) if modules is not None else None
    out = []
    for module, stems in _GCP_IAM_STEMS.items():
        if wanted is not None and module not in wanted:
            continue
        for stem in stems.split():
            for kind in kinds:
                out.append(f"gcp:{module}/{stem}{kind}:{stem[0].upper()}{stem[1:]}{kind}")
    return tuple(sorted(out))


GCP_IAM_TYPES = _gcp_iam_types(("Member", "Binding", "Policy"))
#: Grants on the whole project, folder or organization.
GCP_HIERARCHY_IAM_TYPES = _gcp_iam_types(("Member", "Binding", "Policy"), ("projects", "folder", "organizations"))
#: Legacy storage ACLs: the other way to make a bucket or object public.
GCP_STORAGE_ACL_TYPES = (
    "gcp:storage/bucketAccessControl:BucketAccessControl",
    "gcp:storage/objectAccessControl:ObjectAccessControl",
    "gcp:storage/defaultObjectAccessControl:DefaultObjectAccessControl",
    "gcp:storage/bucketACL:BucketACL",
    "gcp:storage/objectACL:ObjectACL",
    "gcp:storage/defaultObjectACL:DefaultObjectACL",
)
GCP_SERVICE_ACCOUNT = "gcp:serviceaccount/account:Account"
CLOUD_RUN_SERVICE = "gcp:cloudrunv2/service:Service"

PRIMITIVE_ROLES = ("roles/owner", "roles/editor", "roles/viewer")
PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")
PUBLIC_ACLS = ("publicRead", "publicReadWrite", "authenticatedRead")
#: Roles on data services that, granted on the whole project, reach every such resource in it.
GCP_DATA_ROLE_PREFIXES = (
    "roles/datastore.", "roles/pubsub.", "roles/secretmanager.", "roles/storage.", "roles/workflows.",
    "roles/cloudfunctions.", "roles/run.", "roles/cloudkms.",
)
_DEFAULT_SERVICE_ACCOUNT = re.compile(r"(?:-compute@developer|@appspot)\.gserviceaccount\.com$")


def _bindings(resource: Any) -> list[tuple[str, str, list[str], Any]]:
    """(where, role, members, condition) for an IAM member, binding or policy resource (a
    policy's args or a stack policy's resource)."""
    props = resource.props
    kind = resource.resource_type.rsplit(":", 1)[-1]
    if kind.endswith("Member"):
        return [("", str(props.get("role") or ""), [str(props.get("member") or "")], props.get("condition"))]
    if kind.endswith("Binding"):
        return [("", str(props.get("role") or ""), [str(m) for m in as_list(props.get("members"))], props.get("condition"))]
    out = []
    for i, b in enumerate(as_list(document(props.get("policyData")).get("bindings"))):
        if isinstance(b, Mapping):
            out.append((f"policyData.bindings[{i}] ", str(b.get("role") or ""), [str(m) for m in as_list(b.get("members"))],
                        b.get("condition")))
    return out


def _check_primitive_roles(args: ResourceValidationArgs, report: Report) -> None:
    for where, role, members, _ in _bindings(args):
        if role in PRIMITIVE_ROLES:
            report(f"{_label(args)}: {where}role {json.dumps(role)} granted to {_quote(members)} is a primitive role "
                   "covering nearly every service; required: a predefined or custom role with only the permissions "
                   "the workload uses.")


def _grant_targets(args: ResourceValidationArgs) -> set[str]:
    """The IAM resource's logical name and the ids of what it grants on (topic, bucket, name, ...)."""
    skip = {"member", "members", "role", "condition", "project", "location", "region", "policyData", "entity",
            "roleEntities", "predefinedAcl", "defaultAcl", "deletionPolicy"}
    out = {args.name}
    for key in args.props:
        if key in skip:
            continue
        value = args.props[key]
        if isinstance(value, str) and value:
            out |= {value, value.rstrip("/").rsplit("/", 1)[-1]}
    return out


def _check_public_members(args: ResourceValidationArgs, report: Report) -> None:
    found: list[str] = []
    if args.resource_type == CLOUD_RUN_SERVICE:
        # invoker IAM disabled: the service takes unauthenticated calls without any allUsers binding
        if args.props.get("invokerIamDisabled") in (True, "true"):
            found.append("invokerIamDisabled true (no invoker check at all)")
    elif args.resource_type in GCP_STORAGE_ACL_TYPES:
        props = args.props
        entity = str(props.get("entity") or "")
        if entity in PUBLIC_MEMBERS:
            found.append(f"entity {json.dumps(entity)}")
        for re_ in as_list(props.get("roleEntities")):
            if str(re_).rsplit(":", 1)[-1] in PUBLIC_MEMBERS:
                found.append(f"roleEntities {json.dumps(str(re_))}")
        for key in ("predefinedAcl", "defaultAcl"):
            if str(props.get(key) or "") in PUBLIC_ACLS:
                found.append(f"{key} {json.dumps(str(props.get(key)))}")
    else:
        for where, role, members, _ in _bindings(args):
            public = [m for m in members if m in PUBLIC_MEMBERS]
            if public:
                found.append(f"{where}role {json.dumps(role)} for {_quote(public)}")
    if not found:
        return
    allowed = {str(n) for n in config(args, PUBLIC_RESOURCES_KEY, [])}
    if allowed and allowed & _grant_targets(args):
        return
    report(f"{_label(args)}: grants {'; '.join(found)}, opening it to anyone on the internet; required: named "
           f"members (service accounts, groups), unless the resource is listed in config {PUBLIC_RESOURCES_KEY} "
           f"(now {sorted(allowed)}).")


_NAMES_RESOURCE = re.compile(r"\bresource\.name\b")


def _names_resource(condition: Any) -> bool:
    """A condition that scopes the grant: its CEL expression tests `resource.name` (== or
    startsWith). A time window or request attribute limits when, not what."""
    return isinstance(condition, Mapping) and bool(_NAMES_RESOURCE.search(str(condition.get("expression") or "")))


#: Workflows has no resource-level IAM and no IAM-condition attribute: its invoker role exists
#: only project-wide. gcp-one-service-account-per-function keeps it off functions' accounts.
PROJECT_ONLY_ROLES = ("roles/workflows.invoker",)


def _check_hierarchy_data_roles(args: ResourceValidationArgs, report: Report) -> None:
    level = args.resource_type.split(":", 2)[1].split("/", 1)[0].rstrip("s") or "project"
    for where, role, members, condition in _bindings(args):
        if role in PROJECT_ONLY_ROLES:
            continue
        if role.startswith(GCP_DATA_ROLE_PREFIXES) and not _names_resource(condition):
            which = ("with a condition that names no resource "
                     f"({json.dumps(str(condition.get('expression')))})" if isinstance(condition, Mapping)
                     and condition.get("expression") else "with no condition")
            report(f"{_label(args)}: {where}role {json.dumps(role)} granted to {_quote(members)} on the whole "
                   f"{level} {which} reaches every such resource in it; required: the grant on the "
                   "resource itself (topic, bucket, secret, ...), or a condition on resource.name naming it.")


def _gcp_function_sa(props: Mapping[str, Any], resource_type: str) -> list[Any]:
    if resource_type == GCP_FUNCTION_V1:
        return [props.get("serviceAccountEmail")]
    return [get(props, "serviceConfig.serviceAccountEmail")]


#: anycloud's workflow starter on GCP (functions/runtime/gcp/start.py): the function that turns a
#: start message into an execution, the one account meant to hold roles/workflows.invoker.
STARTER_TRIGGERS = "start"


def _starter(function: Any) -> bool:
    env = known(function.props, "serviceConfig.environmentVariables") or {}
    return isinstance(env, Mapping) and env.get("ANYCLOUD_TRIGGERS") == STARTER_TRIGGERS


def _check_gcp_function_accounts(args: StackValidationArgs, report: Report) -> None:
    functions = resources_of(args, [GCP_FUNCTION_V2, GCP_FUNCTION_V1])
    items = []
    for f in functions:
        prop = "serviceAccountEmail" if f.resource_type == GCP_FUNCTION_V1 else "serviceConfig"
        path = "serviceAccountEmail" if f.resource_type == GCP_FUNCTION_V1 else "serviceConfig.serviceAccountEmail"
        keys = _reference_keys(f, prop, [GCP_SERVICE_ACCOUNT], lambda p, f=f: _gcp_function_sa(p, f.resource_type))
        emails = [k[len("value:"):] for k in keys if k.startswith("value:")]
        if not keys:
            report(f'{f.resource_type} "{f.name}": {path} is not set, so the function runs as the default '
                   "service account (often Editor on the project); required: a dedicated service account per "
                   "function.", f.urn)
        for email in emails:
            if _DEFAULT_SERVICE_ACCOUNT.search(email):
                report(f'{f.resource_type} "{f.name}": {path} is the default service account {json.dumps(email)}, '
                       "shared by everything in the project; required: a dedicated service account per function.",
                       f.urn)
        items.append((f, {k for k in keys if not _DEFAULT_SERVICE_ACCOUNT.search(k)}))
    for group in _union_groups([(f, k) for f, k in items if k]):
        for f in group:
            report(f'{f.resource_type} "{f.name}": shares its service account with {_others(f, group)}; each then holds '
                   "the union of their grants; required: one service account per function.", f.urn)
    # A project-only role on a function's account reaches every workflow in the project, unless the
    # function is a workflow starter, which runs no declared code: it only creates executions.
    accounts = {k[len("value:"):]: f for f, keys in items for k in keys if k.startswith("value:") and not _starter(f)}
    for grant in resources_of(args, GCP_HIERARCHY_IAM_TYPES):
        for _, role, members, _ in _bindings(grant):
            for member in members:
                function = accounts.get(member.split(":", 1)[-1])
                if role in PROJECT_ONLY_ROLES and function is not None:
                    report(f'{grant.resource_type} "{grant.name}": gives {role}, which can only be project-wide, to '
                           f'the account of function "{function.name}", so it may start every workflow in the project; '
                           "required: a dedicated trigger account (the function publishes to the workflow's start "
                           "topic).", grant.urn)


# =================================================================================== Azure

AZ_ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
AZ_USER_IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"

#: Built-in roles that read or write data (data actions) or hand out the keys to it (listKeys,
#: SAS, connection strings): resource scope only. From the catalogue of built-in role definitions
#: (policy/azure_roles.py); config dataPlaneRoleIds adds more.
DATA_PLANE_ROLES = DATA_ROLES
_RESOURCE_SCOPE = re.compile(r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/[^/]+/[^/]+/[^/]+", re.IGNORECASE)
_role_guid = role_guid


def _is_workload(props: Mapping[str, Any]) -> bool:
    return props.get("principalType") in (None, "", "ServicePrincipal")


COSMOS_ROLE_DEFINITION = "azure-native:cosmosdb:SqlResourceSqlRoleDefinition"


def _broad_azure_action(action: str, data: bool) -> bool:
    """`*` anywhere in a control-plane action; for data actions, a wildcard at the provider or
    resource-type level (`*`, `Microsoft.Storage/*`, `Microsoft.Storage/storageAccounts/*`)."""
    if "*" not in action:
        return False
    if not data:
        return True
    head = action.split("*", 1)[0].strip("/").split("/")
    return len([p for p in head if p]) < 3


def _check_custom_role_definitions(args: ResourceValidationArgs, report: Report) -> None:
    for i, permission in enumerate(as_list(args.props.get("permissions"))):
        if not isinstance(permission, Mapping):
            continue
        for key, data in (("actions", False), ("dataActions", True)):
            broad = [str(a) for a in as_list(permission.get(key)) if _broad_azure_action(str(a), data)]
            if broad:
                report(f"{_label(args)}: permissions[{i}].{key} grants {_quote(broad)}, every operation matching the "
                       "wildcard, including ones Azure adds later; required: the exact operations the workload calls.")


def _scope_level(scope: str) -> str:
    s = scope.rstrip("/")
    if not s:
        return "the tenant root"
    if s.lower().startswith("/providers/microsoft.management/managementgroups/"):
        return "a management group"
    parts = s.split("/")
    if len(parts) == 3 and parts[1].lower() == "subscriptions":
        return "a subscription"
    if len(parts) == 5 and parts[1].lower() == "subscriptions" and parts[3].lower() == "resourcegroups":
        return "a resource group"
    return "a scope above a single resource"


def _data_role(assignment: Any, customs: AzureCustomRoles, extra: set[str]) -> str | None:
    """The name of the data role an assignment gives (a built-in data role, one config names, or
    a custom role of the stack with data actions or key reading), or None."""
    custom = customs.of(assignment)
    if custom is not None:
        blocks = customs.blocks(custom)
        if any(as_list(b.get("dataActions")) for b in blocks) or KEY_READING in azure_grants(blocks, azure_operations()):
            return f"custom role {json.dumps(str(known(custom.props, 'roleName') or custom.name))}"
        return None
    guid = _role_guid(known(assignment.props, "roleDefinitionId"))
    if guid in DATA_PLANE_ROLES:
        return DATA_PLANE_ROLES[guid]
    return "a data-plane role (config dataPlaneRoleIds)" if guid in extra else None


def _check_data_role_scope(args: StackValidationArgs, report: Report) -> None:
    extra = {_role_guid(r) for r in config(args, DATA_ROLES_KEY, [])}
    customs = AzureCustomRoles(args)

    def check(assignment: Any) -> None:
        name = _data_role(assignment, customs, extra)
        scope = str(assignment.props.get("scope") or "")
        if name is None or _RESOURCE_SCOPE.match(scope):
            return
        guid = _role_guid(known(assignment.props, "roleDefinitionId"))
        report(f'{AZ_ROLE_ASSIGNMENT} "{assignment.name}": {name} ({guid}) is assigned at scope {json.dumps(scope)}, '
               f"{_scope_level(scope)}, so it reaches every such resource there; required: scope set to the one "
               "resource (namespace, queue, vault, storage account or container) the workload uses.", assignment.urn)

    each_known(resources_of(args, [AZ_ROLE_ASSIGNMENT]), check)


def _is_function_app(props: Mapping[str, Any]) -> bool:
    return "functionapp" in str(props.get("kind") or "").lower()


def _user_identities(props: Mapping[str, Any]) -> list[str]:
    ids = get(props, "identity.userAssignedIdentities")
    if isinstance(ids, Mapping):  # outputs (and ARM) key them by resource id
        return [str(k).lower() for k in ids]
    return [str(i).lower() for i in as_list(ids)]


def _check_one_identity_per_function_app(args: StackValidationArgs, report: Report) -> None:
    apps = [r for r in resources_of(args, [WEB_APP]) if _is_function_app(r.props)]
    items = []
    for app in apps:
        kind = str(get(app.props, "identity.type") or "")
        keys = _reference_keys(app, "identity", [AZ_USER_IDENTITY], _user_identities)
        if "UserAssigned" not in kind and "SystemAssigned" not in kind:
            report(f'{WEB_APP} "{app.name}": identity.type is {json.dumps(kind) if kind else "not set"}, so the '
                   "function app can only reach other services with keys or connection strings; required: its own "
                   "user-assigned (or system-assigned) managed identity.", app.urn)
        elif "UserAssigned" in kind and not keys:
            report(f'{WEB_APP} "{app.name}": identity.type is {json.dumps(kind)} but '
                   "identity.userAssignedIdentities is empty; required: the function app's own user-assigned "
                   "identity.", app.urn)
        if "UserAssigned" in kind:
            items.append((app, keys))
    for group in _union_groups([(a, k) for a, k in items if k]):
        for app in group:
            others = _others(app, group).replace("function", "function app")
            report(f'{WEB_APP} "{app.name}": shares a user-assigned identity with {others}; each then '
                   "holds the union of their role assignments; required: one identity per function app.", app.urn)


COSMOS_ROLE_ASSIGNMENT = "azure-native:cosmosdb:SqlResourceSqlRoleAssignment"
_COSMOS_ACCOUNT_ID = re.compile(r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.DocumentDB/"
                                r"databaseAccounts/[^/]+", re.IGNORECASE)
COSMOS_BUILT_IN_ROLES = {"00000000-0000-0000-0000-000000000001": "Cosmos DB Built-in Data Reader",
                         "00000000-0000-0000-0000-000000000002": "Cosmos DB Built-in Data Contributor"}


def cosmos_scope_problem(scope: Any) -> str | None:
    """Why a Cosmos DB data-plane role assignment scope is wider than one container (or not a
    scope at all); None for `[<account id>]/dbs/<db>/colls/<container>`. "Role-based access
    control with Microsoft Entra ID for Azure Cosmos DB for NoSQL": scopes are the account
    ("/"), a database ("/dbs/<db>") or a container ("/dbs/<db>/colls/<container>"),
    https://learn.microsoft.com/azure/cosmos-db/nosql/security/how-to-grant-data-plane-role-based-access"""
    if not isinstance(scope, str):
        return f"scope is {shown(scope)}, which is not a Cosmos DB scope"
    match = _COSMOS_ACCOUNT_ID.match(scope)
    rest = scope[match.end():] if match else scope
    parts = [p for p in rest.strip().strip("/").split("/") if p]
    if not parts:
        return f"scope {json.dumps(scope)} is the whole account (every database and container in it)"
    if len(parts) == 2 and parts[0].lower() == "dbs":
        return f"scope {json.dumps(scope)} is database '{parts[1]}' (every container in it, and those added later)"
    if len(parts) == 4 and parts[0].lower() == "dbs" and parts[2].lower() == "colls":
        return None
    return f"scope {json.dumps(scope)} is not <account id>/dbs/<database>/colls/<container>"


def _check_cosmos_data_role_scope(args: ResourceValidationArgs, report: Report) -> None:
    problem = cosmos_scope_problem(args.props.get("scope"))
    if problem:
        guid = _role_guid(args.props.get("roleDefinitionId"))
        role = COSMOS_BUILT_IN_ROLES.get(guid, f"custom role definition {guid}" if guid else "its role definition")
        report(f"{_label(args)}: {role} for principal {json.dumps(str(args.props.get('principalId')))}: {problem}; "
               "required: one container, scope '<account id>/dbs/<database>/colls/<container>' (one assignment per "
               "container the workload uses).")


# =================================================================================== policies

POLICIES = [
    resource_policy(
        "aws-iam-no-wildcard-actions",
        "AWS identity policies (IAM role, user, group and managed policies, role inline policies, IAM Identity Center "
        "permission sets' inline policies) allow no wildcard actions ('*', 'sqs:*', 's3:Get*') and no NotAction in an "
        "Allow (IAM JSON policy reference, Action and NotAction).",
        [*AWS_IDENTITY_DOCUMENT_TYPES],
        _check_wildcard_actions,
        remediation="list the exact actions per statement (e.g. sqs:SendMessage, dynamodb:GetItem).",
        severity=Severity.CRITICAL,
    ),
    resource_policy(
        "aws-iam-scoped-resources",
        'AWS identity policies name concrete resources: Resource "*" only for the unscoped actions the rendering '
        "needs (X-Ray, CloudWatch metrics under a cloudwatch:namespace condition, Step Functions log delivery; config "
        "unscopedActions), since a List or Write action AWS's catalogue lists without resource types still reaches "
        "every such resource of the account; no NotResource, no wildcard partition/service/region/account in ARNs "
        "and none inside a resource name (only a trailing /* or :*). Sources: AWS Service Authorization Reference, "
        "CloudWatch 'Using condition keys to limit access to CloudWatch namespaces', Step Functions 'Logging using "
        "CloudWatch Logs'.",
        [*AWS_IDENTITY_DOCUMENT_TYPES],
        _check_resource_scope,
        remediation='scope each statement to the ARNs it needs (e.g. arn:aws:sqs:eu-west-1:123456789012:orders); '
                    'keep Resource "*" for the telemetry and log-delivery actions (PutMetricData under a '
                    'cloudwatch:namespace StringEquals condition), or list a reviewed action in config unscopedActions.',
        severity=Severity.HIGH,
        config={UNSCOPED_ACTIONS_KEY: {
            "type": "array", "items": {"type": "string"}, "default": [],
            "description": 'More actions allowed on Resource "*" than the unscoped actions the rendering needs '
                           "(X-Ray, PutMetricData under a namespace condition, Step Functions log delivery)."}},
    ),
    resource_policy(
        "aws-iam-no-broad-managed-policies",
        "No AWS-managed policy is attached to a role, user or group unless reviewed (config allowedManagedPolicies): "
        "their content, not their name, decides what they grant, and it is service-wide (FullAccess, ReadOnlyAccess, "
        "ReadWrite, execution roles with logs:* on every group).",
        [*AWS_ATTACHMENTS],
        _check_managed_policies,
        remediation="replace the managed policy with an inline policy granting the exact actions on the workload's resources.",
        severity=Severity.CRITICAL,
        config={ALLOWED_MANAGED_KEY: {
            "type": "array", "items": {"type": "string"}, "default": list(REVIEWED_MANAGED_POLICIES),
            "description": "Names of AWS-managed policies reviewed and allowed."}},
    ),
    resource_policy(
        "aws-lambda-permission-source-arn",
        "Lambda permissions granted to an AWS service name the invoking resource with sourceArn.",
        [AWS_LAMBDA_PERMISSION],
        _check_lambda_permission,
        remediation="set sourceArn to the invoking API route, topic, bucket, queue or rule ARN.",
        severity=Severity.HIGH,
    ),
    resource_policy(
        "aws-iam-service-principal-trust",
        "AWS IAM roles are assumable only by service principals, or by a federated OIDC identity pinned by an exact "
        "<issuer>:aud and a <issuer>:sub naming one workload (GitHub: repo:<owner>/<repo>:...); no account, '*', "
        "SAML, NotPrincipal, or negated/wildcard-only tests (IAM 'Create a role for OpenID Connect federation'; GitHub "
        "'Configuring OpenID Connect in Amazon Web Services').",
        [AWS_ROLE],
        _check_trust,
        remediation='set assumeRolePolicy to Allow sts:AssumeRole for Principal {"Service": "lambda.amazonaws.com"} '
                    "(or the one service that uses the role); for CI, Allow sts:AssumeRoleWithWebIdentity with StringEquals "
                    '{"token.actions.githubusercontent.com:aud": "sts.amazonaws.com", '
                    '"token.actions.githubusercontent.com:sub": "repo:<owner>/<repo>:ref:refs/heads/main"}.',
        severity=Severity.HIGH,
    ),
    stack_policy(
        "aws-one-role-per-function",
        "Every Lambda function has its own IAM role, not shared with another function.",
        [LAMBDA_FUNCTION, AWS_ROLE],
        _check_one_role_per_function,
        remediation="create one role per function with only that function's grants.",
        severity=Severity.HIGH,
    ),
    resource_policy(
        "gcp-iam-no-primitive-roles",
        "GCP IAM grants no primitive role (roles/owner, roles/editor, roles/viewer) on any resource.",
        GCP_IAM_TYPES,
        _check_primitive_roles,
        remediation="grant a predefined role scoped to the need (e.g. roles/pubsub.publisher on the topic).",
        severity=Severity.CRITICAL,
    ),
    resource_policy(
        "gcp-iam-no-public-members",
        "GCP IAM and storage ACLs grant nothing to allUsers/allAuthenticatedUsers, and no Cloud Run service disables "
        "its invoker check (invokerIamDisabled), except on declared public resources.",
        [*GCP_IAM_TYPES, *GCP_STORAGE_ACL_TYPES, CLOUD_RUN_SERVICE],
        _check_public_members,
        remediation="grant the role to the calling service account instead, or declare the resource in config publicResources.",
        severity=Severity.CRITICAL,
        config={PUBLIC_RESOURCES_KEY: {
            "type": "array", "items": {"type": "string"}, "default": [],
            "description": "IAM resource names, or names/ids of the resources they grant on, that may be public "
                           "(the declared public entry point)."}},
    ),
    resource_policy(
        "gcp-iam-project-data-roles-conditional",
        "GCP data roles (Firestore, Pub/Sub, Secret Manager, Storage, Workflows, Functions, Run, KMS) granted on a "
        "project, folder or organization carry an IAM condition on resource.name; roles/workflows.invoker, which "
        "exists only project-wide, is kept off function accounts by gcp-one-service-account-per-function.",
        GCP_HIERARCHY_IAM_TYPES,
        _check_hierarchy_data_roles,
        remediation="grant the role on the resource (topic, bucket, secret, key) or add a condition on resource.name.",
        severity=Severity.HIGH,
    ),
    stack_policy(
        "gcp-one-service-account-per-function",
        "Every GCP Cloud Function runs as its own non-default service account, which never holds a project-only "
        "role (roles/workflows.invoker reaches every workflow in the project), except anycloud's workflow starter "
        "(ANYCLOUD_TRIGGERS=start: it runs no declared code, it only creates executions).",
        [GCP_FUNCTION_V2, GCP_FUNCTION_V1, GCP_SERVICE_ACCOUNT, *GCP_HIERARCHY_IAM_TYPES],
        _check_gcp_function_accounts,
        remediation="create a gcp.serviceaccount.Account per function and set serviceConfig.serviceAccountEmail to it.",
        severity=Severity.HIGH,
    ),
    resource_policy(
        "azure-custom-roles-no-wildcards",
        "Azure custom role definitions (RBAC and Cosmos DB SQL) list operations: no wildcard control-plane actions, no "
        "provider- or resource-type-wide data actions.",
        [AZ_ROLE_DEFINITION, COSMOS_ROLE_DEFINITION],
        _check_custom_role_definitions,
        remediation="list the operations the workload performs (e.g. Microsoft.Storage/storageAccounts/queueServices/"
                    "queues/messages/add/action), or use the built-in data role scoped to the resource.",
        severity=Severity.CRITICAL,
    ),
    stack_policy(
        "azure-data-roles-resource-scope",
        "Azure data-plane role assignments are scoped to a resource, not a subscription, resource group or management "
        "group: every built-in role with data actions or reading shared keys (catalogue of built-in role definitions, "
        "policy/azure_roles.py), the stack's custom roles with data actions, and the GUIDs in config dataPlaneRoleIds.",
        [AZ_ROLE_ASSIGNMENT, AZ_ROLE_DEFINITION],
        _check_data_role_scope,
        remediation="set scope to the resource id (e.g. the Service Bus queue or Key Vault), not its resource group.",
        severity=Severity.HIGH,
        config={DATA_ROLES_KEY: {
            "type": "array", "items": {"type": "string"}, "default": [],
            "description": "More role definition GUIDs that must be assigned at resource scope (beyond the catalogue's "
                           "data roles)."}},
    ),
    stack_policy(
        "azure-one-identity-per-function-app",
        "Every Azure function app has its own managed identity, not shared with another function app.",
        [WEB_APP, AZ_USER_IDENTITY],
        _check_one_identity_per_function_app,
        remediation="create one managedidentity.UserAssignedIdentity per function app (or use its system-assigned identity).",
        severity=Severity.HIGH,
    ),
    resource_policy(
        "azure-cosmos-data-roles-container-scope",
        "Cosmos DB data-plane role assignments (SqlResourceSqlRoleAssignment) are scoped to one container, not the "
        "account ('/' or the account id) or a database ('/dbs/<db>'), whatever the role (built-in Data Reader/"
        "Contributor or custom).",
        [COSMOS_ROLE_ASSIGNMENT],
        _check_cosmos_data_role_scope,
        remediation="set scope=f\"{account.id}/dbs/{database}/colls/{container}\" and add one assignment per container.",
        severity=Severity.HIGH,
    ),
]
