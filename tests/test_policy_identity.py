"""Least-privilege policies: what the fixtures don't pin down (config, Deny, unknowns, shapes, edge cases)."""

from __future__ import annotations

import json

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from policy import aws_actions, identity, privileges
from policy.offline import evaluate

STACK = "urn:pulumi:prod::anycloud::pulumi:pulumi:Stack::anycloud-prod"
ACCOUNT = "123456789012"
TABLE = f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/orders-1c168ad"
SUB = "6f1c2b7e-3d4a-4c8e-9b1f-2a7d5e8c9f10"
RG_ID = f"/subscriptions/{SUB}/resourceGroups/orders"


def resource(typ: str, name: str, inputs: dict, deps: dict | None = None, outputs: dict | None = None) -> dict:
    return {"urn": f"urn:pulumi:prod::anycloud::{typ}::{name}", "type": typ, "custom": True, "inputs": inputs,
            "outputs": outputs or {}, "parent": STACK, "protect": False, "dependencies": [],
            "propertyDependencies": deps or {}}


def doc(*statements) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, res="*", **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": res, **extra}


def role_policy(*statements, name="fn-policy") -> dict:
    return resource("aws:iam/rolePolicy:RolePolicy", name, {"role": "fn-role", "policy": doc(*statements)})


def run(resources, policy: str, environment="prod", config=None):
    """(messages of `policy`, notes) over the identity and privilege policies only."""
    report = evaluate(resources, environment, config=config, policies=identity.POLICIES + privileges.POLICIES)
    return [v.message for v in report.violations if v.policy == policy], report.notes


# ------------------------------------------------------------------ AWS


def test_resource_star_is_for_the_unscoped_actions_the_rendering_needs():
    """Telemetry and Step Functions log delivery by default; an action the catalogue lists without
    resource types is not fine on "*" for that alone (it reaches every such resource)."""
    for action in ("xray:PutTraceSegments", "xray:PutTelemetryRecords", "logs:CreateLogDelivery", "logs:DescribeLogGroups"):
        assert aws_actions.resource_level(action) is False, action
        assert run([role_policy(allow([action]))], "aws-iam-scoped-resources")[0] == []
    (listing,), _ = run([role_policy(allow(["ec2:DescribeInstances"]))], "aws-iam-scoped-resources")
    assert '"ec2:DescribeInstances" (no resource type: every resource it acts on in the account)' in listing
    (scoped,), _ = run([role_policy(allow(["dynamodb:GetItem"]))], "aws-iam-scoped-resources")
    assert '"dynamodb:GetItem" (can name its resources)' in scoped
    policy = next(p for p in identity.POLICIES if p.name == "aws-iam-scoped-resources")
    assert policy.config_schema.properties["unscopedActions"]["default"] == []  # config adds to the defaults


def test_put_metric_data_on_star_only_under_a_namespace_condition():
    metrics = ["cloudwatch:PutMetricData"]
    for condition in (None, {"StringLike": {"cloudwatch:namespace": "*"}},
                      {"StringNotEquals": {"cloudwatch:namespace": "AWS/Lambda"}},
                      {"StringEqualsIfExists": {"cloudwatch:namespace": "orders"}}):
        extra = {"Condition": condition} if condition else {}
        (message,), _ = run([role_policy(allow(metrics, **extra))], "aws-iam-scoped-resources")
        assert 'without a condition naming cloudwatch:namespace' in message
    for condition in ({"StringEquals": {"cloudwatch:namespace": "orders-prod"}},
                      {"StringLike": {"CloudWatch:Namespace": ["orders-*"]}}):
        assert run([role_policy(allow(metrics, Condition=condition))], "aws-iam-scoped-resources")[0] == []


