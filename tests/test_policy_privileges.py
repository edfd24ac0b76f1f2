"""Actions judged by what they can do (policy/privileges.py, policy/role_meaning.py): what the
corpus and fixtures don't pin down - the catalogues' classification, exceptions, config, shapes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from components.azure.identity import (
    BLOB_CONTRIBUTOR,
    BLOB_OWNER,
    CRYPTO_ENCRYPTION_USER,
    METRICS_PUBLISHER,
    QUEUE_CONTRIBUTOR,
    QUEUE_SENDER,
    SECRETS_USER,
    TABLE_CONTRIBUTOR,
)
from components.gcp.identity import LOG_WRITER, PUBLISHER, RUN_INVOKER, SECRET_ACCESSOR, SUBSCRIBER, TABLE_ROLES
from policy import aws_actions, azure_roles, gcp_roles, privileges
from policy.offline import evaluate
from policy.role_meaning import azure_grants, azure_match, builtin_azure_grants, gcp_escalation

ROOT = Path(__file__).resolve().parent.parent
LAMBDA_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
STATES_TRUST = LAMBDA_TRUST.replace("lambda.amazonaws.com", "states.amazonaws.com")
SA = "serviceAccount:create-order@orders-prod.iam.gserviceaccount.com"


def resource(typ: str, name: str, inputs: dict, outputs: dict | None = None, deps: dict | None = None) -> dict:
    return {"urn": f"urn:pulumi:prod::anycloud::{typ}::{name}", "type": typ, "custom": True, "inputs": inputs,
            "outputs": {**inputs, **(outputs or {})}, "dependencies": [], "propertyDependencies": deps or {}}


def role(name: str, actions: list[str], trust: str | None = LAMBDA_TRUST, resource_arn: str = "*") -> dict:
    inputs = {"inlinePolicies": [{"name": "p", "policy": json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": actions, "Resource": resource_arn}]})}]}
    if trust is not None:
        inputs["assumeRolePolicy"] = trust
    return resource("aws:iam/role:Role", name, inputs)


def run(resources: list[dict], policy: str, config: dict | None = None) -> list[str]:
    report = evaluate(resources, "prod", config=config, policies=privileges.POLICIES)
    return [v.message for v in report.violations if v.policy == policy]


AWS = "aws-iam-workload-no-permissions-management"
GCP = "gcp-iam-workload-no-escalation"
AZURE = "azure-no-privileged-workload-roles"


# ------------------------------------------------------------------ AWS


@pytest.mark.parametrize("action, why", [
    ("iam:PutRolePolicy", "Permissions management"),
    ("kms:PutKeyPolicy", "Permissions management"),
    ("s3:PutAccountPublicAccessBlock", "Permissions management"),
    ("iam:PassRole", "a write on an IAM role"),
    ("sts:AssumeRole", "a write on an IAM role"),
    ("iam:CreateAccessKey", "a write on an IAM user"),
    ("iam:AddUserToGroup", "a write on an IAM group"),
    ("ssm:UpdateManagedInstanceRole", "a write on an IAM role"),
    ("organizations:LeaveOrganization", "a write on the account or organization"),
    ("account:CloseAccount", "a write on the account or organization"),
])
def test_aws_escalation_is_read_from_the_catalogue(action, why):
    assert aws_actions.escalation(action).startswith(why)
    assert aws_actions.escalation(action.upper()) == aws_actions.escalation(action)


@pytest.mark.parametrize("action", ["dynamodb:GetItem", "sqs:SendMessage", "iam:GetRole", "iam:ListRoles",
                                    "kms:Decrypt", "lambda:InvokeFunction", "xray:PutTraceSegments", "nosuch:Thing"])
def test_aws_data_and_read_actions_do_not_escalate(action):
    assert aws_actions.escalation(action) is None


def test_aws_wildcards_are_expanded_before_judging():
    (message,) = run([role("fn", ["iam:Put*"], resource_arn="arn:aws:iam::123456789012:role/fn")], AWS)
    assert '"iam:PutGroupPolicy" (from "iam:Put*"), Permissions management' in message
    (everything,) = run([role("fn", ["*"])], AWS)
    assert '"*", every action of every service' in everything


def test_aws_documented_service_needs_are_kept_to_that_service():
    """Step Functions' log delivery (logs:PutResourcePolicy is Permissions management) is fine for the
    roles Step Functions assumes, not for a function's."""
    delivery = ["logs:CreateLogDelivery", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies"]
    assert run([role("flow", delivery, STATES_TRUST)], AWS) == []
    (message,) = run([role("fn", delivery)], AWS)
    assert '"logs:PutResourcePolicy", Permissions management' in message and "lambda.amazonaws.com assumes" in message
    both = STATES_TRUST.replace('"states.amazonaws.com"', '["states.amazonaws.com", "lambda.amazonaws.com"]')
    assert run([role("flow", delivery, both)], AWS)


def test_aws_reviewed_exceptions_come_from_config():
    launcher = role("launcher", ["iam:PassRole"], resource_arn="arn:aws:iam::123456789012:role/task")
    assert run([launcher], AWS)
    assert run([launcher], AWS, config={"workloadPermissionsActions": ["IAM:PassRole"]}) == []


def test_aws_who_is_a_workload():
    deployer_trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
        "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"}}]})
    grant = ["iam:PutRolePolicy"]
    assert run([role("ci", grant, deployer_trust)], AWS) == []
    assert run([role("unknown-trust", grant, None)], AWS), "a trust the pack cannot read is taken as a workload's"
    human = resource("aws:iam/user:User", "alice", {"name": "alice"})
    policy = resource("aws:iam/userPolicy:UserPolicy", "alice-p", {"user": "alice", "policy": json.dumps(
        {"Statement": [{"Effect": "Allow", "Action": grant, "Resource": "arn:aws:iam::123456789012:role/x"}]})})
    assert run([human, policy], AWS) == []
    key = resource("aws:iam/accessKey:AccessKey", "alice-key", {"user": "alice"})
    assert run([human, policy, key], AWS)


