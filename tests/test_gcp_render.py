"""The GCP rendering: identities exactly per the verb table, and every security-relevant input."""

from __future__ import annotations

import base64
import json
from collections import defaultdict

import yaml

from tests.services import REFERENCE
from components.gcp.context import BOOTSTRAP_APIS
from components.gcp.function import BUILD_GRANTS_SETTLE, SOURCE_BUCKETS
from components.gcp.keys import APIS, KEY_AGENTS, ROTATION
from components.gcp.mocks import DEFAULT_PROJECT, PROJECT_NUMBER
from components.mock_engine import Rendering, jsonable
from components.wiring import env_name
from policy.offline import evaluate
from components.export import to_export
from tests.conftest import GCP_DEV, SECRET_VALUE, SERVICE_FUNCTIONS, refused_before_registering, render_config

P = DEFAULT_PROJECT
FUNCTION = "gcp:cloudfunctionsv2/function:Function"
ACCOUNT = "gcp:serviceaccount/account:Account"
DATABASE = "gcp:firestore/database:Database"
TOPIC = "gcp:pubsub/topic:Topic"
SUBSCRIPTION = "gcp:pubsub/subscription:Subscription"
WORKFLOW = "gcp:workflows/workflow:Workflow"
SECRET = "gcp:secretmanager/secret:Secret"
IAM_TYPES = {
    "gcp:projects/iAMMember:IAMMember": lambda i: f"project:{i['project']}",
    "gcp:pubsub/topicIAMMember:TopicIAMMember": lambda i: i["topic"],
    "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember": lambda i: f"subscription:{i['subscription']}",
    "gcp:secretmanager/secretIamMember:SecretIamMember": lambda i: i["secretId"],
    "gcp:cloudrun/iamMember:IamMember": lambda i: f"run:{i['service']}",
    "gcp:storage/bucketIAMMember:BucketIAMMember": lambda i: f"bucket:{i['bucket']}",
    "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember": lambda i: f"repository:{i['repository']}",
    "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember": lambda i: f"key:{i['cryptoKeyId']}",
    "gcp:serviceaccount/iAMMember:IAMMember": lambda i: f"account:{i['serviceAccountId']}",
}


def by_name(r: Rendering, typ: str) -> dict:
    return {x.name: x for x in r.of_type(typ)}


def grants(r: Rendering) -> dict[str, set[tuple]]:
    """member -> {(role, resource, condition expression)} from every rendered IAM member."""
    out: dict[str, set[tuple]] = defaultdict(set)
    for typ, where in IAM_TYPES.items():
        for g in r.of_type(typ):
            condition = (g.inputs.get("condition") or {}).get("expression")
            out[g.inputs["member"]].add((g.inputs["role"], where(g.inputs), condition))
    return out


def member(r: Rendering, logical: str) -> str:
    return by_name(r, ACCOUNT)[f"{logical}-sa"].outputs["member"]


def database_condition(r: Rendering, table: str) -> str:
    return f'resource.name == "projects/{P}/databases/{by_name(r, DATABASE)[table].outputs["name"]}"'


def expected_function_grants(r: Rendering, fn) -> set[tuple]:
    """The verb table (DESIGN.md section 3), rebuilt from the spec alone."""
    topics = {t.name: t.id for t in r.of_type(TOPIC)}
    secrets = {s.name: s.id for s in r.of_type(SECRET)}
    out = set()
    for access in fn.uses:
        if access.kind == "table":
            role = "roles/datastore.user" if access.verb == "write" else "roles/datastore.viewer"
            out.add((role, f"project:{P}", database_condition(r, access.resource)))
        elif access.kind == "queue":
            out.add(("roles/pubsub.publisher", topics[access.resource], None))
        elif access.kind == "workflow":
            out.add(("roles/pubsub.publisher", topics[f"{access.resource}-start"], None))
        else:
            out.add(("roles/secretmanager.secretAccessor", secrets[access.resource], None))
    return out


# ------------------------------------------------------------------ identity


def test_each_function_account_holds_exactly_its_declared_verbs(gcp_prod):
    found = grants(gcp_prod)
    for fn in REFERENCE.functions:
        assert found.get(member(gcp_prod, fn.name), set()) == expected_function_grants(gcp_prod, fn), fn.name


