"""Resource-based access on AWS: nothing the stack owns is granted to everyone, or to another
account, unless declared (config publicResources, trustedAccounts).

Three ways a resource is opened, all read here:
- policy documents: every pulumi-aws type with one, at the paths policy/aws_resource_policy_types.py
  derives from the SDK (queues, topics, buckets, access points, keys, secrets, repositories, event
  buses, log destinations, domains, vaults, functions, ...). An Allow to Principal "*" (or
  {"AWS": "*"}, a wildcard principal, or NotPrincipal) is public unless a condition pins the caller;
  a principal of another account is cross-account.
- grants outside a document, where the schema cannot tell a grantee from any other string, so the
  readers below name them: Lambda and layer permissions, EventBridge permissions, KMS grants,
  AMI launch and snapshot volume permissions, RDS shared snapshots, shared SSM documents, RAM
  associations, endpoint-service and Global Accelerator principals, Service Catalog shares, ECR
  Public repositories (public by nature).
- S3 ACLs (canned public-read, public-read-write, authenticated-read; grants to the AllUsers or
  AuthenticatedUsers groups), ownership controls that turn ACLs on beside them, and, in prod,
  public-access blocks (bucket, account, access point, multi-region access point; EBS snapshot and
  AMI account switches) with a switch off.

A condition pins the caller only with a positive operator (StringEquals, StringLike, ArnEquals,
ArnLike, IpAddress; ForAnyValue: allowed) on a key naming who calls or from where, with values
that are fixed: negated operators, ...IfExists and ForAllValues: (both pass when the key is
absent) and values still wildcards in part (`*`, `arn:aws:sns:*:*:*`, an accountless S3 ARN with a
wildcard, `o-*`) pin nobody. A Deny for everyone else fences the Allows it covers (a negated
operator on such a key, as AWS documents private APIs and endpoint-only buckets). A service
principal is judged on the caller keys its condition tests (a pin that pins nothing, or another
account); one with no condition is aws-lambda-permission-source-arn's concern for Lambda and left
alone elsewhere, as AWS documents some service grants without one. A domain placed in a VPC is
reachable only there, so its access policy may open to everyone. S3's meaning of public is the
model (https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html#access-control-block-public-access-policy-status).

The stack's own account: the accounts in the ARNs (and SQS queue URLs) the stack holds outside
grant positions - Principal, NotPrincipal, Condition and the grantee properties of the readers
below. When the stack shows none, the one account its grants name or pin is taken as its own (a
resource lives in one account, so a second one is foreign); the accounts a share or a permission
names (snapshots, AMIs, documents, RAM, Lambda, layers, ...) are other accounts by purpose and
never supply it. `trustedAccounts` lists the other accounts a stack may grant to.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import ReportViolation, Severity, StackValidationArgs
from pulumi_policy.proxy import UnknownValueError

from .aws_resource_policy_types import DOCUMENTS
from .common import (
    as_list,
    config,
    dependency_urns,
    each_known,
    everyone,
    get,
    is_prod,
    known,
    named,
    shown,
    stack_policy,
    statements,
    wildcard_match,
)

PUBLIC_RESOURCES = "publicResources"
TRUSTED_ACCOUNTS = "trustedAccounts"

ACCOUNT_ID = re.compile(r"^\d{12}$")
#: An account in an ARN (arn:partition:service:region:account:...) or an SQS queue URL.
ACCOUNT_IN_TEXT = re.compile(r"arn:aws[\w-]*:[\w-]*:[\w-]*:(\d{12})(?=[:/])|\.amazonaws\.com(?:\.cn)?/(\d{12})/")
#: Policy-document elements that name who is let in rather than what the stack holds.
GRANTEE_ELEMENTS = {"principal", "notprincipal", "condition"}

# ------------------------------------------------------------------ condition keys

POSITIVE_OPERATORS = {"stringequals", "stringequalsignorecase", "stringlike", "arnequals", "arnlike", "ipaddress"}
#: Global and service keys that pin the caller (IAM global condition keys; S3 and KMS keys).
ACCOUNT_KEYS = {"aws:sourceaccount", "aws:principalaccount", "aws:sourceowner", "s3:dataaccesspointaccount",
                "kms:calleraccount"}
ARN_KEYS = {"aws:sourcearn", "aws:principalarn", "s3:dataaccesspointarn"}
ORG_KEYS = {"aws:principalorgid", "aws:principalorgpaths", "aws:sourceorgid", "aws:sourceorgpaths"}
FIXED_KEYS = {"aws:sourcevpc", "aws:sourcevpce", "aws:userid"}
IP_KEYS = {"aws:sourceip", "aws:vpcsourceip"}
#: Narrowest network that still counts as pinning (S3: "a set of CIDRs"; /0-/7 is most of the internet).
MIN_PREFIX = {4: 8, 6: 32}
WILDCARD = re.compile(r"[*?]")
ORG_PATH = re.compile(r"^o-[a-z0-9]+/")


@dataclass
class Pins:
    """What a statement's condition pins the caller to."""

    org: bool = False
    accounts: set[str] = field(default_factory=set)
    other: bool = False  # a network, a fixed accountless ARN, a user id
    #: Caller keys the condition tests, pinning or not (as written).
    tested: set[str] = field(default_factory=set)

    @property
    def any(self) -> bool:
        return self.org or bool(self.accounts) or self.other


