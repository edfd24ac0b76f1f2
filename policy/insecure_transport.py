"""Stores that would accept plain-HTTP requests: aws-deny-insecure-transport.

SQS queues, SNS topics and S3 buckets answer plain HTTP as well as HTTPS unless their resource
policy denies requests whose `aws:SecureTransport` is false (SQS docs, "Amazon SQS security best
practices"; SNS docs, "Amazon SNS security best practices: enforce encryption of data in transit";
Security Hub S3.5, "S3 general purpose buckets should require requests to use SSL"). `STORES` says,
for each, where its policy can be written (its own `policy` input or a separate policy resource and
the property naming the store), which data actions the Deny must cover, and which ARNs: a bucket's
Deny covers the bucket and its objects. Policies come as JSON strings or objects, statements as one
or a list, actions in any case and with wildcards; a Deny counts only when it applies to everyone
and its condition is exactly `aws:SecureTransport` false (`Bool` or `BoolIfExists`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy import PolicyResource, ReportViolation, Severity, StackValidationArgs

from .common import (
    MANDATORY,
    S3_BUCKETS,
    SNS_TOPIC,
    SQS_QUEUE,
    SQS_QUEUE_POLICY,
    as_list,
    dependency_urns,
    each_known,
    everyone,
    get,
    known,
    shown,
    stack_policy,
    statements,
    wildcard_match,
)

NAME = "aws-deny-insecure-transport"
SNS_TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
S3_BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"


def queue_arn_from_url(url: Any) -> str | None:
    """arn:aws:sqs:REGION:ACCOUNT:NAME from https://sqs.REGION.amazonaws.com/ACCOUNT/NAME."""
    if not isinstance(url, str):
        return None
    match = re.match(r"^https://sqs\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/(\d{12})/([^/?#]+)/?$", url)
    if not match:
        match = re.match(r"^https://([a-z0-9-]+)\.queue\.amazonaws\.com/(\d{12})/([^/?#]+)/?$", url)
    if not match:
        return None
    region, account, name = match.groups()
    partition = "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"
    return f"arn:{partition}:sqs:{region}:{account}:{name}"


def _text(props: Any, key: str) -> str | None:
    value = known(props, key)
    return value if isinstance(value, str) and value else None


def _last(value: str, sep: str) -> str:
    return value.rstrip(sep).rsplit(sep, 1)[-1]


@dataclass(frozen=True)
class Identity:
    arns: tuple[str, ...]  # the ARNs a Deny must cover; empty when not known yet
    name: str | None
    ids: frozenset[str]  # values a policy resource may name the store by (URL, ARN, id, name)


def _queue(q: PolicyResource) -> Identity:
    ids = {v for v in (_text(q.props, "url"), _text(q.props, "id")) if v}
    arn = _text(q.props, "arn") or next((queue_arn_from_url(v) for v in sorted(ids) if queue_arn_from_url(v)), None)
    name = _text(q.props, "name") or (_last(arn, ":") if arn else None)
    return Identity((arn,) if arn else (), name, frozenset(ids | ({arn} if arn else set())))


def _topic(t: PolicyResource) -> Identity:
    arn = _text(t.props, "arn") or next((v for v in (_text(t.props, "id"),) if v and v.startswith("arn:")), None)
    name = _text(t.props, "name") or (_last(arn, ":") if arn else None)
    return Identity((arn,) if arn else (), name, frozenset({arn} if arn else set()))


def _bucket(b: PolicyResource) -> Identity:
    name = _text(b.props, "bucket") or _text(b.props, "id")
    arn = _text(b.props, "arn") or (f"arn:aws:s3:::{name}" if name else None)
    return Identity((arn, f"{arn}/*") if arn else (), name, frozenset({name} if name else set()))


@dataclass(frozen=True)
class Store:
    kind: str
    service: str  # the ARN service of its resources
    types: tuple[str, ...]
    policies: Mapping[str, str]  # policy resource type -> the property naming the store
    actions: tuple[str, ...]  # data actions the Deny must cover (or a wildcard covering them)
    identity: Callable[[PolicyResource], Identity]
    linked: Callable[[str], tuple[str, ...]]  # the store's ARNs from a policy resource's value naming it


def _sqs_linked(url: str) -> tuple[str, ...]:
    arn = queue_arn_from_url(url)
    return (arn,) if arn else ()


def _sns_linked(arn: str) -> tuple[str, ...]:
    return (arn,) if arn.startswith("arn:") else ()