def test_invokers_are_the_gateway_the_push_subscription_and_the_workflow_only(gcp_prod):
    found = grants(gcp_prod)
    functions = {f.name: f.outputs["name"] for f in gcp_prod.of_type(FUNCTION)}
    routes = {r.function for r in REFERENCE.api.routes}
    (workflow,) = REFERENCE.workflows
    assert found[member(gcp_prod, "gateway")] == {("roles/run.invoker", f"run:{functions[f]}", None) for f in routes}
    assert found[member(gcp_prod, "orders-push")] == {("roles/run.invoker", f"run:{functions['process-order']}", None)}
    assert found[member(gcp_prod, "fulfil-order-start-push")] == {
        ("roles/run.invoker", f"run:{functions['fulfil-order-start']}", None)}
    claims = f'resource.name == "projects/{P}/databases/{by_name(gcp_prod, DATABASE)["workflow-starts"].outputs["name"]}"'
    assert found[member(gcp_prod, workflow.name)] == {
        ("roles/run.invoker", f"run:{functions[f]}", None) for f in workflow.task_functions()
    } | {("roles/datastore.user", f"project:{P}", claims), ("roles/logging.logWriter", f"project:{P}", None)}
    # every function is invoked by exactly one kind of caller
    invokers = defaultdict(set)
    for who, held in found.items():
        for role, resource, _ in held:
            if role == "roles/run.invoker":
                invokers[resource].add(who)
    assert all(len(callers) == 1 for callers in invokers.values()), invokers


def test_the_workflow_invoker_role_is_held_by_the_starter_alone_fed_by_a_dead_lettered_push(gcp_prod):
    holders = {who for who, held in grants(gcp_prod).items() for role, _, _ in held if role == "roles/workflows.invoker"}
    assert holders == {member(gcp_prod, "fulfil-order-start")}
    assert gcp_prod.of_type("gcp:eventarc/trigger:Trigger") == []
    starter = by_name(gcp_prod, FUNCTION)["fulfil-order-start"]
    assert starter.inputs["serviceConfig"]["serviceAccountEmail"] == member(gcp_prod, "fulfil-order-start").split(":", 1)[1]
    assert starter.inputs["serviceConfig"]["ingressSettings"] == "ALLOW_INTERNAL_ONLY"
    env = starter.inputs["serviceConfig"]["environmentVariables"]
    assert env["ANYCLOUD_TRIGGERS"] == "start" and "ANYCLOUD_HANDLER" not in env
    assert env["ANYCLOUD_START_WORKFLOW"] == gcp_prod.of_type(WORKFLOW)[0].id
    topics, subs = by_name(gcp_prod, TOPIC), by_name(gcp_prod, SUBSCRIPTION)
    push = subs["fulfil-order-start-to-fulfil-order-start"].inputs
    url = starter.outputs["serviceConfig"]["uri"]
    assert push["topic"] == topics["fulfil-order-start"].id
    assert push["pushConfig"]["pushEndpoint"] == url == push["pushConfig"]["oidcToken"]["audience"]
    assert push["deadLetterPolicy"] == {"deadLetterTopic": topics["fulfil-order-start-dlq"].id, "maxDeliveryAttempts": 5}
    assert subs["fulfil-order-start-dlq-kept"].inputs["topic"] == topics["fulfil-order-start-dlq"].id
    watched = {p.name for p in gcp_prod.of_type("gcp:monitoring/alertPolicy:AlertPolicy")}
    assert {"fulfil-order-start-dead-letters", "fulfil-order-start-behind", "fulfil-order-start-5xx"} <= watched


def test_no_primitive_roles_and_no_unconditioned_project_data_roles(gcp_prod):
    for who, held in grants(gcp_prod).items():
        for role, resource, condition in held:
            assert role not in ("roles/owner", "roles/editor", "roles/viewer")
            assert not who.startswith(("allUsers", "allAuthenticatedUsers"))
            if resource.startswith("project:") and role.startswith(("roles/datastore.", "roles/pubsub.", "roles/secretmanager.")):
                assert condition and condition.startswith('resource.name == "projects/'), (who, role)


# ------------------------------------------------------------------ keys


