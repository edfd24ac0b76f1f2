"""The Flex Consumption package deployment against a local stand-in of the app's SCM site.

The provider runs as Pulumi's dynamic-provider process would run it (create, update, diff),
with a stub credential and the retry and poll delays shrunk to zero; the tests assert on the
requests the stand-in received (tests/support/publish_endpoint.py). Rendering goes through the
mock engine and must make no request and import no azure-identity.
"""

from __future__ import annotations

import base64
import io
import json
import socket
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace

import dill
import pulumi
import pytest
import requests
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc

from components.azure import deploy
from components.azure.deploy import DeployError, PackageDeployment, PublishProvider, build_zip, write_package
from components.mock_engine import render
from tests.support.publish_endpoint import ACCEPTED, DEPLOYMENT_ID, SUCCEEDED, PublishEndpoint

APP = "func-orders-create-order"
TOKEN = "test-token"


class StubCredential:
    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str) -> SimpleNamespace:
        self.scopes.append(scopes)
        return SimpleNamespace(token=TOKEN)


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch):
    monkeypatch.setattr(deploy, "DENIED_RETRY_DELAY_S", 0)
    monkeypatch.setattr(deploy, "POLL_INTERVAL_S", 0)


@pytest.fixture
def package(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "function_app.py").write_text("import azure.functions as func\n")
    archive = pulumi.AssetArchive({"function_app.py": pulumi.FileAsset(str(tmp_path / "src" / "function_app.py")),
                                   "host.json": pulumi.StringAsset('{"version": "2.0"}')})
    return write_package(archive, str(tmp_path / "packages"))


@pytest.fixture
def endpoints():
    started: list[PublishEndpoint] = []

    def start(**script) -> PublishEndpoint:
        started.append(PublishEndpoint(**script))
        return started[-1]

    yield start
    for endpoint in started:
        endpoint.close()


def props(package, host: str, /, **overrides) -> dict:
    return {"appName": APP, "scmHost": host, "package": package.path, "contentHash": package.digest, **overrides}


def deploy_to(endpoint: PublishEndpoint, package) -> dict:
    return PublishProvider(credential=StubCredential).create(props(package, endpoint.host)).outs


def test_create_posts_the_package_to_one_deploy_with_the_bearer_token_and_polls_its_record(endpoints, package):
    endpoint = endpoints()
    credential = StubCredential()
    provider = PublishProvider(credential=lambda: credential)
    result = provider.create(props(package, endpoint.host))

    (post,) = endpoint.of("POST", "/api/publish")
    assert post.query == {"RemoteBuild": ["true"]}
    assert post.headers["Content-Type"] == "application/zip"
    assert post.headers["Authorization"] == f"Bearer {TOKEN}"
    assert post.body == Path(package.path).read_bytes()
    assert credential.scopes == [("https://management.azure.com/.default",)]
    (poll,) = endpoint.of("GET", f"/api/deployments/{DEPLOYMENT_ID}")
    assert poll.headers["Authorization"] == f"Bearer {TOKEN}"
    assert result.id == APP
    assert result.outs == {**props(package, endpoint.host), "deploymentId": DEPLOYMENT_ID}


def test_a_slow_build_is_polled_until_it_succeeds(endpoints, package):
    building = {"id": DEPLOYMENT_ID, "status": 1, "complete": False}
    # A record not written yet (404), one without a status, then building, deploying, done.
    endpoint = endpoints(records=[None, {}, building, building, {**building, "status": 2}, SUCCEEDED])
    assert deploy_to(endpoint, package)["deploymentId"] == DEPLOYMENT_ID
    assert len(endpoint.of("GET", f"/api/deployments/{DEPLOYMENT_ID}")) == 6


def test_a_deployment_failing_after_an_accepted_publish_raises_with_its_status_text_and_log(endpoints, package):
    log = f"https://{APP}.scm.azurewebsites.net/api/deployments/{DEPLOYMENT_ID}/log"
    failed = {"id": DEPLOYMENT_ID, "status": 3, "status_text": "Remote build failed:\npip exited with 1",
              "log_url": log}
    endpoint = endpoints(publishes=[(200, json.dumps(DEPLOYMENT_ID))], records=[failed])
    with pytest.raises(DeployError) as error:
        deploy_to(endpoint, package)
    assert str(error.value) == (f"{APP}: deployment {DEPLOYMENT_ID} failed: Remote build failed: pip exited with 1; "
                                f"log: {log}")


@pytest.mark.parametrize("status, says", [(-1, "was cancelled"), (5, "was cancelled by a newer deployment"),
                                          (6, "partially succeeded"), (7, "ended with status 7")])