def test_unscoped_actions_are_configurable_pack_wide_or_per_policy():
    enis = role_policy(allow(["ec2:DescribeNetworkInterfaces", "ec2:CreateNetworkInterface"]))
    (message,), _ = run([enis], "aws-iam-scoped-resources")
    assert '"ec2:DescribeNetworkInterfaces" (no resource type' in message and '"ec2:CreateNetworkInterface" (can' in message
    extra = ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces"]
    assert run([enis], "aws-iam-scoped-resources", config={"unscopedActions": extra})[0] == []
    telemetry = role_policy(allow(["xray:PutTraceSegments", "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces"]))
    assert run([telemetry], "aws-iam-scoped-resources", config={"unscopedActions": extra})[0] == []
    assert run([enis], "aws-iam-scoped-resources",
               config={"aws-iam-scoped-resources": {"unscopedActions": extra}})[0] == []
    # an action the catalogue does not know (a typo) is not let onto "*"
    (typo,), _ = run([role_policy(allow(["xray:PutTraceSegment"]))], "aws-iam-scoped-resources")
    assert '"xray:PutTraceSegment" (not in AWS\'s catalogue) on Resource "*"' in typo


def test_wildcard_actions_are_read_with_the_catalogue_in_any_case():
    (message,), _ = run([role_policy(allow(["DynamoDB:Get*"], [TABLE]))], "aws-iam-no-wildcard-actions")
    assert '"DynamoDB:Get*" (DynamoDB:Get* grants 5 actions today: dynamodb:GetAbacStatus, dynamodb:GetItem' in message
    (star,), _ = run([role_policy(allow(["*"], [TABLE]))], "aws-iam-no-wildcard-actions")
    assert "* matches every action of every service" in star


def test_allow_list_matching_ignores_case_as_iam_does():
    assert run([role_policy(allow(["XRay:puttracesegments", "LOGS:DescribeLogGroups"]))], "aws-iam-scoped-resources")[0] == []


