"""The AWS rendering: every security-relevant input, asserted on what the engine receives."""

from __future__ import annotations

import json

import pytest

from tests.services import REFERENCE
from policy.aws_actions import resource_level
from components.mock_engine import Rendering
from components.wiring import env_name
from tests.conftest import SECRET_VALUE, policy_of

KEY = "aws:kms/key:Key"
LAMBDA = "aws:lambda/function:Function"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ROLE = "aws:iam/role:Role"
TABLE = "aws:dynamodb/table:Table"
QUEUE = "aws:sqs/queue:Queue"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
ROUTE = "aws:apigatewayv2/route:Route"
MACHINE = "aws:sfn/stateMachine:StateMachine"


def key_arn(r: Rendering) -> str:
    return r.of_type(KEY)[0].outputs["arn"]


def by_name(r: Rendering, typ: str) -> dict:
    return {x.name: x for x in r.of_type(typ)}


# ------------------------------------------------------------------------------ key


def test_service_key_rotates_and_policy_grants_only_documented_uses(prod):
    (key,) = prod.of_type(KEY)
    assert key.inputs["enableKeyRotation"] is True
    assert key.protect is True
    statements = {s["Sid"]: s for s in policy_of(key)["Statement"]}
    admin = statements["KeyAdministration"]
    assert not {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"} & set(admin["Action"])
    via = statements["UseThroughDataServices"]["Condition"]["StringEquals"]["kms:ViaService"]
    assert sorted(via) == sorted(f"{s}.eu-west-1.amazonaws.com" for s in ("dynamodb", "sqs", "secretsmanager", "states", "lambda"))
    logs = statements["CloudWatchLogs"]
    assert logs["Principal"] == {"Service": "logs.eu-west-1.amazonaws.com"}
    assert [g.split(":log-group:")[1] for g in logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]] == [
        "/anycloud/orders-prod/*", "/aws/vendedlogs/anycloud/orders-prod/*"]
    assert statements["CloudWatchAlarmsToEncryptedTopic"]["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    for s in statements.values():
        assert all("*" not in a for a in s["Action"])


def test_without_customer_managed_keys_encryption_is_still_explicit(no_cmk):
    assert no_cmk.of_type(KEY) == []
    for table in no_cmk.of_type(TABLE):
        assert table.inputs["serverSideEncryption"] == {"enabled": True}
    for queue in no_cmk.of_type(QUEUE):
        assert queue.inputs["sqsManagedSseEnabled"] is True
    (machine,) = no_cmk.of_type(MACHINE)
    assert machine.inputs["encryptionConfiguration"] == {"type": "AWS_OWNED_KEY"}
    for policy in no_cmk.of_type(ROLE_POLICY):
        assert not any(a.startswith("kms:") for s in policy_of(policy)["Statement"] for a in s["Action"])


# ------------------------------------------------------------------------ functions


def test_every_function_is_arm64_python_traced_json_logged_and_encrypted(dev):
    functions = dev.of_type(LAMBDA)
    groups = {g.inputs["name"]: g for g in dev.of_type(LOG_GROUP)}
    assert sorted(f.name for f in functions) == sorted(f.name for f in REFERENCE.functions)
    for fn in functions:
        i = fn.inputs
        assert i["runtime"] in ("python3.12", "python3.13", "python3.14")
        assert i["architectures"] == ["arm64"]
        assert i["tracingConfig"] == {"mode": "Active"}
        assert i["loggingConfig"]["logFormat"] == "JSON"
        assert i["loggingConfig"]["logGroup"] == f"/anycloud/orders-dev/functions/{fn.name}"
        assert i["loggingConfig"]["logGroup"] in groups
        assert i["kmsKeyArn"] == key_arn(dev)
        assert i["handler"] == "runtime.aws.entry.handler"
        assert i["code"] is not None


def test_each_function_has_its_own_role_assumable_only_by_lambda(dev):
    roles = {f.inputs["role"] for f in dev.of_type(LAMBDA)}
    assert len(roles) == len(REFERENCE.functions)
    for role in dev.of_type(ROLE):
        trust = policy_of(role, "assumeRolePolicy")["Statement"]
        assert len(trust) == 1 and trust[0]["Action"] == "sts:AssumeRole"
        assert list(trust[0]["Principal"]) == ["Service"]
        assert role.inputs.get("managedPolicyArns") in (None, [])
    assert dev.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment") == []


def test_environment_wires_only_declared_resources(dev):
    for fn in dev.of_type(LAMBDA):
        spec = REFERENCE.function(fn.name)
        variables = fn.inputs["environment"]["variables"]
        wired = {k for k in variables if k.startswith("ANYCLOUD_") and k.count("_") >= 2 and k.split("_")[1] in ("TABLE", "QUEUE", "WORKFLOW", "SECRET")}
        assert wired == {env_name(a.kind, a.resource) for a in spec.uses}, fn.name
        assert variables["ANYCLOUD_FUNCTION"] == fn.name
        assert SECRET_VALUE not in json.dumps(variables)
    create = by_name(dev, LAMBDA)["create-order"].inputs["environment"]["variables"]
    assert create["ANYCLOUD_TABLE_ORDERS"] == by_name(dev, TABLE)["orders"].outputs["name"]
    assert create["ANYCLOUD_QUEUE_ORDERS"] == by_name(dev, QUEUE)["orders"].outputs["url"]
    process = by_name(dev, LAMBDA)["process-order"].inputs["environment"]["variables"]
    assert process["ANYCLOUD_WORKFLOW_FULFIL_ORDER"] == dev.of_type(MACHINE)[0].outputs["arn"]


def test_log_groups_are_encrypted_with_retention(dev, prod):
    for rendering, days in ((dev, 30), (prod, 365)):
        groups = rendering.of_type(LOG_GROUP)
        assert len(groups) == len(REFERENCE.functions) + 2  # + API access logs + workflow
        for group in groups:
            assert group.inputs["kmsKeyId"] == key_arn(rendering)
            assert group.inputs["retentionInDays"] == days


# -------------------------------------------------------------------------- IAM


def expected_grants(r: Rendering, function: str) -> set[tuple[str, str]]:
    """(action, resource) pairs a function must hold: its declared verbs, consumption, logs, traces."""
    tables, queues = by_name(r, TABLE), by_name(r, QUEUE)
    pairs: set[tuple[str, str]] = set()
    reads = ["dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem", "dynamodb:GetItem", "dynamodb:Query"]
    writes = reads + ["dynamodb:BatchWriteItem", "dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
    for access in REFERENCE.function(function).uses:
        if access.kind == "table":
            arn = tables[access.resource].outputs["arn"]
            spec = next(t for t in REFERENCE.tables if t.name == access.resource)
            arns = [arn] + [f"{arn}/index/{i.name}" for i in spec.indexes]
            pairs |= {(a, x) for a in (writes if access.verb == "write" else reads) for x in arns}
            pairs |= {(a, key_arn(r)) for a in (["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"] if access.verb == "write" else ["kms:Decrypt"])}
        elif access.kind == "queue":
            pairs |= {("sqs:SendMessage", queues[access.resource].outputs["arn"])}
            pairs |= {("kms:Decrypt", key_arn(r)), ("kms:GenerateDataKey", key_arn(r))}
        elif access.kind == "workflow":
            pairs |= {("states:StartExecution", r.of_type(MACHINE)[0].outputs["arn"]), ("kms:GenerateDataKey", key_arn(r))}
        elif access.kind == "secret":
            secret = r.of_type("aws:secretsmanager/secret:Secret")[0].outputs["arn"]
            pairs |= {("secretsmanager:GetSecretValue", secret), ("kms:Decrypt", key_arn(r))}
    for queue in REFERENCE.queues:
        if queue.consumer == function:
            arn = queues[queue.name].outputs["arn"]
            pairs |= {(a, arn) for a in ("sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage")}
            pairs |= {("kms:Decrypt", key_arn(r))}
    group = next(g for g in r.of_type(LOG_GROUP) if g.inputs["name"].endswith(f"/functions/{function}"))
    pairs |= {(a, f"{group.outputs['arn']}:log-stream:*") for a in ("logs:CreateLogStream", "logs:PutLogEvents")}
    pairs |= {("xray:PutTelemetryRecords", "*"), ("xray:PutTraceSegments", "*")}
    return pairs


def granted(policy: dict) -> set[tuple[str, str]]:
    pairs = set()
    for s in policy["Statement"]:
        assert s["Effect"] == "Allow"
        resources = [s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"]
        pairs |= {(a, x) for a in s["Action"] for x in resources}
    return pairs


@pytest.mark.parametrize("function", [f.name for f in REFERENCE.functions])
def test_function_policy_is_exactly_its_declared_verbs(dev, function):
    roles = {r.outputs["name"]: r for r in dev.of_type(ROLE)}
    policy = by_name(dev, ROLE_POLICY)[f"{function}-policy"]
    assert roles[policy.inputs["role"]].name == f"{function}-role"
    assert granted(policy_of(policy)) == expected_grants(dev, function)


def test_key_grants_only_through_the_owning_service(dev):
    """Functions use the key only through the service holding the data; the workflow's role,
    which calls KMS itself, only for its own state machine's data and log delivery."""
    for policy in dev.of_type(ROLE_POLICY):
        for s in policy_of(policy)["Statement"]:
            if any(a.startswith("kms:") for a in s["Action"]):
                assert s["Resource"] == [key_arn(dev)]
                tests = s["Condition"]["StringEquals"]
                if policy.name == "fulfil-order-policy":
                    assert set(tests) in ({"kms:EncryptionContext:aws:states:stateMachineArn"}, {"kms:EncryptionContext:SourceArn"})
                else:
                    assert "kms:ViaService" in tests


def test_no_wildcard_anywhere_in_identity_policies(prod):
    for policy in prod.of_type(ROLE_POLICY):
        for s in policy_of(policy)["Statement"]:
            assert all("*" not in a for a in s["Action"])
            if s["Resource"] == "*":
                assert all(resource_level(a) is False for a in s["Action"])
            else:
                for arn in s["Resource"]:
                    assert ":*:" not in arn and not arn.endswith("/*") and arn.split(":")[4] == "123456789012", arn


def test_workflow_role_invokes_only_its_task_functions(dev):
    machine = dev.of_type(MACHINE)[0]
    policy = by_name(dev, ROLE_POLICY)["fulfil-order-policy"]
    invoke = next(s for s in policy_of(policy)["Statement"] if s["Action"] == ["lambda:InvokeFunction"])
    arns = {f.name: f.outputs["arn"] for f in dev.of_type(LAMBDA)}
    assert sorted(invoke["Resource"]) == sorted(arns[f] for f in REFERENCE.workflows[0].task_functions())
    role = next(r for r in dev.of_type(ROLE) if r.outputs["arn"] == machine.inputs["roleArn"])
    trust = policy_of(role, "assumeRolePolicy")["Statement"][0]
    assert trust["Principal"] == {"Service": "states.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


# ---------------------------------------------------------------------------- API


def test_prod_routes_need_jwt_except_health(prod):
    routes = {r.inputs["routeKey"]: r.inputs for r in prod.of_type(ROUTE)}
    (authorizer,) = prod.of_type("aws:apigatewayv2/authorizer:Authorizer")
    assert authorizer.inputs["jwtConfiguration"] == {"issuer": "https://auth.example.com/", "audiences": ["orders-api"]}
    assert authorizer.inputs["identitySources"] == ["$request.header.Authorization"]
    assert routes["POST /orders"]["authorizationType"] == "JWT"
    assert routes["GET /orders/{order_id}"]["authorizationType"] == "JWT"
    assert routes["POST /orders"]["authorizerId"] == authorizer.id
    assert routes["GET /health"]["authorizationType"] == "NONE"


def test_dev_without_auth_config_has_no_authorizer(dev):
    assert dev.of_type("aws:apigatewayv2/authorizer:Authorizer") == []
    assert {r.inputs["authorizationType"] for r in dev.of_type(ROUTE)} == {"NONE"}


def test_cors_stage_throttling_and_access_logs(prod):
    (api,) = prod.of_type("aws:apigatewayv2/api:Api")
    assert api.inputs["corsConfiguration"]["allowOrigins"] == ["https://shop.example.com"]
    (stage,) = prod.of_type("aws:apigatewayv2/stage:Stage")
    assert stage.inputs["defaultRouteSettings"]["throttlingRateLimit"] == 50
    assert stage.inputs["defaultRouteSettings"]["throttlingBurstLimit"] == 100
    access = next(g for g in prod.of_type(LOG_GROUP) if g.inputs["name"].endswith("/api/access"))
    assert stage.inputs["accessLogSettings"]["destinationArn"] == access.outputs["arn"]
    assert "$context.requestId" in stage.inputs["accessLogSettings"]["format"]


def test_lambda_permissions_are_scoped_to_their_route(prod):
    (api,) = prod.of_type("aws:apigatewayv2/api:Api")
    arns = sorted(p.inputs["sourceArn"] for p in prod.of_type("aws:lambda/permission:Permission"))
    base = api.outputs["executionArn"]
    assert arns == sorted([f"{base}/$default/GET/health", f"{base}/$default/GET/orders/*", f"{base}/$default/POST/orders"])
    assert {p.inputs["principal"] for p in prod.of_type("aws:lambda/permission:Permission")} == {"apigateway.amazonaws.com"}


def test_warm_instances_put_triggers_on_the_alias(prod, dev):
    (alias,) = prod.of_type("aws:lambda/alias:Alias")
    (warm,) = prod.of_type("aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig")
    assert warm.inputs["provisionedConcurrentExecutions"] == 2
    assert warm.inputs["qualifier"] == alias.inputs["name"] == "live"
    integration = by_name(prod, "aws:apigatewayv2/integration:Integration")["create-order-integration"]
    assert integration.inputs["integrationUri"] == alias.outputs["arn"]
    permission = by_name(prod, "aws:lambda/permission:Permission")["post-orders-invoke"]
    assert permission.inputs["qualifier"] == "live"
    assert dev.of_type("aws:lambda/alias:Alias") == []


# ------------------------------------------------------------------------- queues


def test_queue_has_dlq_redrive_tls_policy_and_long_visibility(dev):
    queues = by_name(dev, QUEUE)
    queue, dlq = queues["orders"], queues["orders-dlq"]
    redrive = json.loads(queue.inputs["redrivePolicy"])
    assert redrive == {"deadLetterTargetArn": dlq.outputs["arn"], "maxReceiveCount": 5}
    consumer_timeout = REFERENCE.function("process-order").timeout_s
    assert queue.inputs["visibilityTimeoutSeconds"] == 6 * consumer_timeout
    assert dlq.inputs["messageRetentionSeconds"] == 14 * 86400 >= queue.inputs["messageRetentionSeconds"]
    for q in (queue, dlq):
        assert q.inputs["kmsMasterKeyId"] == key_arn(dev)
    policies = {p.inputs["queueUrl"]: policy_of(p) for p in dev.of_type("aws:sqs/queuePolicy:QueuePolicy")}
    assert set(policies) == {queue.outputs["url"], dlq.outputs["url"]}
    for doc in policies.values():
        (deny,) = doc["Statement"]
        assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    allow = json.loads(dev.of_type("aws:sqs/redriveAllowPolicy:RedriveAllowPolicy")[0].inputs["redriveAllowPolicy"])
    assert allow == {"redrivePermission": "byQueue", "sourceQueueArns": [queue.outputs["arn"]]}


def test_consumer_reports_batch_item_failures(dev):
    (mapping,) = dev.of_type("aws:lambda/eventSourceMapping:EventSourceMapping")
    assert mapping.inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping.inputs["eventSourceArn"] == by_name(dev, QUEUE)["orders"].outputs["arn"]
    assert mapping.inputs["functionName"] == by_name(dev, LAMBDA)["process-order"].outputs["arn"]
    assert mapping.inputs["batchSize"] == 10
    policy = by_name(dev, ROLE_POLICY)["process-order-policy"]
    assert policy.urn in mapping.dependencies


# ------------------------------------------------------------------------- tables


def test_tables_on_demand_encrypted_pitr_ttl_and_indexes(dev):
    orders = by_name(dev, TABLE)["orders"].inputs
    assert orders["billingMode"] == "PAY_PER_REQUEST"
    assert orders["serverSideEncryption"] == {"enabled": True, "kmsKeyArn": key_arn(dev)}
    assert orders["pointInTimeRecovery"] == {"enabled": True}
    assert orders["ttl"] == {"attributeName": "expires_at", "enabled": True}
    assert orders["hashKey"] == "order_id"
    (index,) = orders["globalSecondaryIndexes"]
    assert index["name"] == "by-customer" and index["projectionType"] == "ALL"
    assert index["keySchemas"] == [{"attributeName": "customer_id", "keyType": "HASH"}, {"attributeName": "created_at", "keyType": "RANGE"}]
    assert "readCapacity" not in index and "writeCapacity" not in index
    assert sorted(a["name"] for a in orders["attributes"]) == ["created_at", "customer_id", "order_id"]
    assert by_name(dev, TABLE)["idempotency"].inputs["ttl"] == {"attributeName": "expiration", "enabled": True}


def test_prod_protects_data_dev_does_not(dev, prod):
    for table in prod.of_type(TABLE):
        assert table.protect and table.inputs["deletionProtectionEnabled"] is True
    for table in dev.of_type(TABLE):
        assert not table.protect and table.inputs["deletionProtectionEnabled"] is False
    assert prod.of_type("aws:secretsmanager/secret:Secret")[0].protect
    assert not dev.of_type("aws:secretsmanager/secret:Secret")[0].protect
    assert prod.of_type(KEY)[0].protect and not dev.of_type(KEY)[0].protect


# ----------------------------------------------------------------- secret, workflow


def test_secret_encrypted_and_valued_from_secret_config(dev):
    (secret,) = dev.of_type("aws:secretsmanager/secret:Secret")
    assert secret.inputs["kmsKeyId"] == key_arn(dev)
    (version,) = dev.of_type("aws:secretsmanager/secretVersion:SecretVersion")
    # The engine receives it as a secret (the signature key marks secret values).
    assert version.inputs["secretString"] == {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "value": SECRET_VALUE}
    assert version.inputs["secretId"] == secret.id


def test_state_machine_logging_tracing_encryption(dev, prod):
    for rendering, level, data in ((dev, "ALL", True), (prod, "ERROR", False)):
        (machine,) = rendering.of_type(MACHINE)
        assert machine.inputs["type"] == "STANDARD"
        assert machine.inputs["tracingConfiguration"] == {"enabled": True}
        assert machine.inputs["loggingConfiguration"]["level"] == level
        assert machine.inputs["loggingConfiguration"]["includeExecutionData"] is data
        assert machine.inputs["encryptionConfiguration"]["type"] == "CUSTOMER_MANAGED_KMS_KEY"
        assert machine.inputs["encryptionConfiguration"]["kmsKeyId"] == key_arn(rendering)


def test_state_machine_definition_calls_the_rendered_functions(dev):
    definition = json.loads(dev.of_type(MACHINE)[0].inputs["definition"])
    arns = {f.outputs["arn"] for f in dev.of_type(LAMBDA)}
    called = set()

    def walk(states: dict) -> None:
        for state in states.values():
            if state.get("Resource") == "arn:aws:states:::lambda:invoke":
                called.add(state["Parameters"]["FunctionName"])
            for branch in state.get("Branches", []):
                walk(branch["States"])

    walk(definition["States"])
    assert called and called <= arns
    assert definition["StartAt"] == "reserve-stock"


# ------------------------------------------------------------------ observability


def test_every_alarm_has_dimensions_and_actions(prod):
    (topic,) = prod.of_type("aws:sns/topic:Topic")
    assert topic.inputs["kmsMasterKeyId"] == key_arn(prod)
    alarms = prod.of_type(ALARM)
    assert len(alarms) == 2 * len(REFERENCE.functions) + 1 + 2 + 1
    for alarm in alarms:
        assert alarm.inputs["dimensions"]
        assert alarm.inputs["alarmActions"] == [topic.outputs["arn"]]
        assert alarm.inputs["name"].startswith("orders-prod-")
    metrics = {a.inputs["metricName"] for a in alarms}
    assert {"Errors", "Throttles", "5xx", "ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage", "ExecutionsFailed"} == metrics
    (subscription,) = prod.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert subscription.inputs["endpoint"] == "oncall@example.com" and subscription.inputs["protocol"] == "email"
    body = json.loads(prod.of_type("aws:cloudwatch/dashboard:Dashboard")[0].inputs["dashboardBody"])
    assert len(body["widgets"]) == 5


def test_dev_without_alert_email_has_no_subscription(dev):
    assert dev.of_type("aws:sns/topicSubscription:TopicSubscription") == []


# ------------------------------------------------------------------------ outputs


def test_stack_outputs_are_neutral_names(dev):
    out = dev.outputs
    assert out["cloud"] == "aws"
    assert out["api_url"].startswith("https://") and ".execute-api.eu-west-1.amazonaws.com" in out["api_url"]
    assert set(out["tables"]) == {"orders", "idempotency"}
    assert set(out["queues"]) == {"orders"}
    assert out["workflows"]["fulfil-order"].startswith("arn:aws:states:eu-west-1:123456789012:stateMachine:")
    assert set(out["functions"]) == {f.name for f in REFERENCE.functions}


def test_neutral_components_parent_the_cloud_resources(dev):
    components = {r.urn: r for r in dev.resources if r.type.startswith("anycloud:index:")}
    kinds = {r.type for r in components.values()}
    assert kinds == {f"anycloud:index:{k}" for k in ("Service", "Function", "Table", "Queue", "Workflow", "Secret", "Api")}
    table = by_name(dev, TABLE)["orders"]
    assert components[table.parent].type == "anycloud:index:Table"
    fn = by_name(dev, LAMBDA)["create-order"]
    assert components[fn.parent].type == "anycloud:index:Function"


def test_service_outputs_resolve_under_the_classic_mocks_pattern():
    """The Pulumi-documented style: a `@pulumi.runtime.test` body returning the Output it checks."""
    import pulumi

    from components.mock_engine import configure
    from components.program import run
    from tests.conftest import DEV, SERVICE_FUNCTIONS

    configure(DEV, ["anycloud:paymentApiKey"], project="anycloud", stack="dev")

    @pulumi.runtime.test
    def check():
        service = run(REFERENCE, SERVICE_FUNCTIONS)

        def verify(values):
            url, queue, workflow = values
            assert url.startswith("https://") and url.endswith(".execute-api.eu-west-1.amazonaws.com/")
            assert queue.startswith("https://sqs.eu-west-1.amazonaws.com/123456789012/orders-")
            assert workflow == "arn:aws:states:eu-west-1:123456789012:stateMachine:orders-dev-fulfil-order"

        return pulumi.Output.all(service.api_url, service.queues["orders"], service.workflows["fulfil-order"]).apply(verify)

    check()