def test_every_other_final_status_is_a_failure(endpoints, package, status, says):
    endpoint = endpoints(records=[{"status": status}])
    with pytest.raises(DeployError, match=f"^{APP}: deployment {DEPLOYMENT_ID} {says}: no status text; log: "
                                          f"http://{endpoint.host}/api/deployments/{DEPLOYMENT_ID}/log$"):
        deploy_to(endpoint, package)


def test_a_first_refusal_is_retried_once_after_the_pause(endpoints, package):
    endpoint = endpoints(publishes=[(403, "Forbidden"), ACCEPTED])
    assert deploy_to(endpoint, package)["deploymentId"] == DEPLOYMENT_ID
    posts = endpoint.of("POST", "/api/publish")
    assert len(posts) == 2 and posts[0].body == posts[1].body


def test_a_second_refusal_says_which_role_the_deployer_needs(endpoints, package):
    endpoint = endpoints(publishes=[(403, "Forbidden")])
    with pytest.raises(DeployError, match=f"^{APP}: the SCM site refused the deploying identity \\(403\\) twice: "
                                          "it needs Website Contributor"):
        deploy_to(endpoint, package)
    assert len(endpoint.of("POST", "/api/publish")) == 2
    assert endpoint.of("GET", f"/api/deployments/{DEPLOYMENT_ID}") == []


def test_a_deployment_container_the_app_cannot_write_yet_is_retried_then_names_the_apps_role(endpoints, package):
    blob = (400, "BlobUploadFailedException: Failed to upload blob to storage account: Response status code 403")
    assert deploy_to(endpoints(publishes=[blob, ACCEPTED]), package)["deploymentId"] == DEPLOYMENT_ID
    endpoint = endpoints(publishes=[blob])
    with pytest.raises(DeployError, match="the app's identity needs Storage Blob Data Contributor on that container"):
        deploy_to(endpoint, package)
    assert len(endpoint.of("POST", "/api/publish")) == 2


@pytest.mark.parametrize("status, says", [
    (401, "the SCM site rejected the token \\(401\\)"),
    (409, "another deployment is in progress \\(409\\)"),
    (500, "POST http://.*/api/publish\\?RemoteBuild=true answered 500: upstream down"),
])
def test_other_refused_publishes_raise_once_without_polling(endpoints, package, status, says):
    endpoint = endpoints(publishes=[(status, "upstream\ndown")])
    with pytest.raises(DeployError, match=f"^{APP}: {says}"):
        deploy_to(endpoint, package)
    assert len(endpoint.received) == 1


def test_a_publish_that_names_no_deployment_polls_the_latest(endpoints, package):
    endpoint = endpoints(publishes=[(202, "")])
    assert deploy_to(endpoint, package)["deploymentId"] == DEPLOYMENT_ID
    assert [r.path for r in endpoint.of("GET", "/api/deployments/latest")] == ["/api/deployments/latest"]


def test_a_deployment_still_running_when_the_wait_runs_out_raises(endpoints, package, monkeypatch):
    monkeypatch.setattr(deploy, "DEPLOY_TIMEOUT_S", 0)
    endpoint = endpoints(records=[{"id": DEPLOYMENT_ID, "status": 1}])
    with pytest.raises(DeployError, match=f"^{APP}: deployment {DEPLOYMENT_ID} still building after 0 s; "
                                          f"see http://{endpoint.host}/api/deployments/{DEPLOYMENT_ID}$"):
        deploy_to(endpoint, package)


def test_an_unreachable_site_is_one_line_naming_the_app(package):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        host = f"127.0.0.1:{probe.getsockname()[1]}"
    with pytest.raises(DeployError) as error:
        PublishProvider(credential=StubCredential).create(props(package, host))
    message = str(error.value)
    assert message.startswith(f"{APP}: POST http://{host}/api/publish?RemoteBuild=true failed: ConnectionError: ")
    assert "\n" not in message


def test_no_credential_is_one_line_naming_the_app(endpoints, package):
    from azure.core.exceptions import ClientAuthenticationError

    class NoCredential:
        def get_token(self, *scopes):
            raise ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token.\nAttempted: az login")

    endpoint = endpoints()
    with pytest.raises(DeployError) as error:
        PublishProvider(credential=NoCredential).create(props(package, endpoint.host))
    assert str(error.value) == (f"{APP}: no Azure token to deploy with: "
                                "DefaultAzureCredential failed to retrieve a token. Attempted: az login")
    assert endpoint.received == []


