"""Encryption policies: what the fixtures don't pin down.

requireCustomerManagedKeys=false (provider encryption must still be explicitly on), per-policy
config, dev == prod, unknown values during preview, S3 correlation by dependency / by name /
V2 tokens / the deprecated inline block, rotation limits and key kinds that cannot rotate.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from pulumi_policy import EnforcementLevel
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from policy import POLICIES, encryption
from policy.common import REQUIRE_CMK
from policy.offline import evaluate

ACCOUNT, REGION = "123456789012", "eu-west-1"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/50fadbf0-bff7-84ba-77ea-7ee6f94d81c7"
GKEY = "projects/orders-prod-4711/locations/europe-west1/keyRings/anycloud/cryptoKeys/orders"
NO_CMK = {REQUIRE_CMK: False}


def resource(typ: str, name: str, inputs: dict[str, Any], deps: dict[str, list[str]] | None = None) -> dict[str, Any]:
    return {"urn": f"urn:pulumi:prod::anycloud::{typ}::{name}", "type": typ, "custom": True, "inputs": inputs,
            "outputs": inputs, "propertyDependencies": deps or {}}


def violations(resources: list[dict[str, Any]], config: dict[str, Any] | None = None, environment: str = "prod"):
    report = evaluate(resources, environment, config, policies=encryption.POLICIES)
    return report.violations, report.notes


def messages(resources, config=None, environment="prod") -> list[str]:
    found, notes = violations(resources, config, environment)
    assert not notes
    return [f"{v.policy}: {v.message}" for v in found]


def queue(**inputs):
    return resource("aws:sqs/queue:Queue", "orders", inputs)


def bucket(name="uploads", real="orders-prod-uploads-5f3c2a1", typ="aws:s3/bucket:Bucket", **inputs):
    return resource(typ, name, {"bucket": real, **inputs})


def sse(target, algorithm="aws:kms", key=KEY_ARN, link=True,
        typ="aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", bucket_value=None):
    default = {"sseAlgorithm": algorithm, **({"kmsMasterKeyId": key} if key else {})}
    inputs = {"bucket": bucket_value or target["inputs"]["bucket"], "rules": [{"applyServerSideEncryptionByDefault": default}]}
    return resource(typ, f"{target['urn'].rsplit('::', 1)[1]}-encryption", inputs, {"bucket": [target["urn"]] if link else []})


# ------------------------------------------------------------------ the pack's shape


def test_policies_are_named_described_and_mandatory():
    names = [p.name for p in encryption.POLICIES]
    assert len(names) == len(set(names)) and 8 <= len(names) <= 10
    assert set(names) <= {p.name for p in POLICIES}
    for p in encryption.POLICIES:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", p.name)
        assert p.description.endswith(".") and p.remediation_steps
        assert p.enforcement_level == EnforcementLevel.MANDATORY
        clouds = {t.split(":")[0] for t in p.resource_types}
        assert clouds <= {"aws", "gcp", "azure-native"}
        if p.name not in ("key-rotation", "key-vaults-recoverable"):
            assert p.config_schema.properties[REQUIRE_CMK]["default"] is True


def test_every_cloud_is_covered():
    tokens = {t for p in encryption.POLICIES for t in p.resource_types}
    for token in ("aws:dynamodb/table:Table", "aws:sqs/queue:Queue", "aws:sns/topic:Topic", "aws:sfn/stateMachine:StateMachine",
                  "aws:lambda/function:Function", "aws:cloudwatch/logGroup:LogGroup", "aws:secretsmanager/secret:Secret",
                  "aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2", "aws:kms/key:Key", "gcp:pubsub/topic:Topic",
                  "gcp:firestore/database:Database", "gcp:workflows/workflow:Workflow", "gcp:cloudfunctionsv2/function:Function",
                  "gcp:storage/bucket:Bucket", "gcp:secretmanager/secret:Secret", "gcp:kms/cryptoKey:CryptoKey",
                  "azure-native:cosmosdb:DatabaseAccount", "azure-native:storage:StorageAccount",
                  "azure-native:servicebus:Namespace", "azure-native:keyvault:Vault", "azure-native:keyvault:Key"):
        assert token in tokens


def test_message_names_resource_property_value_requirement_and_fix():
    [message] = messages([queue(kmsMasterKeyId="alias/aws/sqs")])
    assert message.startswith("queues-encrypted: SQS queue 'orders' (aws:sqs/queue:Queue): kmsMasterKeyId is 'alias/aws/sqs'")
    assert "customer-managed key" in message and "requireCustomerManagedKeys=true" in message
    assert " Fix: " in message


# ------------------------------------------------------------------ requireCustomerManagedKeys=false


@pytest.mark.parametrize("inputs", [{"sqsManagedSseEnabled": True}, {"kmsMasterKeyId": "alias/aws/sqs"}, {"kmsMasterKeyId": KEY_ARN}])
def test_without_cmk_sqs_accepts_any_explicit_encryption(inputs):
    assert messages([queue(**inputs)], NO_CMK) == []


@pytest.mark.parametrize("inputs", [{}, {"sqsManagedSseEnabled": False}])
def test_without_cmk_sqs_still_needs_encryption_on(inputs):
    [message] = messages([queue(**inputs)], NO_CMK)
    assert "sqsManagedSseEnabled" in message and "explicitly on" in message


def test_cmk_refuses_sqs_owned_keys():
    [message] = messages([queue(sqsManagedSseEnabled=True)])
    assert "SQS-owned" in message


def test_without_cmk_provider_keys_pass_where_there_is_a_switch():
    ok = [
        resource("aws:sns/topic:Topic", "alarms", {"kmsMasterKeyId": "alias/aws/sns"}),
        resource("aws:dynamodb/table:Table", "orders", {"serverSideEncryption": {"enabled": True}}),
        resource("aws:sfn/stateMachine:StateMachine", "flow", {"encryptionConfiguration": {"type": "AWS_OWNED_KEY"}}),
        resource("azure-native:storage:StorageAccount", "st", {"encryption": {
            "keySource": "Microsoft.Storage", "requireInfrastructureEncryption": True}}),
    ]
    assert messages(ok, NO_CMK) == []
    assert len(messages(ok)) == 4  # each one is refused when a customer-managed key is required


def test_without_cmk_the_switch_must_still_be_on():
    bad = [
        resource("aws:sns/topic:Topic", "alarms", {}),
        resource("aws:dynamodb/table:Table", "orders", {"serverSideEncryption": {"enabled": False}}),
        resource("aws:sfn/stateMachine:StateMachine", "flow", {}),
        resource("aws:sfn/stateMachine:StateMachine", "flow-no-key", {"encryptionConfiguration": {"type": "CUSTOMER_MANAGED_KMS_KEY"}}),
        resource("azure-native:storage:StorageAccount", "st", {"encryption": {"keySource": "Microsoft.Storage"}}),
        resource("azure-native:storage:StorageAccount", "st-blob-off", {"encryption": {
            "requireInfrastructureEncryption": True, "services": {"blob": {"enabled": False}}}}),
    ]
    found = messages(bad, NO_CMK)
    assert len(found) == 6
    assert any("requireInfrastructureEncryption is not set" in m for m in found)
    assert any("encryption.services.blob.enabled is false" in m for m in found)


def test_without_cmk_always_encrypted_services_pass():
    """No switch exists: the cloud's own key is always used (Lambda env, Logs, Secrets Manager, GCP, Cosmos, Service Bus)."""
    plain = [
        resource("aws:lambda/function:Function", "fn", {"environment": {"variables": {"A": "1"}}}),
        resource("aws:cloudwatch/logGroup:LogGroup", "logs", {"retentionInDays": 30}),
        resource("aws:secretsmanager/secret:Secret", "secret", {}),
        resource("gcp:pubsub/topic:Topic", "topic", {"name": "t"}),
        resource("gcp:firestore/database:Database", "db", {"name": "(default)"}),
        resource("gcp:workflows/workflow:Workflow", "wf", {"name": "w"}),
        resource("gcp:cloudfunctionsv2/function:Function", "gfn", {"name": "f"}),
        resource("gcp:storage/bucket:Bucket", "gcs", {"name": "b"}),
        resource("gcp:secretmanager/secret:Secret", "gsecret", {"replication": {"auto": {}}}),
        resource("azure-native:cosmosdb:DatabaseAccount", "cosmos", {"disableLocalAuth": True}),
        resource("azure-native:servicebus:Namespace", "bus", {"sku": {"name": "Standard"}}),
    ]
    assert messages(plain, NO_CMK) == []
    assert len(messages(plain)) == len(plain) + 1  # Service Bus: no key and not Premium