def _arn_pin(value: str, pins: Pins) -> bool:
    """A fixed ARN: its account pins; an accountless ARN (S3) pins only without a wildcard."""
    parts = value.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn" or any(WILDCARD.search(p) for p in parts[1:3]):
        return False
    account = parts[4]
    if ACCOUNT_ID.match(account):
        pins.accounts.add(account)
        return True
    if account == "" and not WILDCARD.search(parts[5]):
        pins.other = True
        return True
    return False


def _ip_pin(value: str) -> bool:
    try:
        network = ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        return False
    return network.prefixlen >= MIN_PREFIX[network.version]


def _pin(key: str, operator: str, values: list[str], pins: Pins) -> None:
    if not values:
        return
    found = Pins()
    if key in ACCOUNT_KEYS and all(ACCOUNT_ID.match(v) for v in values):
        found.accounts.update(values)
    elif key in ARN_KEYS and all(_arn_pin(v, found) for v in values):
        pass
    elif key in ORG_KEYS and all(v and (not WILDCARD.search(v) or ORG_PATH.match(WILDCARD.split(v)[0])) for v in values):
        found.org = True
    elif key in FIXED_KEYS and all(v and not WILDCARD.search(v) for v in values):
        found.other = True
    elif key in IP_KEYS and operator == "ipaddress" and all(_ip_pin(v) for v in values):
        found.other = True
    else:
        return
    pins.org |= found.org
    pins.accounts |= found.accounts
    pins.other |= found.other


CALLER_KEYS = ACCOUNT_KEYS | ARN_KEYS | ORG_KEYS | FIXED_KEYS | IP_KEYS


def condition_pins(condition: Any) -> Pins:
    """The pins of an IAM Condition block (operators and keys in any case)."""
    pins = Pins()
    if not isinstance(condition, Mapping):
        return pins
    for operator, tests in condition.items():
        op = str(operator).strip().lower()
        if isinstance(tests, Mapping):
            pins.tested.update(str(k) for k in tests if str(k).strip().lower() in CALLER_KEYS)
        if op.startswith("forallvalues:") or op.endswith("ifexists") or not isinstance(tests, Mapping):
            continue
        op = op.removeprefix("foranyvalue:")
        if op not in POSITIVE_OPERATORS:
            continue
        for key, value in tests.items():
            _pin(str(key).strip().lower(), op, [str(v).strip() for v in as_list(value)], pins)
    return pins


# ------------------------------------------------------------------ grants


@dataclass
class Grant:
    """One grant: where it is written, whom it lets in, and what pins the caller."""

    where: str
    everyone: bool = False
    accounts: set[str] = field(default_factory=set)
    pins: Pins = field(default_factory=Pins)
    actions: list[str] = field(default_factory=list)
    #: A sharing attribute or permission: an account it names is another account (a resource is
    #: shared with, or permitted to, other accounts; its own account has IAM).
    shares: bool = False
    #: An AWS service principal: judged only on the caller keys its condition tests.
    service: bool = False
    #: The condition as written (for messages).
    condition: Any = None


def account_of(principal: Any) -> str | None:
    """The account a principal names: a bare account id, or the account of an ARN (iam, sts, ...)."""
    text = str(principal).strip()
    if ACCOUNT_ID.match(text):
        return text
    parts = text.split(":")
    return parts[4] if len(parts) >= 6 and parts[0] == "arn" and ACCOUNT_ID.match(parts[4]) else None


