"""The catalogue of AWS resource-policy documents (policy/aws_resource_policy_types.py) held to the
installed pulumi-aws, and the hand-named grant types of policy/resource_policies.py held to real
type tokens of the same SDK."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from policy import aws_resource_policy_types as catalogue
from policy import resource_policies
from tests.support.derivations import derived_once, load_script

SCRIPT_MODULE = load_script("aws_resource_policy_types")
ROOT = SCRIPT_MODULE.sdk_root()
SDK_TYPES = {token for token, _, _ in SCRIPT_MODULE.resource_types(ROOT)}


def test_the_catalogue_is_what_the_installed_sdk_says(pytestconfig):
    assert catalogue.PULUMI_AWS_VERSION == importlib.metadata.version("pulumi_aws"), "run scripts/aws_resource_policy_types.py"
    project = Path(__file__).resolve().parent.parent
    sources = [project / "scripts" / "aws_resource_policy_types.py", project / "policy" / "aws_resource_policy_types.py"]
    with derived_once(pytestconfig, "aws-resource-policy-types", sources):
        assert catalogue.DOCUMENTS == SCRIPT_MODULE.catalogue(ROOT), "run scripts/aws_resource_policy_types.py"


def test_the_catalogue_holds_the_documented_resource_policies():
    expected = {
        "aws:sqs/queue:Queue": ("policy",), "aws:sqs/queuePolicy:QueuePolicy": ("policy",),
        "aws:sns/topicPolicy:TopicPolicy": ("policy",), "aws:s3/bucketPolicy:BucketPolicy": ("policy",),
        "aws:kms/key:Key": ("policy",), "aws:secretsmanager/secretPolicy:SecretPolicy": ("policy",),
        "aws:ecr/repositoryPolicy:RepositoryPolicy": ("policy",),
        "aws:cloudwatch/eventBusPolicy:EventBusPolicy": ("policy",),
        "aws:opensearch/domain:Domain": ("accessPolicies",), "aws:glacier/vault:Vault": ("accessPolicy",),
        "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": ("policyDocument",),
        "aws:s3control/multiRegionAccessPointPolicy:MultiRegionAccessPointPolicy": ("details.policy",),
        "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate": ("repositoryPolicy",),
    }
    assert {t: catalogue.DOCUMENTS.get(t) for t in expected} == expected
    assert not any(t.startswith("aws:iam/") for t in catalogue.DOCUMENTS)
    assert "aws:ec2/vpcEndpoint:VpcEndpoint" not in catalogue.DOCUMENTS


def test_every_exclusion_removes_a_document_the_sdk_has():
    saved = dict(SCRIPT_MODULE.NOT_GRANTS)
    SCRIPT_MODULE.NOT_GRANTS.clear()
    try:
        everything = SCRIPT_MODULE.catalogue(ROOT)
    finally:
        SCRIPT_MODULE.NOT_GRANTS.update(saved)
    for key in saved:
        assert any(t == key or (key.endswith("/") and t.startswith(key)) for t in everything), key


def test_hand_named_types_are_types_of_the_sdk_and_read_by_the_policy():
    named = {*resource_policies.GRANTS, *resource_policies.CANNED_ACLS, *resource_policies.ACL_GRANTS,
             *resource_policies.PUBLIC_ACCESS_BLOCKS, *resource_policies.BLOCK_STATES, resource_policies.OWNERSHIP_CONTROLS}
    assert named - SDK_TYPES == set()
    (policy,) = resource_policies.POLICIES
    assert set(policy.resource_types) == named | set(catalogue.DOCUMENTS)