def test_aws_managed_policy_holders_by_attachment():
    policy = resource("aws:iam/policy:Policy", "p", {"policy": json.dumps({"Statement": [
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::123456789012:role/x"}]})},
        outputs={"arn": "arn:aws:iam::123456789012:policy/p"})
    group = resource("aws:iam/groupPolicyAttachment:GroupPolicyAttachment", "admins",
                     {"group": "admins", "policyArn": "arn:aws:iam::123456789012:policy/p"})
    assert run([policy, group], AWS) == [], "a policy only a group holds is people's"
    (alone,) = run([policy], AWS)
    assert "to nothing in the stack yet" in alone
    lambda_role = resource("aws:iam/role:Role", "fn", {"assumeRolePolicy": LAMBDA_TRUST}, outputs={"name": "fn-1a2b"})
    attach = resource("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "fn-p",
                      {"role": "fn-1a2b"}, deps={"role": [lambda_role["urn"]], "policyArn": [policy["urn"]]})
    (attached,) = run([policy, group, lambda_role, attach], AWS)
    assert 'to role "fn", which lambda.amazonaws.com assumes' in attached


def test_aws_deny_statements_never_count():
    deny = resource("aws:iam/role:Role", "fn", {"assumeRolePolicy": LAMBDA_TRUST, "inlinePolicies": [{
        "name": "guard", "policy": json.dumps({"Statement": [{"Effect": "Deny", "Action": "iam:*", "Resource": "*"}]})}]})
    assert run([deny], AWS) == []


# ------------------------------------------------------------------ GCP


def member(role_name: str, who: str = SA, typ: str = "gcp:projects/iAMMember:IAMMember", **extra) -> dict:
    return resource(typ, f"grant-{len(role_name)}-{abs(hash(who)) % 1000}", {"role": role_name, "member": who, **extra})


def test_gcp_escalation_permissions():
    assert gcp_escalation("pubsub.topics.setIamPolicy") == "sets IAM policy"
    assert gcp_escalation("iam.serviceAccounts.actAs") == "acts as or mints credentials for service accounts"
    assert gcp_escalation("storage.hmacKeys.create") == "acts as or mints credentials for service accounts"
    assert gcp_escalation("iam.roles.update") == "edits custom roles"
    assert gcp_escalation("iam.roles.get") is None and gcp_escalation("pubsub.topics.getIamPolicy") is None


def test_gcp_renderer_roles_hold_no_escalating_permission():
    for role_name in (PUBLISHER, SUBSCRIBER, SECRET_ACCESSOR, RUN_INVOKER, LOG_WRITER, *TABLE_ROLES.values(),
                      "roles/storage.objectViewer", "roles/artifactregistry.writer",
                      "roles/cloudkms.cryptoKeyEncrypterDecrypter", "roles/workflows.invoker"):
        assert role_name not in gcp_roles.ROLES, role_name
    assert gcp_roles.ROLES["roles/iam.serviceAccountTokenCreator"]  # the one the renderer gives the Pub/Sub agent


def test_gcp_who_is_a_workload():
    grant = "roles/iam.serviceAccountUser"
    assert run([member(grant)], GCP)
    assert run([member(grant, "serviceAccount:service-401234567890@gcp-sa-pubsub.iam.gserviceaccount.com")], GCP) == []
    assert run([member(grant, "serviceAccount:401234567890@cloudservices.gserviceaccount.com")], GCP) == []
    assert run([member(grant, "group:platform@example.com")], GCP) == []
    # a deploy account becomes one only for a federated member, not for another service account
    deployer = "serviceAccount:deployer@orders-prod.iam.gserviceaccount.com"
    becomes = lambda who: member("roles/iam.workloadIdentityUser", who, "gcp:serviceaccount/iAMMember:IAMMember",  # noqa: E731
                                 serviceAccountId="projects/orders-prod/serviceAccounts/deployer@orders-prod.iam.gserviceaccount.com")
    pool = "principalSet://iam.googleapis.com/projects/401234567890/locations/global/workloadIdentityPools/gh/*"
    assert run([becomes(pool), member(grant, deployer)], GCP) == []
    assert len(run([becomes(SA), member(grant, deployer)], GCP)) == 2


def test_gcp_custom_roles_are_read_when_the_stack_defines_them():
    custom = resource("gcp:projects/iAMCustomRole:IAMCustomRole", "helper",
                      {"project": "orders-prod", "roleId": "helper", "permissions": ["iam.serviceAccounts.signJwt"]})
    (message,) = run([custom, member("projects/orders-prod/roles/helper")], GCP)
    assert "iam.serviceAccounts.signJwt (acts as or mints credentials for service accounts)" in message
    assert run([member("projects/orders-prod/roles/elsewhere")], GCP) == []  # permissions not known here


def test_gcp_policy_data_bindings():
    policy = resource("gcp:storage/bucketIAMPolicy:BucketIAMPolicy", "bucket-policy", {"bucket": "b", "policyData": json.dumps(
        {"bindings": [{"role": "roles/storage.admin", "members": [SA]}]})})
    (message,) = run([policy], GCP)
    assert 'policyData.bindings[0] role "roles/storage.admin" holds storage.buckets.setIamPolicy' in message


# ------------------------------------------------------------------ Azure


def assignment(guid: str, principal_type: str | None = "ServicePrincipal", **extra) -> dict:
    inputs = {"principalId": "6b0e7f4a-1c2d-4e3f-8a9b-0c1d2e3f4a5b", "scope": "/subscriptions/s/resourceGroups/rg/"
              "providers/Microsoft.Storage/storageAccounts/a",
              "roleDefinitionId": f"/providers/Microsoft.Authorization/roleDefinitions/{guid}", **extra}
    if principal_type:
        inputs["principalType"] = principal_type
    return resource("azure-native:authorization:RoleAssignment", f"ra-{guid[:8]}", inputs)


def test_azure_wildcards_and_not_actions():
    assert azure_match("Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
                       "microsoft.managedidentity/userassignedidentities/assign/action")
    assert azure_match("*/write", "Microsoft.Authorization/roleAssignments/write")
    assert not azure_match("Microsoft.Storage/storageAccounts/blobServices/containers/*",
                           "Microsoft.Storage/storageAccounts/listKeys/action")
    ops = azure_roles.OPERATIONS
    contributor = builtin_azure_grants("b24988ac-6180-42a0-ab88-20f7382dd24c")[1]
    assert "microsoft.authorization/roleassignments/write" not in contributor["assigns or defines roles"]  # notActions
    assert "microsoft.storage/storageaccounts/listkeys/action" in contributor["reads shared keys or app secrets"]
    assert azure_grants([{"actions": ["*"], "notActions": ["*/listKeys/action", "*/regenerateKey/action"]}], ops).get(
        "reads shared keys or app secrets", []) == [o for o in azure_grants([{"actions": ["*"]}], ops)[
            "reads shared keys or app secrets"] if "listkeys" not in o and "regeneratekey" not in o]


def test_azure_renderer_roles_hand_nothing_out():
    for guid in (QUEUE_SENDER, QUEUE_CONTRIBUTOR, BLOB_OWNER, BLOB_CONTRIBUTOR, TABLE_CONTRIBUTOR, METRICS_PUBLISHER,
                 SECRETS_USER, CRYPTO_ENCRYPTION_USER):
        assert builtin_azure_grants(guid) is None, guid
        assert guid in azure_roles.DATA_ROLES, guid


def test_azure_only_workload_identities_are_judged():
    owner = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
    assert run([assignment(owner)], AZURE)
    assert run([assignment(owner, None)], AZURE)
    assert run([assignment(owner, "User")], AZURE) == []
    assert run([assignment("00000000-0000-0000-0000-00000000dead")], AZURE) == []  # not a built-in, not in the stack


def test_azure_custom_role_through_its_property_dependency():
    definition = resource("azure-native:authorization:RoleDefinition", "grants", {
        "roleName": "grants", "permissions": [{"actions": ["Microsoft.Authorization/roleAssignments/*"]}]})
    ra = assignment("unknown")
    ra["propertyDependencies"] = {"roleDefinitionId": [definition["urn"]]}
    (message,) = run([definition, ra], AZURE)
    assert 'custom role "grants"' in message and "assigns or defines roles" in message


# ------------------------------------------------------------------ catalogues


def test_catalogues_say_where_they_come_from():
    for module in (gcp_roles, azure_roles):
        assert module.SOURCE == "https://github.com/iann0036/iam-dataset"
        assert len(module.REVISION) == 40 and module.DATE[:2] == "20"


def test_the_generator_rebuilds_the_catalogues_from_the_dataset(tmp_path):
    dataset = tmp_path / "iam-dataset"
    (dataset / "gcp" / "roles").mkdir(parents=True)
    (dataset / "azure").mkdir()
    roles = {"roles/pubsub.admin": ["pubsub.topics.publish", "pubsub.topics.setIamPolicy"],
             "roles/pubsub.publisher": ["pubsub.topics.publish"]}
    for name, permissions in roles.items():
        (dataset / "gcp" / "roles" / f"{name[6:]}.json").write_text(
            json.dumps({"name": name, "includedPermissions": permissions}))
    (dataset / "azure" / "built-in-roles-raw.json").write_text(json.dumps([
        {"name": "17d1049b-9a84-46fb-8f53-869881c3d3ab", "roleName": "Storage Account Contributor",
         "permissions": [{"actions": ["Microsoft.Storage/storageAccounts/listkeys/action"]}]},
        {"name": "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a", "roleName": "Storage Queue Data Message Sender",
         "permissions": [{"actions": [], "dataActions": ["Microsoft.Storage/storageAccounts/queueServices/queues/messages/add/action"]}]},
    ]))
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run([sys.executable, str(ROOT / "scripts" / "role_catalogues.py"), str(dataset), "--revision", "a" * 40,
                    "--date", "2026-01-02", "--out", str(out)], check=True, capture_output=True)
    gcp: dict = {}
    exec((out / "gcp_roles.py").read_text(), gcp)
    assert gcp["ROLES"] == {"roles/pubsub.admin": ("pubsub.topics.setIamPolicy",)} and gcp["DATE"] == "2026-01-02"
    azure: dict = {}
    exec((out / "azure_roles.py").read_text(), azure)
    assert list(azure["SENSITIVE_ROLES"]) == ["17d1049b-9a84-46fb-8f53-869881c3d3ab"]
    assert set(azure["DATA_ROLES"]) == {"17d1049b-9a84-46fb-8f53-869881c3d3ab", "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a"}
    assert "Microsoft.Storage/storageAccounts/listkeys/action" in azure["OPERATIONS"]