def _principal_grant(principal: Any, grant: Grant) -> Grant:
    """Fill `grant` from a policy Principal: "*", {"AWS": ...}, {"Service": ...}; federated and
    canonical-user principals let in no account."""
    if everyone(principal) or (isinstance(principal, str) and WILDCARD.search(principal)):
        grant.everyone = True
    elif isinstance(principal, Mapping):
        for key, value in principal.items():
            if str(key).lower() == "service":
                grant.service = True
            if str(key).upper() != "AWS":
                continue
            for p in as_list(value):
                if WILDCARD.search(str(p)):
                    grant.everyone = True
                elif account := account_of(p):
                    grant.accounts.add(account)
    return grant


NEGATED_OPERATORS = {"stringnotequals", "stringnotequalsignorecase", "stringnotlike", "arnnotequals", "arnnotlike",
                     "notipaddress"}


def _fence(statement: Mapping[str, Any]) -> Pins | None:
    """What a Deny statement leaves in, when it is a fence around the document's Allows: a Deny for
    everyone but the principals it lists (NotPrincipal, unconditioned), or for everyone whose one
    condition test is a negated operator on a caller key with fixed values (StringNotEquals
    aws:SourceVpce, aws:PrincipalOrgID, ...; a missing key is a mismatch, so ...IfExists fences
    too), or for everyone unconditionally (nothing left in). None otherwise."""
    condition = statement.get("Condition")
    if "NotPrincipal" in statement:
        kept = _principal_grant(statement.get("NotPrincipal"), Grant(""))
        return None if condition or kept.everyone or not (kept.accounts or kept.service) else \
            Pins(accounts=set(kept.accounts), other=kept.service)
    if not everyone(statement.get("Principal")):
        return None
    if not condition:
        return Pins(other=True)
    tests = [(str(op).strip().lower(), key, values) for op, block in condition.items() if isinstance(block, Mapping)
             for key, values in block.items()]
    if len(tests) != 1 or len(condition) != 1:
        return None
    op, key, values = tests[0]
    op = op.removesuffix("ifexists")
    if op not in NEGATED_OPERATORS:
        return None
    pins = Pins()
    _pin(str(key).strip().lower(), op.replace("not", "", 1), [str(v).strip() for v in as_list(values)], pins)
    return pins if pins.any else None


def _covers(patterns: list[Any] | None, values: list[Any] | None) -> bool:
    """Whether Action/Resource patterns of a Deny match every value of an Allow (absent: all)."""
    if patterns is None or values is None:
        return patterns is None or "*" in patterns
    return all(any(wildcard_match(str(p), str(v)) for p in patterns) for v in values)


def document_grants(path: str, document: Any) -> Iterator[Grant]:
    """The Allow statements of a resource policy document that let someone in, with the pins of
    the Deny statements fencing them."""
    found = statements(document)
    fences = [(s, pins) for s in found if str(s.get("Effect") or "").strip().lower() == "deny"
              and "NotAction" not in s and "NotResource" not in s and (pins := _fence(s)) is not None]
    for i, s in enumerate(found):
        if str(s.get("Effect") or "").strip().lower() == "deny":
            continue
        where = f"{path} {s.get('Sid') or f'Statement[{i}]'}"
        actions = [str(a) for a in s.get("Action", s.get("NotAction", []))]
        grant = Grant(where, pins=condition_pins(s.get("Condition")), actions=actions, condition=s.get("Condition"))
        for deny, pins in fences:
            if _covers(deny.get("Action"), s.get("Action")) and _covers(deny.get("Resource"), s.get("Resource")):
                grant.pins.org |= pins.org
                grant.pins.accounts |= pins.accounts
                grant.pins.other |= pins.other
        if "NotPrincipal" in s:
            grant.everyone, grant.where = True, f"{where} (NotPrincipal {shown(s.get('NotPrincipal'))})"
            yield grant
        elif "Principal" in s:
            yield _principal_grant(s.get("Principal"), grant)


def _values_at(props: Mapping[str, Any], path: str) -> list[Any]:
    """The values at a catalogue path: dotted, `name[]` stepping into each item of a list."""
    values: list[Any] = [props]
    for part in path.split("."):
        key, each = (part[:-2], True) if part.endswith("[]") else (part, False)
        found = [v for v in (get(value, key) for value in values) if v is not None]
        values = [item for v in found for item in as_list(v)] if each else found
    return values


def _service(principal: str) -> bool:
    return principal.endswith(".amazonaws.com") or principal.endswith(".amazonaws.com.cn")