def test_one_key_rotated_every_90_days_used_by_each_service_agent_only(gcp_prod):
    (ring,) = gcp_prod.of_type("gcp:kms/keyRing:KeyRing")
    (key,) = gcp_prod.of_type("gcp:kms/cryptoKey:CryptoKey")
    assert ROTATION == "7776000s" and key.inputs["rotationPeriod"] == ROTATION
    assert ring.inputs["location"] == "europe-west1" and key.protect and ring.protect
    on_key = {g.inputs["member"] for g in gcp_prod.of_type("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")
              if g.inputs["cryptoKeyId"] == key.id and g.inputs["role"] == "roles/cloudkms.cryptoKeyEncrypterDecrypter"}
    domains = {"cloudfunctions": "gcf-admin-robot", "run": "serverless-robot-prod", "storage": "gs-project-accounts"}
    agents = {f"serviceAccount:service-{PROJECT_NUMBER}@{domains.get(api, f'gcp-sa-{api}')}.iam.gserviceaccount.com"
              for api in KEY_AGENTS}
    assert on_key == agents
    assert len(gcp_prod.of_type("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")) == len(agents)


def test_every_data_holder_names_the_key(gcp_prod):
    key = gcp_prod.of_type("gcp:kms/cryptoKey:CryptoKey")[0].id
    for fn in gcp_prod.of_type(FUNCTION):
        assert fn.inputs["kmsKeyName"] == key
    for topic in gcp_prod.of_type(TOPIC):
        assert topic.inputs["kmsKeyName"] == key
    for db in gcp_prod.of_type(DATABASE):
        assert db.inputs["cmekConfig"] == {"kmsKeyName": key}
    (workflow,) = gcp_prod.of_type(WORKFLOW)
    assert workflow.inputs["cryptoKeyName"] == key
    (secret,) = gcp_prod.of_type(SECRET)
    (replica,) = secret.inputs["replication"]["userManaged"]["replicas"]
    assert replica == {"location": "europe-west1", "customerManagedEncryption": {"kmsKeyName": key}}
    (bucket,) = gcp_prod.of_type("gcp:storage/bucket:Bucket")
    assert bucket.inputs["encryption"] == {"defaultKmsKeyName": key}
    (repo,) = gcp_prod.of_type("gcp:artifactregistry/repository:Repository")
    assert repo.inputs["kmsKeyName"] == key


def test_without_customer_keys_nothing_names_a_key():
    rendering = render_config({**GCP_DEV, "anycloud:customerManagedKeys": "false"}, "dev")
    assert rendering.of_type("gcp:kms/cryptoKey:CryptoKey") == []
    for r in rendering.resources:
        text = json.dumps(jsonable(r.inputs))
        assert "kmsKeyName" not in text and "cryptoKeyName" not in text, r.name


# ------------------------------------------------------------------ functions


def test_functions_run_as_their_own_account_with_wiring_and_stack_settings(gcp_prod):
    accounts = by_name(gcp_prod, ACCOUNT)
    routes = {r.function for r in REFERENCE.api.routes}
    declared = {f.name for f in REFERENCE.functions}
    for fn in gcp_prod.of_type(FUNCTION):
        if fn.name not in declared:  # a workflow's starter (its own test)
            continue
        spec = REFERENCE.function(fn.name)
        service = fn.inputs["serviceConfig"]
        env = service["environmentVariables"]
        assert service["serviceAccountEmail"] == accounts[f"{fn.name}-sa"].outputs["email"]
        assert service["ingressSettings"] == ("ALLOW_ALL" if fn.name in routes else "ALLOW_INTERNAL_ONLY")
        assert service["timeoutSeconds"] == spec.timeout_s and service["availableMemory"] == f"{spec.memory_mb}M"
        assert fn.inputs["buildConfig"]["runtime"].startswith("python3")
        assert env["ANYCLOUD_HANDLER"] == spec.handler and env["ANYCLOUD_FUNCTION"] == fn.name
        wired = {k for k in env if k.split("_")[1] in ("TABLE", "QUEUE", "WORKFLOW", "SECRET") and k.count("_") >= 2}
        assert wired == {env_name(a.kind, a.resource) for a in spec.uses}, fn.name
        assert SECRET_VALUE not in json.dumps(env)
    create = by_name(gcp_prod, FUNCTION)["create-order"].inputs["serviceConfig"]
    assert create["minInstanceCount"] == 2  # anycloud:functions create-order warmInstances in Pulumi.prod.yaml
    assert create["environmentVariables"]["ANYCLOUD_TRIGGERS"] == "route"
    assert create["environmentVariables"]["ANYCLOUD_ROUTES"] == "POST /orders"
    # claims are read only where the gateway verified a JWT: not on the public route
    assert create["environmentVariables"]["ANYCLOUD_VERIFIED_ROUTES"] == "POST /orders"
    health = by_name(gcp_prod, FUNCTION)["health"].inputs["serviceConfig"]["environmentVariables"]
    assert "ANYCLOUD_VERIFIED_ROUTES" not in health
    process = by_name(gcp_prod, FUNCTION)["process-order"].inputs["serviceConfig"]["environmentVariables"]
    assert process["ANYCLOUD_TRIGGERS"] == "consumer"
    assert process["ANYCLOUD_WORKFLOW_FULFIL_ORDER"] == by_name(gcp_prod, TOPIC)["fulfil-order-start"].id