def test_cmk_can_be_relaxed_for_one_policy_only():
    resources = [queue(sqsManagedSseEnabled=True), resource("aws:cloudwatch/logGroup:LogGroup", "logs", {})]
    found = messages(resources, {"queues-encrypted": NO_CMK})
    assert [m.split(":")[0] for m in found] == ["logs-encrypted"]


def test_dev_is_as_strict_as_prod():
    resources = [queue(), resource("aws:cloudwatch/logGroup:LogGroup", "logs", {})]
    assert messages(resources, environment="dev") == messages(resources)
    assert len(messages(resources, environment="dev")) == 2


# ------------------------------------------------------------------ AWS details


def test_aws_managed_aliases_are_not_customer_managed():
    for typ, prop, alias in (("aws:sns/topic:Topic", "kmsMasterKeyId", "alias/aws/sns"),
                             ("aws:secretsmanager/secret:Secret", "kmsKeyId", f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/aws/secretsmanager"),
                             ("aws:cloudwatch/logGroup:LogGroup", "kmsKeyId", "alias/aws/logs")):
        [message] = messages([resource(typ, "r", {prop: alias})])
        assert f"{prop} is '{alias}', an AWS-managed key" in message
    # a customer alias is the customer's key
    assert messages([resource("aws:sns/topic:Topic", "t", {"kmsMasterKeyId": "alias/anycloud/orders-prod"})]) == []


def test_lambda_needs_a_key_only_with_environment_variables():
    assert messages([resource("aws:lambda/function:Function", "fn", {"runtime": "python3.13"})]) == []
    assert messages([resource("aws:lambda/function:Function", "fn", {"environment": {"variables": {}}})]) == []
    [message] = messages([resource("aws:lambda/function:Function", "fn", {"environment": {"variables": {"A": "1"}}})])
    assert "kmsKeyArn is not set" in message


def test_kms_keys_that_cannot_rotate_are_skipped():
    for inputs in ({"customerMasterKeySpec": "RSA_2048", "keyUsage": "ENCRYPT_DECRYPT"},
                   {"customerMasterKeySpec": "HMAC_256", "keyUsage": "GENERATE_VERIFY_MAC"},
                   {"customKeyStoreId": "cks-1234567890abcdef0"}):
        assert messages([resource("aws:kms/key:Key", "k", inputs)]) == []
    assert messages([resource("aws:kms/key:Key", "k", {"enableKeyRotation": True, "multiRegion": True})]) == []


# ------------------------------------------------------------------ S3 correlation


def test_s3_correlates_by_dependency_then_by_name():
    b = bucket()
    assert messages([b, sse(b)]) == []
    assert messages([b, sse(b, link=False)]) == []
    [message] = messages([b, sse(b, link=False, bucket_value="someone-elses-bucket")])
    assert "S3 bucket 'uploads'" in message and "no aws:s3/bucketServerSideEncryptionConfiguration" in message


def test_s3_v2_tokens_correlate_too():
    b = bucket(typ="aws:s3/bucketV2:BucketV2")
    v2 = "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2"
    assert messages([b, sse(b, typ=v2)]) == []
    assert len(messages([b])) == 1


def test_s3_every_bucket_needs_its_own_configuration():
    uploads, reports = bucket(), bucket("reports", "orders-prod-reports-9d8e7f6")
    found = messages([uploads, reports, sse(reports)])
    assert len(found) == 1 and "S3 bucket 'uploads'" in found[0]


def test_s3_without_cmk_accepts_aes256_but_not_a_missing_configuration():
    b = bucket()
    assert messages([b, sse(b, "AES256", None)], NO_CMK) == []
    assert len(messages([b, sse(b, "AES256", None)])) == 1
    [message] = messages([b], NO_CMK)
    assert "an explicit sseAlgorithm" in message


def test_s3_deprecated_inline_block_is_read():
    inline = {"rule": {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY_ARN}}}
    assert messages([bucket(serverSideEncryptionConfiguration=inline)]) == []
    weak = {"rule": {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}}
    [message] = messages([bucket(serverSideEncryptionConfiguration=weak)])
    assert "serverSideEncryptionConfiguration.rule.applyServerSideEncryptionByDefault sseAlgorithm is 'AES256'" in message