def _single_principal(props: Mapping[str, Any], prop: str, grant: Grant) -> Grant | None:
    """A grantee property holding "*", a service, an account or an ARN; None for nothing."""
    principal = str(get(props, prop) or "").strip()
    if not principal:
        return None
    if _service(principal):
        grant.service = True
        return grant
    if WILDCARD.search(principal):
        grant.everyone = True
    elif account := account_of(principal):
        grant.accounts.add(account)
    else:
        return None
    return grant


def _action(props: Mapping[str, Any], default: str = "") -> list[str]:
    return [str(get(props, "action") or default)]


def _lambda_permission(props: Mapping[str, Any]) -> Iterator[Grant]:
    pins = Pins(org=bool(get(props, "principalOrgId")))
    if source_account := str(get(props, "sourceAccount") or "").strip():
        pins.tested.add("sourceAccount")
        if ACCOUNT_ID.match(source_account):
            pins.accounts.add(source_account)
    if source_arn := get(props, "sourceArn"):
        pins.tested.add("sourceArn")
        _arn_pin(str(source_arn), pins)
    url = get(props, "functionUrlAuthType")
    where = "principal" + (f" (functionUrlAuthType {shown(url)})" if url else "")
    if grant := _single_principal(props, "principal", Grant(where, pins=pins, actions=_action(props), shares=True)):
        yield grant


def _layer_permission(props: Mapping[str, Any]) -> Iterator[Grant]:
    grant = Grant("principal", pins=Pins(org=bool(get(props, "organizationId"))), actions=_action(props), shares=True)
    if grant := _single_principal(props, "principal", grant):
        yield grant


def _event_permission(props: Mapping[str, Any]) -> Iterator[Grant]:
    """EventBridge's `condition` is one test: {key, type, value} (aws:PrincipalOrgID, StringEquals)."""
    condition, pins = get(props, "condition") or {}, Pins()
    if isinstance(condition, Mapping):
        _pin(str(get(condition, "key") or "").lower(), str(get(condition, "type") or "").lower(),
             [str(get(condition, "value") or "")], pins)
    grant = Grant("principal", pins=pins, actions=_action(props, "events:PutEvents"), shares=True)
    if grant := _single_principal(props, "principal", grant):
        yield grant


def _signer_permission(props: Mapping[str, Any]) -> Iterator[Grant]:
    if grant := _single_principal(props, "principal", Grant("principal", actions=_action(props), shares=True)):
        yield grant


def _kms_grant(props: Mapping[str, Any]) -> Iterator[Grant]:
    operations = [str(o) for o in as_list(get(props, "operations"))]
    for prop in ("granteePrincipal", "retiringPrincipal"):
        if grant := _single_principal(props, prop, Grant(prop, actions=operations)):
            yield grant


def _listed(where: str, values: Any, action: str, *, shares: bool = True, everyone_words: tuple[str, ...] = ("*",)
            ) -> Iterator[Grant]:
    """Grantees listed as account ids or ARNs (a list, or comma-separated); `everyone_words` mean all.
    An organization's ARN names the organization, not its management account."""
    grant = Grant(where, shares=shares, actions=[action])
    for raw in as_list(values):
        for item in (i.strip() for i in str(raw).split(",")):
            if item.lower() in everyone_words:
                grant.everyone = True
            elif (account := account_of(item)) and not item.startswith("arn:aws:organizations"):
                grant.accounts.add(account)
    if grant.everyone or grant.accounts:
        yield grant


def _listing(prop: str, action: str, **options: Any) -> GrantReader:
    """A reader of the grantees listed at `prop`."""
    return lambda props: _listed(prop, get(props, prop), action, **options)


def _ami_launch(props: Mapping[str, Any]) -> Iterator[Grant]:
    yield from _listed("group/accountId", [get(props, "group") or "", get(props, "accountId") or ""],
                       "ec2:RunInstances", everyone_words=("all",))


def _ssm_document(props: Mapping[str, Any]) -> Iterator[Grant]:
    permissions = get(props, "permissions") or {}
    if isinstance(permissions, Mapping) and str(get(permissions, "type") or "").lower() == "share":
        ids = get(permissions, "account_ids") or get(permissions, "accountIds")
        yield from _listed("permissions.account_ids", ids, "ssm:SendCommand", everyone_words=("all",))


def _portfolio_share(props: Mapping[str, Any]) -> Iterator[Grant]:
    if str(get(props, "type") or "").upper() == "ACCOUNT":
        yield from _listed("principalId", get(props, "principalId"), "servicecatalog:*")