def test_source_is_private_encrypted_and_named_by_its_content(gcp_prod):
    (bucket,) = gcp_prod.of_type("gcp:storage/bucket:Bucket")
    assert bucket.inputs["uniformBucketLevelAccess"] is True and bucket.inputs["publicAccessPrevention"] == "enforced"
    (archive,) = gcp_prod.of_type("gcp:storage/bucketObject:BucketObject")
    assert archive.inputs["name"].startswith("functions-") and len(archive.inputs["name"]) == len("functions-") + 16 + 4
    for fn in gcp_prod.of_type(FUNCTION):
        storage = fn.inputs["buildConfig"]["source"]["storageSource"]
        assert storage["object"] == archive.inputs["name"] and storage["generation"] == archive.outputs["generation"]
        assert fn.inputs["buildConfig"]["serviceAccount"] == by_name(gcp_prod, ACCOUNT)["build-sa"].id


# ------------------------------------------------------------------ queue


def test_queue_pushes_with_oidc_and_keeps_its_dead_letters(gcp_prod):
    subs = by_name(gcp_prod, SUBSCRIPTION)
    push = subs["orders-to-process-order"].inputs
    consumer = by_name(gcp_prod, FUNCTION)["process-order"]
    url = consumer.outputs["serviceConfig"]["uri"]
    (queue,) = REFERENCE.queues
    assert push["pushConfig"] == {"pushEndpoint": url, "oidcToken": {
        "serviceAccountEmail": by_name(gcp_prod, ACCOUNT)["orders-push-sa"].outputs["email"], "audience": url}}
    assert push["ackDeadlineSeconds"] >= REFERENCE.function("process-order").timeout_s
    assert push["retryPolicy"] == {"minimumBackoff": "10s", "maximumBackoff": "600s"}
    topics = by_name(gcp_prod, TOPIC)
    assert push["deadLetterPolicy"] == {"deadLetterTopic": topics["orders-dlq"].id, "maxDeliveryAttempts": queue.max_receives}
    kept = subs["orders-dlq-kept"].inputs
    assert kept["topic"] == topics["orders-dlq"].id and kept["messageRetentionDuration"] == "604800s"
    agent = f"serviceAccount:service-{PROJECT_NUMBER}@gcp-sa-pubsub.iam.gserviceaccount.com"
    key = gcp_prod.of_type("gcp:kms/cryptoKey:CryptoKey")[0].id
    pusher = by_name(gcp_prod, ACCOUNT)["orders-push-sa"].outputs["name"]
    assert {g for g in grants(gcp_prod)[agent] if "start" not in g[1] and "fulfil-orde" not in g[1]} == {
        ("roles/pubsub.publisher", topics["orders-dlq"].id, None),
        ("roles/pubsub.subscriber", f"subscription:{subs['orders-to-process-order'].outputs['name']}", None),
        ("roles/iam.serviceAccountTokenCreator", f"account:{pusher}", None),
        ("roles/cloudkms.cryptoKeyEncrypterDecrypter", f"key:{key}", None)}
    # the grants name the agent through its ServiceIdentity, and wait for it
    (identity,) = [i for i in gcp_prod.of_type("gcp:projects/serviceIdentity:ServiceIdentity")
                   if i.inputs["service"] == "pubsub.googleapis.com"]
    for g in gcp_prod.of_type("gcp:pubsub/topicIAMMember:TopicIAMMember"):
        if g.inputs["member"] == agent:
            assert identity.urn in g.dependencies
    # CMEK topics keep their messages in the key's region
    assert all(t.inputs["messageStoragePolicy"] == {"allowedPersistenceRegions": ["europe-west1"]}
               for t in gcp_prod.of_type(TOPIC))


