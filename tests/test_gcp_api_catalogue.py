"""The API catalogue the GCP ordering rules read (policy/gcp_apis.py), held to the installed
pulumi-gcp: every module is named, every refinement names real types, and the APIs and agents
the GCP renderer uses are the catalogue's."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pulumi_gcp

from components.gcp import context, keys
from policy import gcp_apis


def sdk_types() -> set[str]:
    """Every resource type pulumi-gcp registers (`resource_modules` in its __init__.py)."""
    text = (Path(pulumi_gcp.__file__).parent / "__init__.py").read_text()
    modules = json.loads(re.search(r'resource_modules="""(.*?)"""', text, re.S).group(1))
    return {token for module in modules for token in module["classes"]}


TYPES = sdk_types()
EXEMPT = {m for m, apis in gcp_apis.MODULE_APIS.items() if not apis}


def test_every_module_of_the_sdk_is_catalogued():
    modules = {t.split(":")[1].split("/")[0] for t in TYPES}
    assert len(TYPES) == 1495 and len(modules) == 142
    assert set(gcp_apis.MODULE_APIS) == modules
    assert EXEMPT == {"folder", "organizations", "projects", "resourcemanager", "serviceusage", "tags"}


def test_every_refinement_names_types_of_the_sdk():
    paths = {t.split(":", 1)[1] for t in TYPES}
    for prefix in gcp_apis.TYPES:
        assert any(p.startswith(prefix) for p in paths), prefix


def test_every_type_outside_the_bootstrap_modules_has_an_api():
    missing = [t for t in TYPES if t.split(":")[1].split("/")[0] not in EXEMPT and not gcp_apis.apis_of(t)]
    assert missing == []


def test_apis_by_type():
    apis = gcp_apis.apis_of
    assert apis("gcp:pubsub/topic:Topic") == ("pubsub",)
    assert apis("gcp:pubsub/liteTopic:LiteTopic") == ("pubsublite",)
    assert apis("gcp:cloudrun/iamMember:IamMember") == apis("gcp:cloudrunv2/service:Service") == ("run",)
    assert apis("gcp:serviceaccount/account:Account") == apis("gcp:projects/iAMCustomRole:IAMCustomRole") == ("iam",)
    assert apis("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember") == ("cloudkms",)
    assert apis("gcp:cloudfunctionsv2/function:Function") == ("cloudfunctions", "cloudbuild", "artifactregistry", "run")
    assert apis("gcp:cloudfunctionsv2/functionIamMember:FunctionIamMember") == ("cloudfunctions",)
    assert apis("gcp:apigateway/gateway:Gateway") == ("apigateway", "servicemanagement", "servicecontrol")
    assert apis("gcp:apigateway/gatewayIamMember:GatewayIamMember") == ("apigateway",)
    assert apis("gcp:bigquery/reservationAssignment:ReservationAssignment") == ("bigqueryreservation",)
    for bootstrap in ("gcp:projects/iAMMember:IAMMember", "gcp:projects/service:Service", "gcp:tags/tagKey:TagKey",
                      "gcp:serviceusage/consumerQuotaOverride:ConsumerQuotaOverride", "time:index/sleep:Sleep"):
        assert apis(bootstrap) == ()
    assert apis(gcp_apis.SERVICE_IDENTITY, "eventarc.googleapis.com") == ("eventarc",)
    assert apis(gcp_apis.SERVICE_IDENTITY, None) == apis(gcp_apis.SERVICE_IDENTITY, "serviceusage.googleapis.com") == ()


def test_every_api_the_renderer_enables_is_one_a_resource_is_created_through():
    catalogued = {api for t in TYPES for api in gcp_apis.apis_of(t)}
    # Executions are started by the starter function at run time: no resource goes through them.
    assert set(keys.APIS) - catalogued == {"workflowexecutions"}


def test_service_agents_by_api():
    assert len(gcp_apis.AGENT_APIS) == 257
    for agent, api in {"gcp-sa-pubsub": "pubsub", "gcf-admin-robot": "cloudfunctions", "serverless-robot-prod": "run",
                       "gs-project-accounts": "storage", "gcp-sa-firestore": "firestore", "gcp-sa-eventarc": "eventarc",
                       "gcp-sa-artifactregistry": "artifactregistry", "gcp-sa-secretmanager": "secretmanager",
                       "gcp-sa-workflows": "workflows"}.items():
        assert gcp_apis.AGENT_APIS[agent] == api
    assert gcp_apis.REQUESTED_AGENTS <= set(gcp_apis.AGENT_APIS)
    # the renderer's split: agents that appear with their API are not requested, the others are
    implicit = set(context.IMPLICIT_AGENTS.values())
    assert {d.split(".")[0] for d in implicit} & gcp_apis.REQUESTED_AGENTS == set()
    requested = {a for a in keys.KEY_AGENTS if a not in context.IMPLICIT_AGENTS and a != "storage"}
    assert {f"gcp-sa-{a}" for a in requested} <= gcp_apis.REQUESTED_AGENTS