def _public_repository(props: Mapping[str, Any]) -> Iterator[Grant]:
    yield Grant("the repository itself (ECR Public serves every image to anyone)", everyone=True,
                actions=["ecr-public:BatchGetImage"])


GrantReader = Callable[[Mapping[str, Any]], Iterator[Grant]]
RESTORE = "rds:RestoreDBSnapshot"
#: Grants outside a policy document: the reader, and the properties naming the grantee (which
#: therefore never tell the stack's own account).
GRANTS: dict[str, tuple[GrantReader, frozenset[str]]] = {
    "aws:lambda/permission:Permission": (_lambda_permission, frozenset({"principal", "sourceAccount", "sourceArn"})),
    "aws:lambda/layerVersionPermission:LayerVersionPermission": (_layer_permission, frozenset({"principal"})),
    "aws:cloudwatch/eventPermission:EventPermission": (_event_permission, frozenset({"principal", "condition"})),
    "aws:signer/signingProfilePermission:SigningProfilePermission": (_signer_permission, frozenset({"principal"})),
    "aws:kms/grant:Grant": (_kms_grant, frozenset({"granteePrincipal", "retiringPrincipal"})),
    "aws:ec2/amiLaunchPermission:AmiLaunchPermission": (
        _ami_launch, frozenset({"accountId", "organizationArn", "organizationalUnitArn"})),
    "aws:ec2/snapshotCreateVolumePermission:SnapshotCreateVolumePermission": (
        _listing("accountId", "ec2:CreateVolume", everyone_words=("all",)), frozenset({"accountId"})),
    **{t: (_listing("sharedAccounts", RESTORE, everyone_words=("all",)), frozenset({"sharedAccounts"}))
       for t in ("aws:rds/snapshot:Snapshot", "aws:rds/snapshotCopy:SnapshotCopy", "aws:rds/clusterSnapshot:ClusterSnapshot",
                 "aws:rds/clusterSnapshotCopy:ClusterSnapshotCopy")},
    "aws:ssm/document:Document": (_ssm_document, frozenset({"permissions"})),
    "aws:ram/principalAssociation:PrincipalAssociation": (_listing("principal", "ram:*"), frozenset({"principal"})),
    "aws:ram/resourceShareAssociationsExclusive:ResourceShareAssociationsExclusive": (
        _listing("principals", "ram:*"), frozenset({"principals"})),
    "aws:ec2/vpcEndpointService:VpcEndpointService": (
        _listing("allowedPrincipals", "ec2:CreateVpcEndpoint", shares=False), frozenset({"allowedPrincipals"})),
    "aws:ec2/vpcEndpointServiceAllowedPrinciple:VpcEndpointServiceAllowedPrinciple": (
        _listing("principalArn", "ec2:CreateVpcEndpoint", shares=False), frozenset({"principalArn"})),
    "aws:globalaccelerator/crossAccountAttachment:CrossAccountAttachment": (
        _listing("principals", "globalaccelerator:*"), frozenset({"principals"})),
    "aws:servicecatalog/portfolioShare:PortfolioShare": (_portfolio_share, frozenset({"principalId"})),
    "aws:ecrpublic/repository:Repository": (_public_repository, frozenset()),
}

# ------------------------------------------------------------------ S3 ACLs and public-access blocks

PUBLIC_CANNED_ACLS = {"public-read", "public-read-write", "authenticated-read"}
PUBLIC_GROUPS = ("/global/AllUsers", "/global/AuthenticatedUsers")
#: Where an S3 type writes a canned ACL, and its grants (path to the list, then to the grantee URI).
CANNED_ACLS = {t: "acl" for t in ("aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2", "aws:s3/bucket:Bucket",
                                  "aws:s3/bucketV2:BucketV2", "aws:s3/bucketObject:BucketObject",
                                  "aws:s3/bucketObjectv2:BucketObjectv2", "aws:s3/objectCopy:ObjectCopy")}