# ------------------------------------------------------------------ tables, secret


def test_databases_are_recoverable_protected_in_prod_indexed_and_expire(gcp_prod, gcp_dev):
    for rendering, prod in ((gcp_prod, True), (gcp_dev, False)):
        for db in rendering.of_type(DATABASE):
            assert db.inputs["pointInTimeRecoveryEnablement"] == "POINT_IN_TIME_RECOVERY_ENABLED"
            assert db.inputs["deleteProtectionState"] == ("DELETE_PROTECTION_ENABLED" if prod else "DELETE_PROTECTION_DISABLED")
            assert db.inputs["deletionPolicy"] == "DELETE"
            assert db.protect is (prod and db.name != "workflow-starts")
    (index,) = gcp_prod.of_type("gcp:firestore/index:Index")
    orders = REFERENCE.table("orders")
    assert index.inputs["collection"] == "orders" and index.inputs["database"] == by_name(gcp_prod, DATABASE)["orders"].outputs["name"]
    assert [f["fieldPath"] for f in index.inputs["fields"]] == [orders.indexes[0].partition_key.name, orders.indexes[0].sort_key.name]
    ttl = {(f.inputs["collection"], f.inputs["field"]) for f in gcp_prod.of_type("gcp:firestore/field:Field")}
    assert {(t.name, t.ttl_attribute) for t in REFERENCE.tables if t.ttl_attribute} <= ttl


def test_secret_is_protected_its_version_is_not(gcp_prod):
    (secret,) = gcp_prod.of_type(SECRET)
    (version,) = gcp_prod.of_type("gcp:secretmanager/secretVersion:SecretVersion")
    assert secret.protect is True and version.protect is False
    assert version.inputs["secret"] == secret.id


# ------------------------------------------------------------------ workflow and API


def test_workflow_claims_its_execution_id_then_calls_tasks_with_oidc(gcp_prod):
    (workflow,) = gcp_prod.of_type(WORKFLOW)
    program = yaml.safe_load(workflow.inputs["sourceContents"])
    steps = [next(iter(s)) for s in program["main"]["steps"]]
    assert program["main"]["params"] == ["start"] and steps[0] == "claim"
    claim = program["main"]["steps"][0]["claim"]["try"]
    assert claim["call"] == "googleapis.firestore.v1.projects.databases.documents.createDocument"
    assert claim["args"]["documentId"] == "${start.execution_id}"
    assert workflow.inputs["serviceAccount"] == by_name(gcp_prod, ACCOUNT)["fulfil-order-sa"].id
    assert workflow.inputs["callLogLevel"] == "LOG_ERRORS_ONLY" and workflow.inputs["deletionProtection"] is True
    calls = [c for c in _walk(program) if isinstance(c, dict) and str(c.get("call", "")).startswith("http.")]
    assert calls and all(c["args"]["auth"]["type"] == "OIDC" for c in calls)


def _walk(node):
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def test_api_document_routes_each_operation_to_its_function_with_jwt(gcp_prod):
    (config,) = gcp_prod.of_type("gcp:apigateway/apiConfig:ApiConfig")
    (document,) = config.inputs["openapiDocuments"]
    doc = yaml.safe_load(base64.b64decode(document["document"]["contents"]))
    assert doc["swagger"] == "2.0"
    assert doc["securityDefinitions"]["jwt"]["x-google-issuer"] == "https://auth.example.com/"
    urls = {f.name: f.outputs["serviceConfig"]["uri"] for f in gcp_prod.of_type(FUNCTION)}
    for route in REFERENCE.api.routes:
        op = doc["paths"][route.path][route.method.lower()]
        assert op["x-google-backend"]["address"] == urls[route.function] == op["x-google-backend"]["jwt_audience"]
        assert op["x-google-backend"]["path_translation"] == "APPEND_PATH_TO_ADDRESS"
        assert op["security"] == ([] if route.public else [{"jwt": []}])
    assert doc["paths"]["/orders/{order_id}"]["get"]["parameters"] == [
        {"name": "order_id", "in": "path", "required": True, "type": "string"}]
    assert config.inputs["gatewayConfig"]["backendConfig"]["googleServiceAccount"] == by_name(gcp_prod, ACCOUNT)["gateway-sa"].outputs["email"]


