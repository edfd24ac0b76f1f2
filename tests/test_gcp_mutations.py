"""Mutation tests: break the GCP renderer on purpose and the pack must name the right policy.

Each case patches one piece of components/gcp/, renders the prod stack on GCP under mocks and
runs the whole pack over the result, as `python -m components check --stack prod --cloud gcp` does.
"""

from __future__ import annotations

from typing import Callable

import dataclasses

import pulumi
import pytest

import components.gcp.api as api
import components.gcp.context as context
import components.gcp.function as function
import components.gcp.identity as identity
import components.gcp.observability as observability
import components.gcp.workflow as workflow
import components.gcp.platform as platform
import components.gcp.queue as queue
import components.gcp.secret as secret
from components.export import to_export
from components.mock_engine import render
from policy.offline import evaluate
from tests.conftest import GCP_PROD, program
from tests.services import REFERENCE
from tests.support.mutations import overriding


def violated(monkeypatch, patches: Callable[[pytest.MonkeyPatch], None]) -> set[str]:
    patches(monkeypatch)
    rendering = render(program(), GCP_PROD, ["anycloud:paymentApiKey"], stack="prod")
    report = evaluate(to_export(rendering)["deployment"]["resources"], "prod", config={"publicRoutes": ["GET /health"]})
    return {v.policy for v in report.mandatory}


def drop_key(mp):
    mp.setattr(platform, "service_key", lambda ctx: None)


def push_without_oidc(mp):
    real = queue.gcp.pubsub.SubscriptionPushConfigArgs
    mp.setattr(queue.gcp.pubsub, "SubscriptionPushConfigArgs", lambda push_endpoint, oidc_token=None: real(push_endpoint=push_endpoint))


def unconditioned_table_grants(mp):
    mp.setattr(identity, "database_condition", lambda ctx, database: None)


def public_invoker(mp):
    """The gateway's invoker grants, plus allUsers on every route function."""
    import components.gcp.api as api

    real = api.invoker

    def open_to_all(ctx, name, function, who, parent):
        identity.gcp.cloudrun.IamMember(f"{name}-public", service=function.name, location=ctx.region,
                                        role=identity.RUN_INVOKER, member="allUsers", opts=ctx.opts(parent, api="run"))
        return real(ctx, name, function, who, parent)

    mp.setattr(api, "invoker", open_to_all)


def _patch_subscriptions(mp, change: Callable[[str, dict], None]) -> None:
    real = queue.gcp.pubsub.Subscription

    def patched(resource_name, **kwargs):
        change(resource_name, kwargs)
        return real(resource_name, **kwargs)

    mp.setattr(queue.gcp.pubsub, "Subscription", patched)


def misplaced_dead_letter_keeper(mp):
    """The keeper subscribes to another topic: the dead-letter topic has no subscription."""
    def change(name, kwargs):
        if name.endswith("-dlq-kept"):
            kwargs["topic"] = "projects/anycloud-orders-4711/topics/audit"
    _patch_subscriptions(mp, change)


def short_ack_deadline(mp):
    def change(name, kwargs):
        if "push_config" in kwargs:
            kwargs["ack_deadline_seconds"] = 10
    _patch_subscriptions(mp, change)


def open_routes(mp):
    mp.setattr(platform, "effective_auth", lambda spec, settings: None)


def one_account_for_all(mp):
    real = identity.service_account
    shared = {}

    def shared_account(ctx, name, purpose, parent):
        if name in {f.name for f in REFERENCE.functions}:
            if "account" not in shared:
                shared["account"] = real(ctx, "functions", "every function", ctx.parent)
            return shared["account"]
        return real(ctx, name, purpose, parent)

    mp.setattr(platform, "create_function", _with_account(shared_account))


def _with_account(account):
    def create(*args, **kwargs):
        original = function.service_account
        function.service_account = account
        try:
            return function.create_function(*args, **kwargs)
        finally:
            function.service_account = original

    return create