ACL_GRANTS = {
    "aws:s3/bucketAcl:BucketAcl": ("accessControlPolicy.grants", "grantee.uri"),
    "aws:s3/bucketAclV2:BucketAclV2": ("accessControlPolicy.grants", "grantee.uri"),
    "aws:s3/bucket:Bucket": ("grants", "uri"),
    "aws:s3/bucketV2:BucketV2": ("grants", "uri"),
    "aws:s3/objectCopy:ObjectCopy": ("grants", "uri"),
    "aws:s3/bucketLogging:BucketLogging": ("targetGrants", "grantee.uri"),
    "aws:s3/bucketLoggingV2:BucketLoggingV2": ("targetGrants", "grantee.uri"),
}
OWNERSHIP_CONTROLS = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
ACL_OWNERSHIP = {"objectwriter", "bucketownerpreferred"}
BLOCK_SWITCHES = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
#: Public-access blocks: (path to the four switches, whether a switch left out is off).
PUBLIC_ACCESS_BLOCKS = {
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": ("", True),
    "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock": ("", True),
    "aws:s3/accessPoint:AccessPoint": ("publicAccessBlockConfiguration.", False),
    "aws:s3control/multiRegionAccessPoint:MultiRegionAccessPoint": ("details.publicAccessBlock.", False),
}
#: Account-wide switches of EBS snapshots and AMIs: `state` "unblocked" allows public sharing.
BLOCK_STATES = ("aws:ebs/snapshotBlockPublicAccess:SnapshotBlockPublicAccess",
                "aws:ec2/imageBlockPublicAccess:ImageBlockPublicAccess")


