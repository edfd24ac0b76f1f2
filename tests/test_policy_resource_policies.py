"""aws-resource-policies-not-public: what the corpus and the fixtures don't pin down - the stack's
own account, config (publicResources, trustedAccounts), values unknown during preview, and the
condition operators one by one."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from policy import resource_policies
from policy.offline import evaluate

POLICY = "aws-resource-policies-not-public"
OWN, OTHER, THIRD = "123456789012", "999988887777", "210987654321"


def resource(typ: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"urn": f"urn:pulumi:prod::anycloud::{typ}::{name}", "type": typ, "custom": True, "inputs": inputs,
            "outputs": inputs, "propertyDependencies": {}}


def run(resources: list[dict[str, Any]], environment: str = "prod", config: dict[str, Any] | None = None):
    return evaluate(resources, environment, config, policies=resource_policies.POLICIES)


def key_policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return resource("aws:kms/key:Key", "key", {"enableKeyRotation": True, "policy": json.dumps(
        {"Version": "2012-10-17", "Statement": list(statements)})})


def allow(principal: Any, condition: dict[str, Any] | None = None) -> dict[str, Any]:
    s = {"Effect": "Allow", "Principal": principal, "Action": "kms:Decrypt", "Resource": "*"}
    return {**s, "Condition": condition} if condition else s


QUEUE = resource("aws:sqs/queue:Queue", "q", {"name": "q", "kmsMasterKeyId": f"arn:aws:kms:eu-west-1:{OWN}:key/k"})


@pytest.mark.parametrize("condition, pinned", [
    ({"StringEquals": {"aws:PrincipalAccount": OWN}}, True),
    ({"ForAnyValue:StringEquals": {"aws:PrincipalOrgID": ["o-a1b2c3d4e5"]}}, True),
    ({"StringLike": {"aws:PrincipalOrgPaths": "o-a1b2c3d4e5/r-ab12/*"}}, True),
    ({"ArnLike": {"aws:SourceArn": f"arn:aws:events:eu-west-1:{OWN}:rule/*"}}, True),
    ({"ArnEquals": {"aws:SourceArn": "arn:aws:s3:::uploads"}}, True),
    ({"StringEquals": {"aws:SourceVpce": "vpce-0a1b2c3d"}}, True),
    ({"IpAddress": {"aws:SourceIp": "198.51.100.0/24"}}, True),
    ({"stringequals": {"AWS:SourceAccount": OWN}}, True),  # operators and keys in any case
    ({"StringNotEquals": {"aws:PrincipalAccount": OTHER}}, False),
    ({"StringEqualsIfExists": {"aws:PrincipalAccount": OWN}}, False),
    ({"ForAllValues:StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}, False),
    ({"ArnLike": {"aws:SourceArn": "arn:aws:events:*:*:rule/*"}}, False),
    ({"ArnLike": {"aws:SourceArn": "arn:aws:s3:::uploads-*"}}, False),
    ({"StringLike": {"aws:PrincipalOrgID": "o-*"}}, False),
    ({"IpAddress": {"aws:SourceIp": "0.0.0.0/1"}}, False),
    ({"NotIpAddress": {"aws:SourceIp": "198.51.100.0/24"}}, False),
    ({"Null": {"aws:SourceArn": "false"}}, False),
    ({"Bool": {"aws:SecureTransport": "true"}}, False),
    ({"StringEquals": {"kms:ViaService": "sqs.eu-west-1.amazonaws.com"}}, False),
    ({"StringEquals": {"aws:PrincipalTag/team": "orders"}}, False),
])
def test_a_condition_pins_everyone_only_with_a_positive_operator_and_fixed_values(condition, pinned):
    report = run([QUEUE, key_policy(allow({"AWS": f"arn:aws:iam::{OWN}:root"}), allow("*", condition))])
    assert (report.violations == []) is pinned, report.violations


def test_the_stack_account_comes_from_its_arns_not_from_principals_or_conditions():
    # No ARN of the stack's own: the two accounts the key grants cannot both be its account.
    both = run([key_policy(allow({"AWS": f"arn:aws:iam::{OWN}:root"}), allow({"AWS": f"arn:aws:iam::{OTHER}:root"}))])
    assert [OTHER in v.message and OWN in v.message for v in both.violations] == [True]
    # One account granted and no ARN: it is taken as the stack's account.
    assert run([key_policy(allow({"AWS": f"arn:aws:iam::{OWN}:root"}))]).violations == []
    # An ARN elsewhere in the stack says which account is the stack's.
    found = run([QUEUE, key_policy(allow({"AWS": f"arn:aws:iam::{OTHER}:root"}))]).violations
    assert len(found) == 1 and f"account(s) {OTHER}" in found[0].message
    # A pin on another account, in a condition, never counts as the stack's account.
    pinned = run([key_policy(allow({"AWS": f"arn:aws:iam::{OWN}:root"}),
                             allow("*", {"StringEquals": {"aws:PrincipalAccount": OTHER}}))])
    assert len(pinned.violations) == 1 and OTHER in pinned.violations[0].message


def test_sharing_attributes_are_foreign_even_when_the_stack_shows_no_account():
    share = resource("aws:ec2/snapshotCreateVolumePermission:SnapshotCreateVolumePermission", "share",
                     {"snapshotId": "snap-0123456789abcdef0", "accountId": OTHER})
    assert len(run([share]).violations) == 1


def test_trusted_accounts_and_public_resources_are_allowed():
    partner = key_policy(allow({"AWS": f"arn:aws:iam::{OWN}:root"}), allow({"AWS": f"arn:aws:iam::{THIRD}:role/x"}))
    assert len(run([QUEUE, partner]).violations) == 1
    assert run([QUEUE, partner], config={"trustedAccounts": [THIRD]}).violations == []
    public = resource("aws:s3/bucketAclV2:BucketAclV2", "site-acl", {"bucket": "site", "acl": "public-read"})
    assert len(run([public]).violations) == 1
    assert run([public], config={"publicResources": ["site-acl"]}).violations == []


def test_a_service_is_judged_on_the_caller_keys_it_tests():
    def topic_policy(condition: dict[str, Any] | None) -> dict[str, Any]:
        statement = {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sns:Publish",
                     "Resource": f"arn:aws:sns:eu-west-1:{OWN}:t"}
        if condition:
            statement["Condition"] = condition
        return resource("aws:sns/topicPolicy:TopicPolicy", "tp", {"arn": f"arn:aws:sns:eu-west-1:{OWN}:t",
                                                                  "policy": {"Statement": [statement]}})

    assert run([topic_policy(None)]).violations == []  # no condition: the confused deputy is not this policy's
    assert run([topic_policy({"StringEquals": {"aws:SourceAccount": OWN}})]).violations == []
    assert run([topic_policy({"ArnLike": {"aws:SourceArn": "arn:aws:s3:::*"}})]).violations
    assert run([topic_policy({"StringEquals": {"aws:SourceAccount": OTHER}})]).violations


def test_values_unknown_during_preview_skip_only_their_resource():
    unknown = resource("aws:sqs/queuePolicy:QueuePolicy", "pending", {"queueUrl": "u", "policy": UNKNOWN_STRING_VALUE})
    public = resource("aws:s3/bucketAclV2:BucketAclV2", "site-acl", {"bucket": "site", "acl": "public-read"})
    report = run([unknown, public])
    assert [v.urn.rsplit("::", 1)[1] for v in report.violations] == ["site-acl"]
    assert any("can't run" in n for n in report.notes)


def test_public_access_blocks_are_a_prod_rule_and_public_grants_are_not():
    block = resource("aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock", "account", {"blockPublicAcls": True})
    assert len(run([block]).violations) == 1
    assert run([block], environment="dev").violations == []
    assert len(run([key_policy(allow("*"))], environment="dev").violations) == 1


def test_a_domain_inside_a_vpc_may_open_its_access_policy_to_everyone():
    policy = json.dumps({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "es:ESHttp*",
                                        "Resource": f"arn:aws:es:eu-west-1:{OWN}:domain/search/*"}]})
    in_vpc = resource("aws:opensearch/domain:Domain", "search", {"domainName": "search",
                                                                  "vpcOptions": {"subnetIds": ["subnet-0a1b2c3d"]}})
    public = resource("aws:opensearch/domain:Domain", "search", {"domainName": "search"})
    separate = resource("aws:opensearch/domainPolicy:DomainPolicy", "search-policy",
                        {"domainName": "search", "accessPolicies": policy})
    assert run([in_vpc, separate]).violations == []
    assert [v.urn.rsplit("::", 1)[1] for v in run([public, separate]).violations] == ["search-policy"]


@pytest.mark.parametrize("deny, fenced", [
    ({"Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-0a1b2c3d"}}}, True),
    ({"Condition": {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}}, True),  # absent key: denied
    ({"Condition": {"NotIpAddress": {"aws:SourceIp": "198.51.100.0/24"}}}, True),
    ({}, True),  # denies everyone: nothing is left in
    ({"Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-0a1b2c3d"}, "Bool": {"aws:SecureTransport": "true"}}},
     False),  # denies only callers matching both: a plain-HTTP caller from anywhere is not denied
    ({"Condition": {"StringNotLike": {"aws:SourceVpce": "vpce-*"}}}, False),
    ({"Condition": {"StringEquals": {"aws:SourceVpce": "vpce-0a1b2c3d"}}}, False),
    ({"Action": "kms:Encrypt", "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-0a1b2c3d"}}}, False),
    ({"Principal": {"AWS": f"arn:aws:iam::{OWN}:role/x"}, "Condition": {"StringNotEquals": {"aws:SourceVpce": "v"}}},
     False),
])
def test_a_deny_for_everyone_else_fences_the_allows_it_covers(deny, fenced):
    statement = {"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*", **deny}
    report = run([QUEUE, key_policy(allow({"AWS": f"arn:aws:iam::{OWN}:root"}), statement, allow("*"))])
    assert (report.violations == []) is fenced, report.violations