def test_what_gcp_cannot_do_is_said_not_dropped(gcp_prod):
    notes = gcp_prod.outputs["limitations"]
    assert any("no CORS" in n and "https://shop.example.com" in n for n in notes)
    assert any("rate limit" in n for n in notes)
    assert any("logRetentionDays 365" in n for n in notes)


def test_alerts_go_to_the_email_channel(gcp_prod):
    (channel,) = gcp_prod.of_type("gcp:monitoring/notificationChannel:NotificationChannel")
    assert channel.inputs["labels"] == {"email_address": "oncall@example.com"}
    policies = gcp_prod.of_type("gcp:monitoring/alertPolicy:AlertPolicy")
    # every function and each workflow's starter, each queue (dead letters, behind, failing delayed publishes: it has
    # a sender) and each start path (two each), each workflow, the API
    assert len(policies) == len(REFERENCE.functions) + 3 * len(REFERENCE.queues) + 4 * len(REFERENCE.workflows) + 1
    for p in policies:
        assert p.inputs["notificationChannels"] == [channel.outputs["name"]]
        assert all(c["conditionThreshold"]["filter"] for c in p.inputs["conditions"])


# ------------------------------------------------------------------ the pack


def test_rendered_gcp_stacks_pass_the_whole_pack(gcp_prod, gcp_dev):
    for rendering, env in ((gcp_prod, "prod"), (gcp_dev, "dev")):
        report = evaluate(to_export(rendering)["deployment"]["resources"], env, config={"publicRoutes": ["GET /health"]})
        assert report.violations == [], report.violations
    no_cmk = render_config({**GCP_DEV, "anycloud:customerManagedKeys": "false"}, "dev")
    report = evaluate(to_export(no_cmk)["deployment"]["resources"], "dev",
                      config={"publicRoutes": ["GET /health"], "requireCustomerManagedKeys": False})
    assert report.mandatory == [], report.mandatory


def test_the_deployed_program_is_valid_workflows_syntax(gcp_prod, gcp_dev):
    """Claim step, portable workflow and helper subworkflows together, as Workflows receives them."""
    from tests.support.workflows_interpreter import validate

    for rendering in (gcp_prod, gcp_dev):
        (workflow,) = rendering.of_type(WORKFLOW)
        program = yaml.safe_load(workflow.inputs["sourceContents"])
        validate(program)
        assert program["main"]["params"] == ["start"] and "portable_workflow" in program


def test_a_table_with_a_sort_key_gets_the_index_its_queries_need():
    """Firestore serves `partition == x order by sort` only from a composite index."""
    from components.spec import Key, TableSpec

    events = TableSpec(name="events", partition_key=Key(name="stream"), sort_key=Key(name="seq", type="number"))
    spec = REFERENCE.model_copy(update={"tables": (*REFERENCE.tables, events)})
    rendering = render_config(GCP_DEV, "dev", spec=spec)
    (index,) = [i for i in rendering.of_type("gcp:firestore/index:Index") if i.inputs["collection"] == "events"]
    assert [f["fieldPath"] for f in index.inputs["fields"]] == ["stream", "seq"]


def test_gcp_service_outputs_resolve_under_the_classic_mocks_pattern():
    """The Pulumi-documented style on GCP: a `@pulumi.runtime.test` body returning the Output it checks."""
    import pulumi

    from components.mock_engine import configure
    from components.program import run

    configure(GCP_DEV, ["anycloud:paymentApiKey"], project="anycloud", stack="dev")

    @pulumi.runtime.test
    def check():
        service = run(REFERENCE, SERVICE_FUNCTIONS)

        def verify(values):
            url, topic, workflow = values
            assert url.startswith("https://orders-dev-gateway-") and url.endswith(".ew.gateway.dev")
            assert topic == f"projects/{P}/topics/orders-dev-orders"
            assert workflow == f"projects/{P}/locations/europe-west1/workflows/orders-dev-fulfil-order"

        return pulumi.Output.all(service.api_url, service.queues["orders"], service.workflows["fulfil-order"]).apply(verify)

    check()


