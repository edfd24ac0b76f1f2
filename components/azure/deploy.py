"""The code of a Flex Consumption function app, deployed by the Pulumi program itself.

Flex takes code only through "one deploy": the zip is POSTed to the app's SCM site
(`/api/publish?RemoteBuild=true`, which stores it in the app's deployment container and builds
the Python dependencies there). pulumi-azure-native has no resource for that, and a
`local.Command` would need the az or func CLI on every machine that deploys, so this module is a
dynamic resource whose provider makes the requests the az CLI and the .NET SDK's OneDeploy make,
with a bearer token from azure-identity.

The endpoint answers 200/202 before the deployment has run, and a failed deployment is visible
only in its status record, so the provider polls that record until it ends (or the wait runs
out) and raises, naming the app and the log, unless the deployment succeeded. A first refusal is
retried once after a pause: a role assignment made in the same `pulumi up` takes minutes to apply.

The package is a zip file the program writes under a name that is its content digest; its path
and digest are the resource's inputs, so the state stays small and a redeploy happens exactly
when the code (or the app) changes. Deleting the resource does nothing: deleting the app deletes
its code.

Pulumi pickles the provider into the stack (dill); it is pickled by reference to this module and
carries no state, and requests and azure-identity are imported only when a deployment runs, so
rendering (which the offline check does many times) neither loads them nor makes a request.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import re
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi.dynamic
from pulumi.runtime import rpc

#: The token audience of the SCM site's Entra sign-in: Azure Resource Manager, as the az CLI asks for.
SCOPE = "https://management.azure.com/.default"
PUBLISH_PATH = "/api/publish"
PUBLISH_QUERY = "RemoteBuild=true"
#: Kudu deployment statuses (projectkudu/kudu DeployStatus; Flex adds -1, 5 and 6, as the az CLI
#: and the .NET SDK's OneDeploy read them). 0-2 are still running; 4 is the only success.
RUNNING = {0: "pending", 1: "building", 2: "deploying"}
SUCCESS = 4
ENDED = {-1: "was cancelled", 3: "failed", 5: "was cancelled by a newer deployment", 6: "partially succeeded"}

#: Seconds before retrying a refused publish (role assignments take minutes to apply).
DENIED_RETRY_DELAY_S = 120.0
POLL_INTERVAL_S = 2.0
#: The longest wait for one deployment, remote build included.
DEPLOY_TIMEOUT_S = 900.0
#: (connect, read) seconds per request; the read covers the upload of the package.
REQUEST_TIMEOUT_S = (15.0, 600.0)
#: Hosts reached over plain http: only a stand-in on this machine.
LOCAL_HOSTS = ("127.0.0.1", "localhost")
#: What a refusal means and who needs which role, by cause.
DENIALS = {
    "deployer": "the SCM site refused the deploying identity (403) twice: it needs Website Contributor "
                "(or Contributor) on the function app, and a new role assignment can take minutes to apply",
    "app": "the app could not write the package to its deployment container (BlobUploadFailedException) twice: "
           "the app's identity needs Storage Blob Data Contributor on that container, and a new role assignment "
           "can take minutes to apply",
}
#: Fixed zip entry metadata, so a package is a function of its file names and contents.
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
ZIP_MODE = 0o644 << 16
DEPLOYMENT_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")


class DeployError(Exception):
    """A deployment that did not succeed; the message is one line and names the app."""


@dataclass(frozen=True)
class Package:
    path: str
    #: sha256 over the sorted entry names and contents: the content hash a deployment keys on.
    digest: str


def _entries(archive: pulumi.AssetArchive) -> list[tuple[str, bytes]]:
    entries = []
    for name in sorted(archive.assets):
        asset = archive.assets[name]
        if isinstance(asset, pulumi.FileAsset):
            entries.append((name, Path(asset.path).read_bytes()))
        elif isinstance(asset, pulumi.StringAsset):
            entries.append((name, asset.text.encode()))
        else:
            raise TypeError(f"package entry {name}: {type(asset).__name__} is neither a FileAsset nor a StringAsset")
    return entries


def _zip(entries: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries:
            info = zipfile.ZipInfo(name, ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = ZIP_MODE
            archive.writestr(info, content)
    return out.getvalue()


def _digest(entries: list[tuple[str, bytes]]) -> str:
    digest = hashlib.sha256()
    for name, content in entries:
        digest.update(name.encode() + b"\0" + hashlib.sha256(content).digest())
    return digest.hexdigest()


def build_zip(archive: pulumi.AssetArchive) -> bytes:
    """The archive as a zip with sorted names and fixed timestamps and modes."""
    return _zip(_entries(archive))


@functools.cache
def write_package(archive: pulumi.AssetArchive, directory: str) -> Package:
    """The archive's zip in `directory`, named by its digest and written only if absent (once per
    process). The digest ignores compression, so another zlib does not redeploy unchanged code."""
    entries = _entries(archive)
    digest = _digest(entries)
    path = Path(directory).resolve() / f"{digest}.zip"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        partial.write_bytes(_zip(entries))
        os.replace(partial, path)
    return Package(path=str(path), digest=digest)


def _one_line(text: Any) -> str:
    return " ".join(str(text).split())


def _base_url(scm_host: str) -> str:
    scheme = "http" if scm_host.split(":", 1)[0] in LOCAL_HOSTS else "https"
    return f"{scheme}://{scm_host}"


def _default_credential() -> Any:
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


def _request(http: Any, method: str, url: str, app: str, **kwargs: Any) -> Any:
    import requests

    try:
        return http.request(method, url, timeout=REQUEST_TIMEOUT_S, **kwargs)
    except requests.RequestException as error:
        raise DeployError(f"{app}: {method} {url} failed: {type(error).__name__}: {_one_line(error)}") from error


def _denial(answer: Any) -> str | None:
    """Which refusal a publish answer is, if it is one a fresh role assignment explains."""
    if answer.status_code == 403:
        return "deployer"
    if answer.status_code == 400 and "BlobUploadFailedException" in answer.text:
        return "app"
    return None


def _publish(http: Any, base: str, body: bytes, app: str) -> Any:
    url = f"{base}{PUBLISH_PATH}?{PUBLISH_QUERY}"

    def post() -> Any:
        return _request(http, "POST", url, app, data=body, headers={"Content-Type": "application/zip"})

    answer = post()
    if _denial(answer):
        time.sleep(DENIED_RETRY_DELAY_S)
        answer = post()
        denial = _denial(answer)
        if denial:
            raise DeployError(f"{app}: {DENIALS[denial]}")
    if answer.status_code == 401:
        raise DeployError(f"{app}: the SCM site rejected the token (401): sign in as an identity of the app's tenant")
    if answer.status_code == 409:
        raise DeployError(f"{app}: another deployment is in progress (409); see {base}/api/deployments/latest")
    if answer.status_code not in (200, 202):
        raise DeployError(f"{app}: POST {url} answered {answer.status_code}: {_one_line(answer.text)[:300]}")
    return answer


def _deployment_id(answer: Any) -> str:
    """The id the publish answer names (a bare or JSON-quoted string), else "latest" as the az CLI polls."""
    text = answer.text.strip().strip('"')
    return text if DEPLOYMENT_ID.fullmatch(text) else "latest"


def _failure(app: str, base: str, deployment: str, record: dict[str, Any]) -> str:
    status = record.get("status")
    ended = ENDED.get(status, f"ended with status {status}")
    text = _one_line(record.get("status_text") or record.get("message") or "no status text")
    log = record.get("log_url") or f"{base}/api/deployments/{deployment}/log"
    return f"{app}: deployment {record.get('id') or deployment} {ended}: {text}; log: {log}"


def _record(answer: Any, url: str, app: str) -> dict[str, Any]:
    """The deployment record a status answer holds; a 404 is a record not written yet."""
    if answer.status_code == 404:
        return {}
    if answer.status_code != 200:
        raise DeployError(f"{app}: GET {url} answered {answer.status_code}: {_one_line(answer.text)[:300]}")
    try:
        record = answer.json()
    except ValueError:
        record = None
    if not isinstance(record, dict):
        raise DeployError(f"{app}: GET {url} answered no deployment record: {_one_line(answer.text)[:300]}")
    return record


def _wait(http: Any, base: str, deployment: str, app: str) -> dict[str, Any]:
    """Poll the deployment record until it ends, or raise when it fails or the wait runs out."""
    url = f"{base}/api/deployments/{deployment}"
    deadline = time.monotonic() + DEPLOY_TIMEOUT_S
    while True:
        record = _record(_request(http, "GET", url, app), url, app)
        status = record.get("status") or 0
        if status == SUCCESS:
            return record
        if status not in RUNNING:
            raise DeployError(_failure(app, base, deployment, record))
        if time.monotonic() >= deadline:
            raise DeployError(f"{app}: deployment {deployment} still {RUNNING[status]} after {DEPLOY_TIMEOUT_S:.0f} s; "
                              f"see {url}")
        time.sleep(POLL_INTERVAL_S)


class PublishProvider(pulumi.dynamic.ResourceProvider):
    """Deploys on create and update; diff keys on the content hash, a new app or host replaces."""

    def __init__(self, credential: Callable[[], Any] | None = None) -> None:
        super().__init__()
        #: Makes the azure-identity credential (DefaultAzureCredential unless a test injects one).
        self.credential = credential

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        def differs(key: str) -> bool:
            return olds.get(key) != news.get(key)

        # A value unknown in a preview is a change, not yet a replacement.
        replaces = [k for k in ("appName", "scmHost") if differs(k) and news.get(k) != rpc.UNKNOWN]
        changed = any(differs(k) for k in ("appName", "scmHost", "contentHash"))
        return pulumi.dynamic.DiffResult(changes=changed, replaces=replaces, delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        return pulumi.dynamic.CreateResult(id_=props["appName"], outs=self._deploy(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        return pulumi.dynamic.UpdateResult(outs=self._deploy(news))

    def _token(self, app: str) -> str:
        from azure.core.exceptions import ClientAuthenticationError

        credential = (self.credential or _default_credential)()
        try:
            return credential.get_token(SCOPE).token
        except ClientAuthenticationError as error:
            raise DeployError(f"{app}: no Azure token to deploy with: {_one_line(error.message)}") from error

    def _deploy(self, props: dict[str, Any]) -> dict[str, Any]:
        import requests

        app = props["appName"]
        try:
            body = Path(props["package"]).read_bytes()
        except OSError as error:
            raise DeployError(f"{app}: cannot read the package {props['package']}: {error.strerror}") from error
        base = _base_url(props["scmHost"])
        with requests.Session() as http:
            http.headers["Authorization"] = f"Bearer {self._token(app)}"
            deployment = _deployment_id(_publish(http, base, body, app))
            record = _wait(http, base, deployment, app)
        keys = ("appName", "scmHost", "package", "contentHash")
        return {**{k: props[k] for k in keys}, "deploymentId": record.get("id") or deployment}


class PackageDeployment(pulumi.dynamic.Resource):
    """One app's code package, deployed with one deploy.

    `scm_host` is the app's SCM host name (e.g. `<app>.scm.azurewebsites.net`, or the
    `Repository` entry of the app's host names); `package` and `content_hash` are a
    `write_package` result's path and digest."""

    def __init__(self, name: str, *, app_name: pulumi.Input[str], scm_host: pulumi.Input[str],
                 package: pulumi.Input[str], content_hash: pulumi.Input[str],
                 opts: pulumi.ResourceOptions | None = None) -> None:
        props = {"appName": app_name, "scmHost": scm_host, "package": package, "contentHash": content_hash}
        super().__init__(PublishProvider(), name, props, opts)
