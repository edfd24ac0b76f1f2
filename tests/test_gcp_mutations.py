"""Mutation tests: break the GCP renderer on purpose and the pack must name the right policy.

Each case patches one piece of components/gcp/, renders the prod stack on GCP under mocks and
runs the whole pack over the result, as `python -m components check --stack prod --cloud gcp` does.
"""

from __future__ import annotations

from typing import Callable

import pytest

import components.gcp.identity as identity
import components.gcp.platform as platform
import components.gcp.queue as queue
from app import SERVICE
from components.export import to_export
from components.mock_engine import render
from components.program import run
from policy.offline import evaluate
from tests.conftest import GCP_PROD


def violated(monkeypatch, patches: Callable[[pytest.MonkeyPatch], None]) -> set[str]:
    patches(monkeypatch)
    rendering = render(lambda: run(SERVICE), GCP_PROD, ["anycloud:paymentApiKey"], stack="prod")
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
        if name in {f.name for f in SERVICE.functions}:
            if "account" not in shared:
                shared["account"] = real(ctx, "functions", "every function", ctx.parent)
            return shared["account"]
        return real(ctx, name, purpose, parent)

    mp.setattr(platform, "create_function", _with_account(shared_account))


def _with_account(account):
    import components.gcp.function as function

    def create(*args, **kwargs):
        original = function.service_account
        function.service_account = account
        try:
            return function.create_function(*args, **kwargs)
        finally:
            function.service_account = original

    return create


CASES = {
    "drop the key": (drop_key, {"tables-encrypted", "queues-encrypted", "workflows-encrypted", "functions-encrypted",
                                "secrets-encrypted", "storage-encrypted"}),
    "push without OIDC": (push_without_oidc, {"gcp-push-subscriptions-authenticated"}),
    "table grants without a condition": (unconditioned_table_grants, {"gcp-iam-project-data-roles-conditional"}),
    "functions invokable by allUsers": (public_invoker, {"gcp-iam-no-public-members"}),
    "dead-letter topic without a subscription": (misplaced_dead_letter_keeper, {"queues-dead-lettered"}),
    "ack deadline shorter than the consumer": (short_ack_deadline, {"pubsub-ack-deadline-covers-consumer"}),
    "routes without JWT in prod": (open_routes, {"api-routes-require-auth"}),
    "one account for every function": (one_account_for_all, {"gcp-one-service-account-per-function"}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_breaking_the_gcp_renderer_fails_the_right_policy(monkeypatch, case):
    patches, expected = CASES[case]
    found = violated(monkeypatch, patches)
    assert expected <= found, f"{case}: expected {expected}, got {found}"


def test_the_unbroken_gcp_renderer_passes(monkeypatch):
    assert violated(monkeypatch, lambda mp: None) == set()