CASES = {
    "alert policies without channels": (overriding(observability.gcp.monitoring, "AlertPolicy", notification_channels=[]),
                                        {"prod-alerts-reach-someone"}),
    "drop the key": (drop_key, {"tables-encrypted", "queues-encrypted", "workflows-encrypted", "functions-encrypted",
                                "secrets-encrypted", "storage-encrypted"}),
    "push without OIDC": (push_without_oidc, {"gcp-push-subscriptions-authenticated"}),
    "table grants without a condition": (unconditioned_table_grants, {"gcp-iam-project-data-roles-conditional"}),
    "functions invokable by allUsers": (public_invoker, {"gcp-iam-no-public-members"}),
    "dead-letter topic without a subscription": (misplaced_dead_letter_keeper, {"queues-dead-lettered"}),
    "ack deadline shorter than the consumer": (short_ack_deadline, {"pubsub-ack-deadline-covers-consumer"}),
    "routes without JWT in prod": (open_routes, {"api-routes-require-auth"}),
    "one account for every function": (one_account_for_all, {"gcp-one-service-account-per-function"}),
    "secrets without deletion protection": (
        overriding(secret.gcp.secretmanager, "Secret", deletion_protection=False), {"prod-secrets-recoverable"}),
    "workflow call logging off": (
        overriding(workflow.gcp.workflows, "Workflow", call_log_level="LOG_NONE"), {"prod-audit-logging-not-switched-off"}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_breaking_the_gcp_renderer_fails_the_right_policy(monkeypatch, case):
    patches, expected = CASES[case]
    found = violated(monkeypatch, patches)
    assert expected <= found, f"{case}: expected {expected}, got {found}"


def test_the_unbroken_gcp_renderer_passes(monkeypatch):
    assert violated(monkeypatch, lambda mp: None) == set()


# ------------------------------------------------------------------ issue 17: what a first `up` refuses


def accounts_before_iam(mp):
    """Service accounts created without waiting for the IAM API's Service."""
    real = identity.gcp.serviceaccount.Account

    def account(resource_name, opts=None, **kwargs):
        return real(resource_name, opts=pulumi.ResourceOptions(parent=opts.parent), **kwargs)

    mp.setattr(identity.gcp.serviceaccount, "Account", account)


def implicit_agents_unawaited(mp):
    """The Cloud Functions and Cloud Run agents' key grants wait for Cloud KMS only, not for the API
    that makes the agent."""
    real = context.GcpContext.service_agent

    def service_agent(self, name):
        member, ready = real(self, name)
        return (member, self.apis["cloudkms"]) if name in context.IMPLICIT_AGENTS else (member, ready)

    mp.setattr(context.GcpContext, "service_agent", service_agent)


def pubsub_agent_by_name(mp):
    """The Pub/Sub agent named by a computed string after its API, not through its ServiceIdentity."""
    real = context.GcpContext.service_agent

    def service_agent(self, name):
        if name != "pubsub":
            return real(self, name)
        return self.number.apply(lambda n: f"serviceAccount:service-{n}@gcp-sa-pubsub.iam.gserviceaccount.com"), \
            self.apis["pubsub"]

    mp.setattr(context.GcpContext, "service_agent", service_agent)


def build_reads_own_bucket_only(mp):
    mp.setattr(function, "SOURCE_BUCKETS", 'resource.name.startsWith("projects/_/buckets/source-")')


def functions_not_waiting_for_build_grants(mp):
    real = platform.create_source
    mp.setattr(platform, "create_source", lambda ctx, parent: dataclasses.replace(real(ctx, parent), ready=[]))


def workflow_without_log_writer(mp):
    mp.setattr(workflow, "LOG_WRITER", "roles/logging.viewer")


def config_prefix_with_digest(mp):
    """A content-addressed config prefix: the document's digest makes it 45 characters."""
    real = api.gcp.apigateway.ApiConfig

    def config(resource_name, api_config_id_prefix, **kwargs):
        return real(resource_name, api_config_id_prefix=f"{api_config_id_prefix}openapi-{'0' * 16}-", **kwargs)

    mp.setattr(api.gcp.apigateway, "ApiConfig", config)


def starts_through_eventarc(mp):
    """Workflow starts also delivered by an Eventarc trigger on the start topic, as before issue 17."""
    real = workflow._starter

    def starter(ctx, spec, flow, start, code, parent):
        handle, subscription = real(ctx, spec, flow, start, code, parent)
        workflow.gcp.eventarc.Trigger(
            f"{spec.name}-eventarc-start", location=ctx.region,
            matching_criterias=[workflow.gcp.eventarc.TriggerMatchingCriteriaArgs(
                attribute="type", value="google.cloud.pubsub.topic.v1.messagePublished")],
            transport=workflow.gcp.eventarc.TriggerTransportArgs(
                pubsub=workflow.gcp.eventarc.TriggerTransportPubsubArgs(topic=start.topic.id)),
            destination=workflow.gcp.eventarc.TriggerDestinationArgs(workflow=flow.id),
            service_account=handle.identity.email, opts=ctx.opts(parent, api="eventarc"))
        return handle, subscription

    mp.setattr(workflow, "_starter", starter)


ORDER_CASES = {
    "service accounts before the IAM API": (accounts_before_iam, "gcp-resources-wait-for-their-api"),
    "Functions and Run agents' key grants before their APIs": (implicit_agents_unawaited,
                                                                "gcp-agent-grants-wait-for-their-agent"),
    "Pub/Sub agent named without its ServiceIdentity": (pubsub_agent_by_name, "gcp-agent-grants-wait-for-their-agent"),
    "build account reads its own bucket only": (build_reads_own_bucket_only, "gcp-build-account-reads-function-sources"),
    "functions built before the build grants": (functions_not_waiting_for_build_grants,
                                                "gcp-build-account-reads-function-sources"),
    "workflow account cannot write logs": (workflow_without_log_writer, "gcp-workflow-call-logs-writable"),
    "API config prefix leaves no room for the suffix": (config_prefix_with_digest, "gcp-api-config-id-fits"),
    "workflow starts through Eventarc": (starts_through_eventarc, "gcp-event-paths-dead-lettered"),
}


@pytest.mark.parametrize("case", list(ORDER_CASES))
def test_each_issue_17_defect_reintroduced_fails_exactly_its_policy(monkeypatch, case):
    patches, expected = ORDER_CASES[case]
    assert violated(monkeypatch, patches) == {expected}