def public_acls(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """How an S3 resource's ACL lets everyone (or every AWS account) in."""
    found = []
    if resource_type in CANNED_ACLS and str(get(props, "acl") or "").strip().lower() in PUBLIC_CANNED_ACLS:
        found.append(f"acl {shown(get(props, 'acl'))}")
    if resource_type in ACL_GRANTS:
        grants_path, uri_path = ACL_GRANTS[resource_type]
        for i, g in enumerate(as_list(get(props, grants_path))):
            uri = str(get(g, uri_path) or "")
            if uri.endswith(PUBLIC_GROUPS):
                permission = get(g, "permission") or get(g, "permissions")
                found.append(f"{grants_path}[{i}] grants {shown(permission)} to {uri!r}")
    return found


def _block_switches_off(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    prefix, absent_is_off = PUBLIC_ACCESS_BLOCKS[resource_type]
    off = []
    for switch in BLOCK_SWITCHES:
        value = get(props, prefix + switch)
        if value is False or str(value).lower() == "false" or (value is None and absent_is_off):
            off.append(f"{prefix}{switch} {shown(value) if value is not None else 'left out (false)'}")
    return off


# ------------------------------------------------------------------ the stack's own accounts


def _item(container: Any, key: Any) -> Any:
    """container[key], or None when it is unknown during preview."""
    try:
        return container[key]
    except UnknownValueError:
        return None


def _accounts_in(value: Any, out: set[str], skip: frozenset[str] = frozenset()) -> None:
    """Accounts in the ARNs and queue URLs of a value, outside `skip` and the grantee elements of
    any policy document in it."""
    if isinstance(value, str):
        if "amazonaws.com" not in value and "arn:" not in value:
            return
        if '"Statement"' in value:
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                pass
        if isinstance(value, str):
            out.update(a or b for a, b in ACCOUNT_IN_TEXT.findall(value))
            return
    if isinstance(value, Mapping):
        for key in value:
            if key not in skip and key.lower() not in GRANTEE_ELEMENTS:
                _accounts_in(_item(value, key), out)
    elif isinstance(value, Sequence) and not isinstance(value, bytes):
        for i in range(len(value)):
            _accounts_in(_item(value, i), out)


def own_accounts(args: StackValidationArgs, wanted: set[str]) -> set[str]:
    """The accounts the stack's ARNs name outside grant positions, read until all of `wanted`
    (the accounts its grants name) are found."""
    out: set[str] = set()
    for r in args.resources:
        if r.resource_type.startswith("aws:"):
            _accounts_in(r.props, out, GRANTS[r.resource_type][1] if r.resource_type in GRANTS else frozenset())
            if wanted <= out:
                break
    return out


# ------------------------------------------------------------------ the policy


#: OpenSearch/Elasticsearch domains, and their separate access policies (by domainName): a domain in
#: a VPC is reachable only inside it, so its access policy may open to "*" (the documented form:
#: https://docs.aws.amazon.com/opensearch-service/latest/developerguide/vpc.html).
DOMAINS = ("aws:opensearch/domain:Domain", "aws:elasticsearch/domain:Domain")
DOMAIN_POLICIES = ("aws:opensearch/domainPolicy:DomainPolicy", "aws:elasticsearch/domainPolicy:DomainPolicy")


def _vpc_domains(args: StackValidationArgs) -> set[str]:
    """Names and URNs of the stack's domains placed in a VPC."""
    out: set[str] = set()
    for d in args.resources:
        if d.resource_type in DOMAINS and as_list(known(d.props, "vpcOptions.subnetIds")):
            out |= {d.urn, *([known(d.props, "domainName")] if known(d.props, "domainName") else [])}
    return out


def _in_vpc(r: Any, vpc_domains: set[str]) -> bool:
    if r.resource_type in DOMAINS:
        return r.urn in vpc_domains
    return r.resource_type in DOMAIN_POLICIES and (
        known(r.props, "domainName") in vpc_domains or bool(dependency_urns(r, "domainName") & vpc_domains))


def _grants_of(resource_type: str, props: Mapping[str, Any]) -> list[Grant]:
    found: list[Grant] = []
    for path in DOCUMENTS.get(resource_type, ()):
        for document in _values_at(props, path):
            found += document_grants(path, document)
    if resource_type in GRANTS:
        found += GRANTS[resource_type][0](props)
    return found


def _who(grant: Grant) -> str:
    return f"{shown(grant.actions)} " if grant.actions and any(grant.actions) else ""


def _unpinned(grant: Grant) -> str:
    """Why the grant's condition, if any, pins no caller."""
    written = f"its condition {shown(grant.condition)}" if grant.condition else ", ".join(sorted(grant.pins.tested))
    if not written:
        return " with no condition pinning the caller"
    return f"; {written} pins no caller (negated, ...IfExists and ForAllValues: operators and wildcard values do not)"


def _judge(grant: Grant, own: set[str], trusted: set[str]) -> str | None:
    """Why a grant lets in everyone or another account, or None. A service principal is judged
    only on the caller keys its condition tests: a pin that pins nothing, or another account."""
    allowed = own | trusted
    if grant.pins.org:
        return None
    if grant.everyone or grant.service:
        who = "everyone" if grant.everyone else "the service"
        if not grant.pins.any and (grant.everyone or grant.pins.tested):
            return f"{grant.where} lets {who} {_who(grant)}".rstrip() + _unpinned(grant)
        if foreign := sorted(grant.pins.accounts - allowed):
            return f"{grant.where} lets {who} {_who(grant)}act for account(s) {', '.join(foreign)}"
    foreign = sorted(grant.accounts - allowed)
    if foreign and not (grant.pins.accounts and grant.pins.accounts <= allowed):
        return f"{grant.where} lets account(s) {', '.join(foreign)} {_who(grant)}".rstrip()
    return None


def _presumed_own(grants: list[Grant]) -> set[str]:
    """With no ARN of its own, the one account the stack's grants name (principals of documents,
    pins of any grant; never the accounts a share or permission names) is its account."""
    named = {a for g in grants for a in g.pins.accounts | (set() if g.shares else g.accounts)}
    return named if len(named) == 1 else set()


PINNING = "aws:SourceArn, aws:SourceAccount, aws:PrincipalOrgID, aws:SourceVpce, ..."


def _problems(r: Any, found: list[Grant], own: set[str], trusted: set[str], prod: bool) -> list[str]:
    """Each way the resource is opened, with what is allowed instead."""
    out = []
    if opened := [p for g in found if (p := _judge(g, own, trusted))]:
        mine = f" ({', '.join(sorted(own))})" if own else ""
        out.append(f"{'; '.join(opened)}; allowed: the stack's own account{mine}, trustedAccounts, or \"*\" with a "
                   f"condition pinning the caller ({PINNING})")
    if acls := public_acls(r.resource_type, r.props):
        out.append(f"{'; '.join(acls)}; allowed: private ACLs (owner grants only)")
    if prod and r.resource_type in PUBLIC_ACCESS_BLOCKS and (off := _block_switches_off(r.resource_type, r.props)):
        out.append(f"public-access block {', '.join(off)}; required in prod: all four switches true")
    if prod and r.resource_type in BLOCK_STATES and str(get(r.props, "state") or "").lower() == "unblocked":
        out.append("state 'unblocked' allows public sharing account-wide; required in prod: 'block-all-sharing' or "
                   "'block-new-sharing'")
    return out


def _resource_policies_not_public(args: StackValidationArgs, report: ReportViolation) -> None:
    declared = {str(n) for n in config(args, PUBLIC_RESOURCES, [])}
    trusted = {str(a).strip() for a in config(args, TRUSTED_ACCOUNTS, [])}
    prod = is_prod(args)
    wanted = [r for r in args.resources if r.resource_type in TYPES and r.name not in declared]
    grants: dict[str, list[Grant]] = {}
    unknown: list[UnknownValueError] = []

    def each(items: list[Any], check: Callable[[Any], None]) -> None:
        """`check` on every item; an unknown value is noted once every phase has reported."""
        try:
            each_known(items, check)
        except UnknownValueError as err:
            unknown.append(err)

    vpc_domains = _vpc_domains(args)

    def read(r: Any) -> None:
        grants[r.urn] = _grants_of(r.resource_type, r.props)
        if _in_vpc(r, vpc_domains):
            for g in grants[r.urn]:
                g.pins.other = True  # reachable only from inside its VPC

    each(wanted, read)
    named_accounts = {a for found in grants.values() for g in found for a in g.accounts | g.pins.accounts} - trusted
    own = own_accounts(args, named_accounts) if named_accounts else set()
    if named_accounts and not own:
        own = _presumed_own([g for found in grants.values() for g in found])
    public_acl_buckets: list[Any] = []

    def check(r: Any) -> None:
        if r.urn not in grants:
            return
        if public_acls(r.resource_type, r.props):
            public_acl_buckets.append(r)
        if problems := _problems(r, grants[r.urn], own, trusted, prod):
            report(f"{named(r, 'resource')}: {'; '.join(problems)}.", r.urn)

    each(wanted, check)

    def ownership(r: Any) -> None:
        mode = str(get(r.props, "rule.objectOwnership") or "")
        if mode.lower() not in ACL_OWNERSHIP:
            return
        bucket = known(r.props, "bucket")
        for acl in public_acl_buckets:
            same = (bucket is not None and bucket in (known(acl.props, "bucket"), known(acl.props, "bucketName"))) or (
                dependency_urns(r, "bucket") & (dependency_urns(acl, "bucket") | {acl.urn}))
            if same:
                report(f"{named(r, 'resource')}: rule.objectOwnership {mode!r} turns ACLs on for bucket "
                       f"{shown(bucket)}, whose ACL is public ({acl.name}); required: 'BucketOwnerEnforced' (ACLs off).",
                       r.urn)
                return

    each([r for r in args.resources if r.resource_type == OWNERSHIP_CONTROLS and r.name not in declared], ownership)
    if unknown:
        raise unknown[0]


TYPES = frozenset({*DOCUMENTS, *GRANTS, *CANNED_ACLS, *ACL_GRANTS, *PUBLIC_ACCESS_BLOCKS, *BLOCK_STATES})

POLICIES = [
    stack_policy(
        "aws-resource-policies-not-public",
        f"Nothing is granted to everyone or to another account: resource-based policy documents of every pulumi-aws "
        f"type carrying one ({len(DOCUMENTS)} types, derived from the SDK: policy/aws_resource_policy_types.py), "
        "grants outside documents (Lambda, layer and EventBridge permissions, KMS grants, AMI, snapshot and RDS "
        "snapshot sharing, SSM documents, RAM, endpoint services, ECR Public), S3 ACLs and, in prod, public-access "
        "blocks. An Allow to \"*\"/NotPrincipal needs a condition pinning the caller (positive operator, fixed "
        "values; S3's meaning of public: https://docs.aws.amazon.com/AmazonS3/latest/userguide/"
        "access-control-block-public-access.html; IAM condition operators and global keys: https://docs.aws.amazon"
        ".com/IAM/latest/UserGuide/reference_policies_condition-keys.html); accounts other than the stack's own need "
        "trustedAccounts; resources in publicResources are exempt.",
        sorted(TYPES | {OWNERSHIP_CONTROLS}),
        _resource_policies_not_public,
        remediation="name the principal (a role of this account, or a service with aws:SourceArn of the stack's "
                    "resource), or add a condition on aws:SourceArn / aws:SourceAccount / aws:PrincipalOrgID; use "
                    "private ACLs with BucketOwnerEnforced ownership and every public-access block switch on; list a "
                    "partner account in trustedAccounts or a deliberately public resource in publicResources.",
        severity=Severity.CRITICAL,
        config={
            PUBLIC_RESOURCES: {"type": "array", "items": {"type": "string"}, "default": [],
                               "description": "Logical names of resources declared public."},
            TRUSTED_ACCOUNTS: {"type": "array", "items": {"type": "string"}, "default": [],
                               "description": "AWS account ids that may be granted access besides the stack's own."},
        },
    ),
]