# ------------------------------------------------------------------ unknown values (preview)


def test_unknown_key_is_a_note_not_a_crash_or_violation():
    found, notes = violations([queue(kmsMasterKeyId=UNKNOWN_STRING_VALUE), resource("aws:cloudwatch/logGroup:LogGroup", "logs", {})])
    assert [v.policy for v in found] == ["logs-encrypted"]
    assert len(notes) == 1 and notes[0].startswith("queues-encrypted: can't run on urn:pulumi:prod::anycloud::aws:sqs/queue:Queue::orders")


def test_s3_correlates_by_dependency_without_reading_an_unknown_bucket_name():
    b = bucket()
    assert violations([b, sse(b, bucket_value=UNKNOWN_STRING_VALUE)]) == ([], [])
    found, notes = violations([b, sse(b, link=False, bucket_value=UNKNOWN_STRING_VALUE)])
    assert found == [] and len(notes) == 1 and notes[0].startswith("s3-buckets-encrypted: can't run")


# ------------------------------------------------------------------ GCP and Azure details


@pytest.mark.parametrize(("period", "limit", "bad"), [
    ("7776000s", 90, False), ("86400s", 90, False), ("7776000.5s", 90, True), ("7776001s", 90, True),
    ("7776000s", 30, True), ("2592000s", 30, False), ("90d", 90, True),
])
def test_gcp_rotation_period_limit(period, limit, bad):
    key = resource("gcp:kms/cryptoKey:CryptoKey", "k", {"rotationPeriod": period})
    assert bool(messages([key], {"key-rotation": {"maxRotationDays": limit}})) is bad