def test_a_missing_package_is_named(package, tmp_path):
    with pytest.raises(DeployError, match=f"^{APP}: cannot read the package .*gone.zip: No such file"):
        PublishProvider(credential=StubCredential).create(props(package, "127.0.0.1:9",
                                                                package=str(tmp_path / "gone.zip")))


def test_update_redeploys(endpoints, package):
    endpoint = endpoints()
    provider = PublishProvider(credential=StubCredential)
    olds = {**props(package, endpoint.host, contentHash="old"), "deploymentId": "dep-0"}
    result = provider.update(APP, olds, props(package, endpoint.host))
    assert result.outs["contentHash"] == package.digest and result.outs["deploymentId"] == DEPLOYMENT_ID
    assert len(endpoint.of("POST", "/api/publish")) == 1


def test_diff_changes_exactly_when_the_content_hash_or_the_app_does():
    olds = {"appName": APP, "scmHost": f"{APP}.scm.azurewebsites.net", "package": "/a/1.zip", "contentHash": "h1",
            "deploymentId": DEPLOYMENT_ID}
    diff = PublishProvider().diff

    same = diff(APP, olds, {**olds, "package": "/elsewhere/1.zip"})
    assert (same.changes, same.replaces) == (False, [])
    new_code = diff(APP, olds, {**olds, "contentHash": "h2"})
    assert (new_code.changes, new_code.replaces) == (True, [])
    new_app = diff(APP, olds, {**olds, "appName": "func-other", "scmHost": "func-other.scm.azurewebsites.net"})
    assert (new_app.changes, new_app.replaces, new_app.delete_before_replace) == (True, ["appName", "scmHost"], False)
    unknown_host = diff(APP, olds, {**olds, "scmHost": rpc.UNKNOWN})
    assert (unknown_host.changes, unknown_host.replaces) == (True, [])


def test_the_zip_is_deterministic_and_holds_every_entry(tmp_path):
    (tmp_path / "b.py").write_text("b = 1\n")
    archive = pulumi.AssetArchive({"z/b.py": pulumi.FileAsset(str(tmp_path / "b.py")),
                                   "a.json": pulumi.StringAsset("{}")})
    zipped = build_zip(archive)
    assert zipped == build_zip(archive)
    with zipfile.ZipFile(io.BytesIO(zipped)) as z:
        assert [(i.filename, i.date_time) for i in z.infolist()] == [("a.json", (1980, 1, 1, 0, 0, 0)),
                                                                     ("z/b.py", (1980, 1, 1, 0, 0, 0))]
        assert z.read("z/b.py") == b"b = 1\n" and z.read("a.json") == b"{}"


def test_the_package_file_is_named_by_its_digest_which_follows_the_content(tmp_path):
    def archive() -> pulumi.AssetArchive:
        return pulumi.AssetArchive({"f.py": pulumi.FileAsset(str(tmp_path / "f.py"))})

    (tmp_path / "f.py").write_text("x = 1\n")
    first = write_package(archive(), str(tmp_path))
    assert first.path == str(tmp_path / f"{first.digest}.zip")
    assert Path(first.path).read_bytes() == build_zip(archive())
    (tmp_path / "f.py").write_text("x = 2\n")
    assert write_package(archive(), str(tmp_path)).digest != first.digest


def test_the_provider_pickles_as_a_reference_to_this_module_with_no_state():
    raw = base64.b64decode(serialize_provider(PublishProvider()))
    assert len(raw) < 200 and b"components.azure.deploy" in raw
    restored = dill.loads(raw)
    assert type(restored) is PublishProvider and restored.credential is None


def test_rendering_records_the_inputs_and_makes_no_request(monkeypatch):
    def no_request(*args, **kwargs):
        raise AssertionError("rendering made an HTTP request")

    monkeypatch.setattr(requests.Session, "request", no_request)
    monkeypatch.setitem(sys.modules, "azure.identity", None)  # importing it would raise

    def program():
        PackageDeployment("create-order-code", app_name=APP, scm_host=f"{APP}.scm.azurewebsites.net",
                          package="/tmp/packages/abc.zip", content_hash="abc")

    (recorded,) = render(program, {}).resources
    assert recorded.type == "pulumi-python:dynamic:Resource" and recorded.name == "create-order-code"
    inputs = {k: v for k, v in recorded.inputs.items() if k != "__provider"}
    assert inputs == {"appName": APP, "scmHost": f"{APP}.scm.azurewebsites.net", "package": "/tmp/packages/abc.zip",
                      "contentHash": "abc"}
    assert "__provider" in recorded.inputs
