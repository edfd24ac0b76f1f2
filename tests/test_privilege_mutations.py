"""Mutation tests for actions judged by what they can do: give the rendered workloads a grant that
widens access, on each cloud, and the pack must name exactly the policy that owns the promise."""

from __future__ import annotations

import components.aws.platform as aws_platform
import components.azure.function as azure_function
import components.gcp.platform as gcp_platform
from tests import test_azure_mutations, test_gcp_mutations, test_policy_mutations

#: Storage Account Contributor: lists the host account's keys (Microsoft.Storage/storageAccounts/listKeys/action).
KEY_LISTING_ROLE = "17d1049b-9a84-46fb-8f53-869881c3d3ab"


def aws_secret_readers_share_the_secret(mp):
    """secretsmanager:PutResourcePolicy beside GetSecretValue, on the one secret."""
    mp.setattr(aws_platform, "SECRET_READ", ["secretsmanager:GetSecretValue", "secretsmanager:PutResourcePolicy"])


def gcp_secret_readers_administer_the_secret(mp):
    """roles/secretmanager.admin (secretmanager.secrets.setIamPolicy) instead of secretAccessor, on the one secret."""
    mp.setattr(gcp_platform, "SECRET_ACCESSOR", "roles/secretmanager.admin")


def azure_apps_list_host_storage_keys(mp):
    """The host storage grant as Storage Account Contributor instead of Storage Blob Data Owner."""
    mp.setattr(azure_function, "BLOB_OWNER", KEY_LISTING_ROLE)


def test_aws_workload_granted_permissions_management(monkeypatch):
    assert test_policy_mutations.violated(monkeypatch, aws_secret_readers_share_the_secret) == {
        "aws-iam-workload-no-permissions-management"}


def test_gcp_workload_granted_set_iam_policy(monkeypatch):
    assert test_gcp_mutations.violated(monkeypatch, gcp_secret_readers_administer_the_secret) == {
        "gcp-iam-workload-no-escalation"}


def test_azure_workload_granted_key_listing(monkeypatch):
    assert test_azure_mutations.violated(monkeypatch, azure_apps_list_host_storage_keys) == {
        "azure-no-privileged-workload-roles"}