def _s3_linked(bucket: str) -> tuple[str, ...]:
    return (f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*")


STORES = (
    Store("SQS queue", "sqs", (SQS_QUEUE,), {SQS_QUEUE_POLICY: "queueUrl"}, ("sqs:SendMessage", "sqs:ReceiveMessage"),
          _queue, _sqs_linked),
    Store("SNS topic", "sns", (SNS_TOPIC,), {SNS_TOPIC_POLICY: "arn"}, ("sns:Publish",), _topic, _sns_linked),
    Store("S3 bucket", "s3", S3_BUCKETS, {S3_BUCKET_POLICY: "bucket"}, ("s3:GetObject", "s3:PutObject", "s3:ListBucket"),
          _bucket, _s3_linked),
)


def _insecure_transport_only(condition: Any) -> bool:
    """The Condition is exactly `{"Bool"|"BoolIfExists": {"aws:SecureTransport": "false"}}`."""
    if not isinstance(condition, Mapping) or len(condition) != 1:
        return False
    operator, tests = next(iter(condition.items()))
    if operator not in ("Bool", "BoolIfExists") or not isinstance(tests, Mapping) or len(tests) != 1:
        return False
    key, value = next(iter(tests.items()))
    values = [str(v).lower() for v in (value if isinstance(value, Sequence) and not isinstance(value, str) else [value])]
    return key.lower() == "aws:securetransport" and values == ["false"]


def _covers_actions(statement: Mapping[str, Any], actions: Sequence[str]) -> bool:
    if "NotAction" in statement:
        excluded = [a for a in as_list(statement["NotAction"]) if isinstance(a, str)]
        return not any(wildcard_match(p, a) for p in excluded for a in actions)
    listed = [a for a in as_list(statement.get("Action")) if isinstance(a, str)]
    return all(any(wildcard_match(p, a) for p in listed) for a in actions)


def _covers_resources(statement: Mapping[str, Any], store: Store, identity: Identity) -> bool:
    if "NotResource" in statement:
        return False
    resources = [r for r in as_list(statement.get("Resource")) if isinstance(r, str)]
    if "*" in resources:
        return True
    if identity.arns:
        return all(any(wildcard_match(r, arn) for r in resources) for arn in identity.arns)
    # The store's ARN is an output, not known yet: accept ARNs of its service naming it.
    own = [r for r in resources if r.lower().startswith("arn:") and f":{store.service}:" in r.lower()]
    if identity.name:
        return any(wildcard_match(r.rsplit(":", 1)[-1], identity.name) for r in own)
    return bool(own)


def tls_deny_problem(policy: Any, store: Store, identity: Identity) -> str | None:
    """Why a policy document does not deny insecure transport to the store; None if it does."""
    denies = [s for s in statements(policy) if s.get("Effect") == "Deny" and _insecure_transport_only(s.get("Condition"))]
    if not denies:
        return 'has no Deny statement conditioned only on {"Bool": {"aws:SecureTransport": "false"}}'
    reasons = []
    for s in denies:
        missing = []
        if not everyone(s.get("Principal")):
            missing.append(f"its Principal is {shown(s.get('Principal'))}, not \"*\"")
        if not _covers_actions(s, store.actions):
            actions = s.get("NotAction", s.get("Action"))
            missing.append(f"its Action {shown(as_list(actions))} does not cover {' and '.join(store.actions)}")
        if not _covers_resources(s, store, identity):
            resources = s.get("NotResource", s.get("Resource"))
            wanted = " and ".join(identity.arns) or f"the {store.kind}'s ARN"
            missing.append(f"its Resource {list(as_list(resources))!r} is not {wanted} or \"*\"")
        if not missing:
            return None
        reasons.append(f"{s.get('Sid') or 'Deny'}: {', '.join(missing)}")
    return "denies insecure transport, but " + "; ".join(reasons)


def _attached(policy: PolicyResource, prop: str, store: PolicyResource, identity: Identity) -> bool:
    """Whether a policy resource is the store's: its property depends on the store or names it."""
    if store.urn in dependency_urns(policy, prop):
        return True
    value = _text(policy.props, prop)
    if value is None:
        return False
    return value in identity.ids or (identity.name is not None and _last(_last(value, "/"), ":") == identity.name)


def _check(args: StackValidationArgs, report: ReportViolation) -> None:
    by_type: dict[str, list[PolicyResource]] = {}
    for r in args.resources:
        by_type.setdefault(r.resource_type, []).append(r)

    def check(item: tuple[Store, PolicyResource]) -> None:
        store, resource = item
        identity = store.identity(resource)
        problems = []
        inline = get(resource.props, "policy")
        if inline:
            problem = tls_deny_problem(inline, store, identity)
            if problem is None:
                return
            problems.append(f"its policy input {problem}")
        for policy_type, prop in store.policies.items():
            for attached in (p for p in by_type.get(policy_type, []) if _attached(p, prop, resource, identity)):
                link = _text(attached.props, prop)
                seen = identity if identity.arns or link is None else Identity(store.linked(link), identity.name, identity.ids)
                problem = tls_deny_problem(get(attached.props, "policy"), store, seen)
                if problem is None:
                    return
                problems.append(f"{policy_type.rsplit(':', 1)[-1]} {attached.name} {problem}")
        if not problems:
            names = " or ".join(f"{t} targets it ({p})" for t, p in store.policies.items())
            problems.append(f"no {names} and it has no policy input")
        report(f"{store.kind} {resource.name}: {'; '.join(problems)}; required: a Deny for Principal \"*\" on "
               f"{store.service}:* (or at least {', '.join(store.actions)}) on "
               f"{' and '.join(identity.arns) or 'its ARN'} when aws:SecureTransport is \"false\".", resource.urn)

    each_known([(store, r) for store in STORES for t in store.types for r in by_type.get(t, [])], check)


POLICIES = [
    stack_policy(
        NAME,
        "Every SQS queue, SNS topic and S3 bucket has a resource policy (its own policy input or a QueuePolicy, "
        "TopicPolicy or BucketPolicy naming it) that denies everyone its data actions (SQS SendMessage and "
        "ReceiveMessage, SNS Publish, S3 GetObject, PutObject and ListBucket, or a wildcard covering them) on it - a "
        "bucket and its objects - when aws:SecureTransport is false, so no request is served over plain HTTP (SQS and "
        "SNS security best practices; Security Hub S3.5).",
        sorted({t for store in STORES for t in (*store.types, *store.policies)}),
        _check,
        remediation='attach a policy with {"Effect": "Deny", "Principal": "*", "Action": "<service>:*", "Resource": '
                    '[<ARN>, and for a bucket <ARN>/*], "Condition": {"Bool": {"aws:SecureTransport": "false"}}} '
                    "(aws.sqs.QueuePolicy, aws.sns.TopicPolicy, aws.s3.BucketPolicy).",
        level=MANDATORY,
        severity=Severity.HIGH,
    ),
]