def test_a_workflow_over_the_workflows_source_limit_is_refused_before_anything_is_registered():
    """Workflows refuses a source over 128 KB; preflight compiles with the longest URLs first."""
    from components.gcp.workflow import MAX_SOURCE_BYTES, check_source
    from components.spec import Retry, SpecError, Task, WorkflowSpec

    def chain(length: int) -> WorkflowSpec:
        retry = (Retry(errors=("TaskFailed",), attempts=2, interval_s=1),)
        steps = {f"s{i}": Task(function="notify", retry=retry, next=f"s{i + 1}" if i < length - 1 else None)
                 for i in range(length)}
        return WorkflowSpec(name="long-chain", start="s0", steps=steps)

    check_source(chain(5))  # a short one passes
    spec = REFERENCE.model_copy(update={"workflows": (*REFERENCE.workflows, chain(150))})
    error = str(refused_before_registering(GCP_DEV, SpecError, spec))
    assert error.startswith("workflows.long-chain: compiles to up to ")
    assert f"allowed: at most {MAX_SOURCE_BYTES} (128 KB)" in error


# ------------------------------------------------------------------ deploy order (issue 17)


def test_every_resource_waits_for_the_api_it_is_created_through(gcp_prod):
    services = {s.inputs["service"].split(".")[0]: s.urn for s in gcp_prod.of_type("gcp:projects/service:Service")}
    assert set(services) == set(APIS) and not set(BOOTSTRAP_APIS) & set(services)
    expect = {"gcp:cloudfunctionsv2/function:Function": {"cloudfunctions", "cloudbuild", "artifactregistry", "run"},
              "gcp:apigateway/api:Api": {"apigateway"}, "gcp:serviceaccount/account:Account": {"iam"},
              "gcp:cloudrun/iamMember:IamMember": {"run"}, "gcp:monitoring/alertPolicy:AlertPolicy": {"monitoring"},
              "gcp:storage/bucket:Bucket": {"storage"}, "gcp:pubsub/topic:Topic": {"pubsub"},
              "gcp:workflows/workflow:Workflow": {"workflows"}, "gcp:firestore/database:Database": {"firestore"}}
    for typ, apis in expect.items():
        for r in gcp_prod.of_type(typ):
            assert {services[a] for a in apis} <= set(r.dependencies), (typ, r.name)


def test_key_grants_to_implicit_agents_wait_for_their_api(gcp_prod):
    services = {s.inputs["service"].split(".")[0]: s.urn for s in gcp_prod.of_type("gcp:projects/service:Service")}
    grants_ = {g.name: g for g in gcp_prod.of_type("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")}
    for api in ("cloudfunctions", "run", "storage"):
        assert services[api] in grants_[f"key-{api}-agent"].dependencies


def test_the_build_account_reads_function_sources_and_functions_wait_for_its_grants(gcp_prod):
    builder = member(gcp_prod, "build")
    project = {g.inputs["role"]: g for g in gcp_prod.of_type("gcp:projects/iAMMember:IAMMember")
               if g.inputs["member"] == builder}
    read = project["roles/storage.objectViewer"]
    assert read.inputs["condition"]["expression"] == SOURCE_BUCKETS
    assert SOURCE_BUCKETS == 'resource.name.startsWith("projects/_/buckets/gcf-v2-sources-")'
    assert set(project) == {"roles/storage.objectViewer", "roles/logging.logWriter"}
    (sleep,) = gcp_prod.of_type("time:index/sleep:Sleep")
    assert sleep.inputs["createDuration"] == BUILD_GRANTS_SETTLE == "60s"
    build_grants = [read, project["roles/logging.logWriter"],
                    *gcp_prod.of_type("gcp:artifactregistry/repositoryIamMember:RepositoryIamMember"),
                    *gcp_prod.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")]
    assert {g.urn for g in build_grants} <= set(sleep.dependencies)
    for fn in gcp_prod.of_type(FUNCTION):
        assert fn.inputs["buildConfig"]["serviceAccount"] == by_name(gcp_prod, ACCOUNT)["build-sa"].id
        assert {sleep.urn, *(g.urn for g in build_grants)} <= set(fn.dependencies), fn.name


def test_the_api_config_prefix_leaves_room_for_the_providers_suffix(gcp_prod):
    (config,) = gcp_prod.of_type("gcp:apigateway/apiConfig:ApiConfig")
    assert len(config.inputs["apiConfigIdPrefix"]) + 26 <= 63