def test_deny_statements_are_never_violations():
    deny = {"Effect": "Deny", "Action": "*", "NotResource": "arn:aws:s3:::orders-audit/*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    deny_not_action = {"Effect": "Deny", "NotAction": ["sts:GetCallerIdentity"], "Resource": "arn:aws:logs:*:*:*"}
    resources = [role_policy(deny, deny_not_action)]
    for policy in ("aws-iam-no-wildcard-actions", "aws-iam-scoped-resources"):
        assert run(resources, policy)[0] == []


def test_kms_key_policies_are_resource_policies_and_not_read():
    key = resource("aws:kms/key:Key", "orders-key", {"enableKeyRotation": True, "policy": doc(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"})})
    report = evaluate([key], policies=identity.POLICIES)
    assert report.violations == []
    for policy in identity.POLICIES:
        assert "aws:kms/key:Key" not in policy.resource_types


@pytest.mark.parametrize("arn, ok", [
    (f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/anycloud/orders-prod/functions/x:log-stream:*", True),
    (f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/anycloud/orders-prod/*", True),
    (f"{TABLE}/index/*", True),
    ("arn:aws:s3:::orders-receipts/*", True),
    (f"arn:aws:states:eu-west-1:{ACCOUNT}:execution:orders-prod-fulfil-order:*", True),
    ("arn:aws:dynamodb:*:*:table/orders", False),
    ("arn:aws:sqs:us-east-1:*:orders", False),
    (f"arn:aws:*:eu-west-1:{ACCOUNT}:orders", False),
    (f"arn:aws:sqs:eu-west-1:{ACCOUNT}:*", False),
    ("arn:aws:s3:::*", False),
    (f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:*", False),
    (f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:*", False),
    ("arn:*", False),
    (f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/*/index/*", False),
    (f"arn:aws:sqs:eu-west-1:{ACCOUNT}:queue-*", False),
    (f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:orders-*", False),
    (f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:*:log-stream:x", False),
    (f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:orders-prod-get:*", True),
])
def test_arn_wildcards_in_partition_service_region_account_or_whole_resource(arn, ok):
    messages, _ = run([role_policy(allow(["sqs:SendMessage"], [arn]))], "aws-iam-scoped-resources")
    assert (messages == []) is ok, messages


def test_object_shaped_documents_and_inline_policies_are_read():
    # PolicyDocumentArgs: the engine sees the document as an object, not a JSON string
    obj = resource("aws:iam/policy:Policy", "tables", {"policy": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["dynamodb:*"], "Resource": [TABLE]}]}})
    (message,), _ = run([obj], "aws-iam-no-wildcard-actions")
    assert 'aws:iam/policy:Policy "tables": policy statement 0 allows wildcard action(s) "dynamodb:*"' in message
    single = resource("aws:iam/role:Role", "fn-role", {
        "assumeRolePolicy": doc({"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}),
        "inlinePolicies": [{"name": "read", "policy": doc({"Sid": "Read", "Effect": "Allow", "Action": "dynamodb:GetItem",
                                                           "Resource": "*"})}]})
    (message,), _ = run([single], "aws-iam-scoped-resources")
    assert message.startswith('aws:iam/role:Role "fn-role": inlinePolicies[0] ("read").policy statement 0 (Sid "Read") '
                              'allows "dynamodb:GetItem" (can name its resources) on Resource "*"')
    assert message.endswith("Fix: " + next(p for p in identity.POLICIES if p.name == "aws-iam-scoped-resources").remediation_steps)


def test_unknown_documents_become_a_note_not_a_crash():
    unknown = resource("aws:iam/rolePolicy:RolePolicy", "fn-policy", {"role": "fn-role", "policy": UNKNOWN_STRING_VALUE})
    messages, notes = run([unknown], "aws-iam-scoped-resources")
    assert messages == []
    assert any(n.startswith("aws-iam-scoped-resources: can't run on urn:pulumi:prod::anycloud::aws:iam/rolePolicy") for n in notes)


def test_identity_rules_hold_in_dev_too():
    bad = role_policy(allow(["sqs:*"], "*"))
    for env in ("dev", "prod"):
        report = evaluate([bad], env, policies=identity.POLICIES)
        assert {v.policy for v in report.mandatory} == {"aws-iam-no-wildcard-actions", "aws-iam-scoped-resources"}


def test_aws_managed_policies_are_judged_by_what_they_grant_not_their_name():
    def attach(arn):
        return resource("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "a", {"role": "fn-role", "policyArn": arn})

    for arn in ("arn:aws:iam::aws:policy/AdministratorAccess", "arn:aws:iam::aws:policy/AdministratorAccess-Amplify",
                "arn:aws:iam::aws:policy/PowerUserAccess", "arn:aws:iam::aws:policy/AWSLambda_FullAccess",
                "arn:aws-us-gov:iam::aws:policy/AmazonS3FullAccess", "arn:aws:iam::aws:policy/IAMFullAccess",
                # service-wide reads and read-writes without FullAccess in the name (issue 13)
                "arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
                "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"):
        assert run([attach(arn)], "aws-iam-no-broad-managed-policies")[0], arn
    reviewed = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
    assert run([attach(reviewed)], "aws-iam-no-broad-managed-policies",
               config={"allowedManagedPolicies": ["AmazonS3ReadOnlyAccess"]})[0] == []
    for arn in ("arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess",  # X-Ray writes only: nothing to scope
                f"arn:aws:iam::{ACCOUNT}:policy/AdministratorAccess-orders"):  # customer-managed: read by the document checks
        assert run([attach(arn)], "aws-iam-no-broad-managed-policies")[0] == [], arn
    exclusive = resource("aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive", "x",
                         {"roleName": "fn-role", "policyArns": ["arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess"]})
    assert run([exclusive], "aws-iam-no-broad-managed-policies")[0]


def test_lambda_permissions_for_accounts_orgs_and_function_urls():
    def perm(**inputs):
        return resource("aws:lambda/permission:Permission", "p", {"action": "lambda:InvokeFunction", "function": "fn", **inputs})

    assert run([perm(principal=ACCOUNT)], "aws-lambda-permission-source-arn")[0] == []
    assert run([perm(principal="*", principalOrgId="o-a1b2c3d4e5")], "aws-lambda-permission-source-arn")[0] == []
    assert run([perm(principal="s3.amazonaws.com", sourceArn="arn:aws:s3:::orders-uploads",
                     sourceAccount=ACCOUNT)], "aws-lambda-permission-source-arn")[0] == []
    url = perm(principal="*", action="lambda:InvokeFunctionUrl", functionUrlAuthType="AWS_IAM")
    assert run([url], "aws-lambda-permission-source-arn")[0] == []  # function URLs: the exposure policies' concern
    assert run([perm(principal="events.amazonaws.com")], "aws-lambda-permission-source-arn")[0]


def test_trust_policies_with_only_service_principals():
    def role(principal, **statement):
        return resource("aws:iam/role:Role", "r", {"assumeRolePolicy": doc(
            {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole", **statement})})

    assert run([role({"Service": ["lambda.amazonaws.com", "edgelambda.amazonaws.com"]})], "aws-iam-service-principal-trust")[0] == []
    assert run([role("*")], "aws-iam-service-principal-trust")[0]
    assert run([role({"Service": "*"})], "aws-iam-service-principal-trust")[0]
    (message,), _ = run([resource("aws:iam/role:Role", "r", {"assumeRolePolicy": doc(
        {"Effect": "Allow", "NotPrincipal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"})})],
        "aws-iam-service-principal-trust")
    assert "NotPrincipal" in message
    # a trust policy may also not use wildcard actions
    assert run([role({"Service": "lambda.amazonaws.com"}, Action="sts:*")], "aws-iam-no-wildcard-actions")[0]


def function(name: str, role, role_urn: str | None) -> dict:
    return resource("aws:lambda/function:Function", name, {"role": role, "runtime": "python3.13"},
                    deps={"role": [role_urn] if role_urn else []})


ROLE_URN = "urn:pulumi:prod::anycloud::aws:iam/role:Role::shared-role"


def test_shared_roles_are_found_during_preview_through_property_dependencies():
    role = resource("aws:iam/role:Role", "shared-role", {"assumeRolePolicy": doc(
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"})})
    # role ARNs are unknown until the role exists; the dependency still names the role
    a = function("a", UNKNOWN_STRING_VALUE, ROLE_URN)
    b = function("b", UNKNOWN_STRING_VALUE, ROLE_URN)
    messages, notes = run([role, a, b], "aws-one-role-per-function")
    assert len(messages) == 2 and notes == []
    assert messages[0].startswith('aws:lambda/function:Function "a": shares one role with function "b"')
    # a known ARN and an unknown value depending on the same role are the same role
    c = function("c", f"arn:aws:iam::{ACCOUNT}:role/shared", ROLE_URN)
    d = function("d", f"arn:aws:iam::{ACCOUNT}:role/shared", None)
    assert len(run([role, a, c, d], "aws-one-role-per-function")[0]) == 3


def test_a_role_computed_from_several_roles_is_matched_by_value_only():
    other_urn = "urn:pulumi:prod::anycloud::aws:iam/role:Role::other-role"
    a = function("a", f"arn:aws:iam::{ACCOUNT}:role/shared", None)
    a["propertyDependencies"]["role"] = [ROLE_URN, other_urn]
    b = function("b", f"arn:aws:iam::{ACCOUNT}:role/other", other_urn)
    roles = [resource("aws:iam/role:Role", n, {}) for n in ("shared-role", "other-role")]
    assert run([*roles, a, b], "aws-one-role-per-function")[0] == []


def test_an_unknown_role_without_dependencies_skips_the_stack_policy_with_a_note():
    a = function("a", UNKNOWN_STRING_VALUE, None)
    b = function("b", f"arn:aws:iam::{ACCOUNT}:role/b", None)
    messages, notes = run([a, b], "aws-one-role-per-function")
    assert messages == [] and any(n.startswith("aws-one-role-per-function: can't run:") for n in notes)


# ------------------------------------------------------------------ GCP


def test_gcp_iam_types_are_the_concrete_pulumi_gcp_tokens():
    types = set(identity.GCP_IAM_TYPES)
    for token in ("gcp:projects/iAMMember:IAMMember", "gcp:projects/iAMBinding:IAMBinding",
                  "gcp:pubsub/topicIAMMember:TopicIAMMember", "gcp:pubsub/subscriptionIAMBinding:SubscriptionIAMBinding",
                  "gcp:storage/bucketIAMMember:BucketIAMMember", "gcp:secretmanager/secretIamMember:SecretIamMember",
                  "gcp:cloudfunctionsv2/functionIamMember:FunctionIamMember",
                  "gcp:cloudrunv2/serviceIamMember:ServiceIamMember", "gcp:serviceaccount/iAMMember:IAMMember",
                  "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", "gcp:apigateway/gatewayIamBinding:GatewayIamBinding"):
        assert token in types, token
    assert len(types) == 474  # 158 resources x Member/Binding/Policy in pulumi-gcp 10.2
    assert set(identity.GCP_HIERARCHY_IAM_TYPES) == {
        f"gcp:{m}/iAM{k}:IAM{k}" for m in ("projects", "folder", "organizations") for k in ("Member", "Binding", "Policy")}


def iam_member(typ: str, logical: str, **inputs) -> dict:
    return resource(typ, logical, inputs)


def test_public_members_allowed_only_on_declared_public_resources():
    invoker = iam_member("gcp:cloudrunv2/serviceIamMember:ServiceIamMember", "gateway-invoker", project="p",
                         location="europe-west1", name="projects/p/locations/europe-west1/services/orders-prod-api",
                         role="roles/run.invoker", member="allUsers")
    assert run([invoker], "gcp-iam-no-public-members")[0]
    for declared in (["gateway-invoker"], ["orders-prod-api"]):  # the IAM resource, or what it grants on
        assert run([invoker], "gcp-iam-no-public-members", config={"publicResources": declared})[0] == []
    assert run([invoker], "gcp-iam-no-public-members", config={"publicResources": ["other"]})[0]
    policy = iam_member("gcp:storage/bucketIAMPolicy:BucketIAMPolicy", "bucket-policy", bucket="b", policyData=json.dumps(
        {"bindings": [{"role": "roles/storage.objectViewer", "members": ["allAuthenticatedUsers"]}]}))
    (message,), _ = run([policy], "gcp-iam-no-public-members")
    assert 'policyData.bindings[0] role "roles/storage.objectViewer" for "allAuthenticatedUsers"' in message
    acl = iam_member("gcp:storage/objectACL:ObjectACL", "receipt", bucket="b", object="r.pdf", predefinedAcl="publicRead")
    assert run([acl], "gcp-iam-no-public-members")[0]


def test_project_data_roles_need_a_real_condition_and_apply_to_folders_too():
    def grant(condition=None, typ="gcp:projects/iAMMember:IAMMember"):
        inputs = {"role": "roles/storage.objectAdmin", "member": "serviceAccount:fn@p.iam.gserviceaccount.com"}
        inputs |= {"condition": condition} if condition is not None else {}
        inputs |= {"folder": "folders/1234567890"} if "folder" in typ else {"project": "p"}
        return iam_member(typ, "g", **inputs)

    assert run([grant()], "gcp-iam-project-data-roles-conditional")[0]
    assert run([grant({"title": "empty", "expression": ""})], "gcp-iam-project-data-roles-conditional")[0]
    assert run([grant({"title": "one bucket", "expression": 'resource.name.startsWith("projects/_/buckets/b")'})],
               "gcp-iam-project-data-roles-conditional")[0] == []
    (message,), _ = run([grant(typ="gcp:folder/iAMMember:IAMMember")], "gcp-iam-project-data-roles-conditional")
    assert "on the whole folder" in message
    # on the resource itself no condition is needed
    bucket = iam_member("gcp:storage/bucketIAMMember:BucketIAMMember", "b", bucket="b", role="roles/storage.objectAdmin",
                        member="serviceAccount:fn@p.iam.gserviceaccount.com")
    assert run([bucket], "gcp-iam-project-data-roles-conditional")[0] == []


def test_gcp_function_accounts_unknown_during_preview_and_v1_functions():
    sa_urn = "urn:pulumi:prod::anycloud::gcp:serviceaccount/account:Account::shared"
    sa = resource("gcp:serviceaccount/account:Account", "shared", {"accountId": "shared", "project": "p"})
    fns = [resource("gcp:cloudfunctionsv2/function:Function", n, {"name": n, "location": "europe-west1",
                    "serviceConfig": {"serviceAccountEmail": UNKNOWN_STRING_VALUE}}, deps={"serviceConfig": [sa_urn]})
           for n in ("a", "b")]
    messages, notes = run([sa, *fns], "gcp-one-service-account-per-function")
    assert len(messages) == 2 and notes == []
    v1 = resource("gcp:cloudfunctions/function:Function", "legacy", {"name": "legacy", "runtime": "python312",
                  "serviceAccountEmail": "p@appspot.gserviceaccount.com"})
    (message,), _ = run([v1], "gcp-one-service-account-per-function")
    assert 'serviceAccountEmail is the default service account "p@appspot.gserviceaccount.com"' in message


# ------------------------------------------------------------------ Azure


def assignment(guid: str, scope: str, principal_type: str | None = "ServicePrincipal") -> dict:
    inputs = {"principalId": "3c1e8a52-7d4b-4f0a-9e61-2b5c8d7f4a13", "scope": scope,
              "roleDefinitionId": f"/providers/Microsoft.Authorization/roleDefinitions/{guid}"}
    if principal_type:
        inputs["principalType"] = principal_type
    return resource("azure-native:authorization:RoleAssignment", "ra", inputs)


OWNER = "8E3AF657-A8FF-443C-A75C-2FE8C4BCB635"  # ids compare case-insensitively
SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"


def test_privileged_roles_only_matter_for_workload_identities():
    assert run([assignment(OWNER, RG_ID)], "azure-no-privileged-workload-roles")[0]
    assert run([assignment(OWNER, RG_ID, None)], "azure-no-privileged-workload-roles")[0]
    assert run([assignment(OWNER, RG_ID, "Group")], "azure-no-privileged-workload-roles")[0] == []
    assert run([assignment("f58310d9-a9f6-439a-9e8d-f62e7b41a168", RG_ID)], "azure-no-privileged-workload-roles")[0]


@pytest.mark.parametrize("scope, level", [
    ("/", "the tenant root"),
    ("/providers/Microsoft.Management/managementGroups/platform", "a management group"),
    (f"/subscriptions/{SUB}", "a subscription"),
    (RG_ID, "a resource group"),
    (f"{RG_ID}/providers/Microsoft.KeyVault/vaults/orders-kv", None),
    (f"{RG_ID}/providers/Microsoft.KeyVault/vaults/orders-kv/secrets/payment-api-key", None),
])
def test_data_roles_at_each_scope(scope, level):
    messages, _ = run([assignment(SECRETS_USER, scope)], "azure-data-roles-resource-scope")
    if level is None:
        assert messages == []
    else:
        (message,) = messages
        assert f"Key Vault Secrets User ({SECRETS_USER}) is assigned at scope {json.dumps(scope)}, {level}" in message


def test_data_role_list_is_configurable():
    reader = "acdd72a7-3385-48ef-bd42-f606fba81ae7"  # Reader: not a data role by default
    assert run([assignment(reader, RG_ID)], "azure-data-roles-resource-scope")[0] == []
    assert run([assignment(reader, RG_ID)], "azure-data-roles-resource-scope", config={"dataPlaneRoleIds": [reader]})[0]


def function_app(name: str, identity_block: dict | None, deps: list[str] | None = None) -> dict:
    inputs = {"name": name, "kind": "functionapp,linux", "resourceGroupName": "orders", "httpsOnly": True}
    if identity_block is not None:
        inputs["identity"] = identity_block
    return resource("azure-native:web:WebApp", name, inputs, deps={"identity": deps or []})


IDENTITY_ID = f"{RG_ID}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/fn"


def test_function_app_identities_in_their_input_output_and_preview_shapes():
    system = function_app("a", {"type": "SystemAssigned"})
    web = resource("azure-native:web:WebApp", "site", {"name": "site", "kind": "app,linux"})  # not a function app
    assert run([system, web], "azure-one-identity-per-function-app")[0] == []
    as_map = function_app("b", {"type": "UserAssigned", "userAssignedIdentities": {IDENTITY_ID: {}}})
    as_list_upper = function_app("c", {"type": "UserAssigned", "userAssignedIdentities": [IDENTITY_ID.upper()]})
    assert len(run([as_map, as_list_upper], "azure-one-identity-per-function-app")[0]) == 2
    identity_urn = "urn:pulumi:prod::anycloud::azure-native:managedidentity:UserAssignedIdentity::fn"
    uai = resource("azure-native:managedidentity:UserAssignedIdentity", "fn", {"resourceName": "fn"})
    unknown = [function_app(n, {"type": "UserAssigned", "userAssignedIdentities": [UNKNOWN_STRING_VALUE]}, [identity_urn])
               for n in ("d", "e")]
    messages, notes = run([uai, *unknown], "azure-one-identity-per-function-app")
    assert len(messages) == 2 and notes == []
    none = function_app("f", {"type": "None"})
    (message,), _ = run([none], "azure-one-identity-per-function-app")
    assert 'identity.type is "None"' in message


def federated_role(issuer: str, condition: dict, provider: str | None = None) -> dict:
    principal = provider or f"arn:aws:iam::{ACCOUNT}:oidc-provider/{issuer}"
    return resource("aws:iam/role:Role", "ci", {"assumeRolePolicy": doc({
        "Effect": "Allow", "Principal": {"Federated": principal}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": condition})})


@pytest.mark.parametrize("issuer, condition, pinned", [
    ("token.actions.githubusercontent.com", {"StringEquals": {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": "repo:example/orders:ref:refs/heads/main"}}, True),
    ("token.actions.githubusercontent.com/example-ent", {"StringEquals": {
        "token.actions.githubusercontent.com/example-ent:aud": "sts.amazonaws.com"}, "StringLike": {
        "token.actions.githubusercontent.com/example-ent:sub": "repo:example/orders:*"}}, True),
    ("token.actions.githubusercontent.com", {"ForAnyValue:StringEquals": {
        "token.actions.githubusercontent.com:aud": ["sts.amazonaws.com"]}, "StringLike": {
        "token.actions.githubusercontent.com:sub": "repo:example/or*"}}, False),
    ("token.actions.githubusercontent.com", {"StringEqualsIfExists": {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": "repo:example/orders:ref:refs/heads/main"}}, False),
    ("gitlab.example.com", {"StringEquals": {"gitlab.example.com:aud": "https://gitlab.example.com"},
                            "StringLike": {"gitlab.example.com:sub": "project_path:platform/orders:ref_type:branch:*"}}, True),
    ("gitlab.example.com", {"StringEquals": {"gitlab.example.com:aud": "https://gitlab.example.com"},
                            "StringLike": {"gitlab.example.com:sub": "project_path:*"}}, False),
])
def test_federated_trust_pinned_by_audience_and_subject(issuer, condition, pinned):
    messages, _ = run([federated_role(issuer, condition)], "aws-iam-service-principal-trust")
    assert (messages == []) is pinned, messages


def test_saml_federation_is_people_not_a_workload():
    saml = federated_role("", {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}},
                          provider=f"arn:aws:iam::{ACCOUNT}:saml-provider/okta")
    (message,), _ = run([saml], "aws-iam-service-principal-trust")
    assert "which federates people rather than a workload" in message