def test_gcp_keys_that_cannot_rotate_are_skipped():
    for purpose in ("ASYMMETRIC_SIGN", "ASYMMETRIC_DECRYPT", "MAC", "RAW_ENCRYPT_DECRYPT"):
        assert messages([resource("gcp:kms/cryptoKey:CryptoKey", "k", {"purpose": purpose})]) == []


def test_gcp_secret_needs_a_key_on_every_replica():
    def secret(replicas):
        return resource("gcp:secretmanager/secret:Secret", "s", {"replication": {"userManaged": {"replicas": replicas}}})
    cmek = {"kmsKeyName": GKEY}
    assert messages([secret([{"location": "europe-west1", "customerManagedEncryption": cmek}])]) == []
    [message] = messages([secret([{"location": "europe-west1", "customerManagedEncryption": cmek}, {"location": "us-east1"}])])
    assert "['us-east1']" in message
    assert len(messages([resource("gcp:secretmanager/secret:Secret", "s", {"replication": {}})])) == 1


def test_azure_key_sources_are_case_insensitive():
    account = resource("azure-native:storage:StorageAccount", "st", {"encryption": {
        "keySource": "Microsoft.KeyVault", "requireInfrastructureEncryption": True,
        "keyVaultProperties": {"keyName": "orders-cmk", "keyVaultUri": "https://orders-prod-kv.vault.azure.net/"}}})
    bus = resource("azure-native:servicebus:Namespace", "bus", {"sku": {"name": "Premium"}, "encryption": {
        "keySource": "microsoft.keyvault",
        "keyVaultProperties": [{"keyName": "orders-cmk", "keyVaultUri": "https://orders-prod-kv.vault.azure.net/"}]}})
    assert messages([account, bus]) == []


def test_azure_storage_cmk_needs_key_vault_properties():
    account = resource("azure-native:storage:StorageAccount", "st", {"encryption": {
        "keySource": "Microsoft.Keyvault", "requireInfrastructureEncryption": True}})
    [message] = messages([account])
    assert "encryption.keyVaultProperties is not set" in message


def test_azure_key_rotation_accepts_a_rotate_before_expiry():
    policy = {"attributes": {"expiryTime": "P1Y"},
              "lifetimeActions": [{"action": {"type": "Rotate"}, "trigger": {"timeBeforeExpiry": "P30D"}}]}
    assert messages([resource("azure-native:keyvault:Key", "k", {"properties": {"kty": "RSA", "rotationPolicy": policy}})]) == []
    no_trigger = {"lifetimeActions": [{"action": {"type": "rotate"}, "trigger": {}}]}
    assert len(messages([resource("azure-native:keyvault:Key", "k", {"properties": {"rotationPolicy": no_trigger}})])) == 1


def test_key_vault_soft_delete_and_purge_protection():
    def vault(**props):
        return resource("azure-native:keyvault:Vault", "kv", {"properties": {"tenantId": "t", **props}})
    assert messages([vault(enablePurgeProtection=True)]) == []
    assert len(messages([vault(enableSoftDelete=False, enablePurgeProtection=False)])) == 2


def test_s3_weak_configuration_is_reported_even_when_the_bucket_name_is_unknown():
    b = bucket()
    found, notes = violations([b, sse(b, "AES256", None, bucket_value=UNKNOWN_STRING_VALUE)])
    assert notes == [] and len(found) == 1
    assert "S3 encryption configuration 'uploads-encryption'" in found[0].message and "for bucket 'uploads'" in found[0].message
