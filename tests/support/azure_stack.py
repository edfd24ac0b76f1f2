"""The rendered Azure dev stack running here: every function app through the Azure entry.

- Each rendered Function App (`azure-native:web:WebApp`) becomes an `entry.Instance` (or, for
  the orchestrator app, an `entry.Starter`) built from exactly its rendered app settings, with
  only the endpoints mapped to local stand-ins: the data account's queue endpoint to Azurite
  (every rendered `storage:Queue` created there by its rendered `queueName`, poison queues
  included), Cosmos DB containers to the in-memory stand-in (tests/support/cosmos_standin.py,
  given to azure-cosmos as its transport; each container created with its rendered partition key
  path and composite indexes), and Key Vault references resolved to the stack's secret value,
  as App Service does before the app starts.
- The apps' triggers are the functions `entry.create_app(settings)` registers, called with what
  the Functions host would give them (`func.HttpRequest`, a `func.QueueMessage` made by the
  worker's own converter); only the Durable client binding is built here (see below).
- API Management is played from the rendered API: the operation whose method and URL template
  match, its policy's JWT validation (`validate-jwt`: scheme, issuer, audience and expiry; not
  the signature), the headers the API and operation policies set or delete, its backend
  (`set-backend-service`), then the backend's URL (`https://<app>/api`) + the path, with the
  token `authentication-managed-identity` gets: signed by the local Entra ID stand-in
  (tests/support/azure_callers.py) for the policy's `resource`, issued to the user-assigned
  identity whose client id the policy names (which the service must hold). App Service
  authentication in front of each HTTP-reached app is played from the rendered
  `WebAppAuthSettingsV2`: the token's signature, its issuer (`openIdIssuer`), an allowed
  audience and an allowed identity (`oid`), else 401 before the app runs. Behind it the app
  verifies the token itself, with the keys of the Entra ID stand-in (the one setting the
  harness adds to an app's rendered settings: `ANYCLOUD_CALLER_KEYS_URL`, a loopback address).
  `direct` reaches an app with App Service authentication letting everything through, as it
  might on Flex Consumption.
- The queue listener of the Functions host is played on Azurite: receive up to `batchSize`
  messages, Base64-decode each (the host's default `messageEncoding`), call the trigger; delete
  the message on success; on a failure make it visible again (an Update Message with a zero
  visibility timeout: the rendered 30 s retry delay is not waited for) and, once its dequeue
  count reaches the app's `maxDequeueCount`, copy it to `<queue>-poison` and delete it (also
  when a message arrives already dequeued more often than that, or is not Base64: the queue
  extension's QueueProcessor and its MessageDecodingFailed handler do the same).
- A table stream's consumer app: its registered Cosmos DB trigger is played by
  tests/support/azure_change_feed.py over the stand-in's change feed (leases in the rendered lease
  container, the app's retry policy, checkpoints, a crashed host's lease taken over after it
  expires); each invocation gets the documents through the worker's own Cosmos DB converter and a
  ``func.Context`` carrying the retry count.
- A host may die (`ProcessDied`, injected by a test): the invocation ends there; a queue message it
  held becomes visible again (its visibility timeout passes), a change feed lease is taken over,
  and the app gets a new process (`restart`: a new instance, nothing kept in memory).
- Durable: the orchestrator app's `start` gets a real `DurableOrchestrationClient` (its binding
  JSON names the rendered task hub) whose two HTTP calls to the extension are answered here, as
  the SDK's own tests do: `start_new` runs the orchestration to its end on the real SDK
  (tests/support/durable_driver.py) with the generic orchestrator, replacing an instance that
  is not running (`overridableExistingInstanceStates: NonRunningStates`) and refusing one that
  is (two starts at once); `get_status` reports the instances it ran or runs (404 otherwise). Each durable HTTP call goes to the task app at its URI
  with a token the Entra ID stand-in signs for the call's audience (its token source) and the
  orchestrator app's identity, through App Service authentication.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import azure.functions as func
import jwt
from azure.core.credentials import AccessToken
from azure.core.exceptions import ResourceExistsError
from azure.durable_functions import DurableOrchestrationClient
from azure.functions.cosmosdb import CosmosDBTriggerConverter
from azure.functions.meta import Datum
from azure.functions.queue import QueueMessageInConverter

from components.azure.mocks import TENANT
from components.mock_engine import Recorded, Rendering
from runtime.azure import cosmos, entry
from runtime.azure.callers import CALLERS, KEYS_URL
from runtime.azure.durable import orchestrator
from runtime.azure.messaging import Clients
from runtime.dispatch import match_route
from tests.support import durable_driver
from tests.support.azure_callers import EntraStandIn
from tests.support.azure_change_feed import ChangeFeedTrigger, Clock, Invocation
from tests.support.faults import ProcessDied
from tests.support.azurite import ACCOUNT, Azurite
from tests.support.cosmos_standin import TOKEN, CosmosStandIn

WEB_APP = "azure-native:web:WebApp"
APIM = "azure-native:apimanagement"
QUEUES_SECTION = "AzureFunctionsJobHost__extensions__queues__"
DURABLE_SECTION = "AzureFunctionsJobHost__extensions__durableTask__"
KEY_VAULT_REFERENCE = re.compile(r"^@Microsoft\.KeyVault\(SecretUri=(?P<uri>[^)]+)\)$")
#: Pulumi's marker of a secret value in recorded inputs (pulumi.runtime.rpc).
SECRET_SIG_KEY, SECRET_SIG = "4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270"
#: The Durable extension's local RPC endpoint, as its client binding names it (never dialled).
RPC_BASE = "http://127.0.0.1:17071/durabletask/"
#: The Functions host's HTTP route prefix (host.json `extensions.http.routePrefix`).
ROUTE_PREFIX = "/api"


class FakeCredential:
    """A TokenCredential, as the app's managed identity is (the Cosmos stand-in checks the token)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(TOKEN, 4_102_444_800)


@dataclass
class RetryContext:
    """What the worker's ``context.retry_context`` holds (azure.functions' abstract RetryContext)."""

    retry_count: int
    max_retry_count: int
    exception: Any = None


@dataclass
class InvocationContext:
    """The ``context`` the Python worker passes a function that asks for one (azure.functions.Context)."""

    invocation_id: str
    function_name: str
    retry_context: RetryContext
    function_directory: str = "/home/site/wwwroot"
    trace_context: Any = None
    thread_local_storage: Any = None


class Refused:
    """Injected into an app's queue client: the next `times` sends to queue URLs ending in `suffix` fail
    as Storage fails a caller its role does not (yet) allow (403 AuthorizationPermissionMismatch, which
    the client does not retry), then sends go through."""

    def __init__(self, client: Any, suffix: str, times: int):
        self._client, self._suffix, self.left = client, suffix, times

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if name != "send_message" or not self._client.url.endswith(self._suffix):
            return attr

        def send_message(*args, **kwargs):
            if self.left > 0:
                from azure.core.exceptions import ClientAuthenticationError

                self.left -= 1
                raise ClientAuthenticationError(message="This request is not authorized to perform this operation "
                                                        "using this permission.\nErrorCode:AuthorizationPermissionMismatch")
            return attr(*args, **kwargs)
        return send_message


def run_async(coroutine):
    """A coroutine on a loop of its own, closed after (asyncio.run would leave the thread with
    no loop, which the Pulumi tests after these on the same worker need)."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.close()


def unsecret(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(SECRET_SIG_KEY) == SECRET_SIG:
            return unsecret(value["value"])
        return {k: unsecret(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unsecret(v) for v in value]
    return value


def app_settings(web: Recorded) -> dict[str, str]:
    """A Function App's rendered app settings (the host gives them to the app as its environment)."""
    return {s["name"]: str(s["value"]) for s in web.inputs["siteConfig"]["appSettings"]}


def queue_endpoint(rendering: Rendering) -> str:
    """The queue endpoint of the one storage account that holds the rendered queues."""
    (account,) = {q.inputs["accountName"] for q in rendering.of_type("azure-native:storage:Queue")}
    return f"https://{account}.queue.core.windows.net/"


def key_vault_value(rendering: Rendering, uri: str) -> str:
    """What App Service puts in place of a Key Vault reference: the secret's current value."""
    parts = urlsplit(uri)
    name = parts.path.strip("/").split("/")[1]
    (vault,) = [v for v in rendering.of_type("azure-native:keyvault:Vault")
                if v.outputs["properties"]["vaultUri"] == f"https://{parts.netloc}/"]
    (secret,) = [s for s in rendering.of_type("azure-native:keyvault:Secret")
                 if s.inputs["vaultName"] == vault.inputs["vaultName"] and s.inputs["secretName"] == name]
    return unsecret(secret.inputs["properties"])["value"]


def as_seen(rendering: Rendering, settings: dict[str, str], azurite_address: str) -> dict[str, str]:
    """The settings as the app reads them here: the queue endpoint on Azurite, Key Vault
    references replaced with the secret's value; everything else unchanged."""
    endpoint = queue_endpoint(rendering)
    out = {}
    for name, value in settings.items():
        if value.startswith(endpoint):
            value = f"http://{azurite_address}/{ACCOUNT}/{value[len(endpoint):]}"
        elif ".queue.core.windows.net" in value:
            raise AssertionError(f"{name}: {value} is on a storage account that holds no rendered queue")
        elif reference := KEY_VAULT_REFERENCE.match(value):
            value = key_vault_value(rendering, reference["uri"])
        out[name] = value
    return out


def bearer(claims: dict[str, Any]) -> str:
    """`Bearer <JWT>` with `claims` (unsigned: the harness trusts the signature, see `jwt_accepted`)."""
    encode = lambda part: base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")  # noqa: E731
    return f"Bearer {encode({'alg': 'RS256', 'kid': 'k-1'})}.{encode(claims)}.c2lnbmF0dXJl"


def jwt_accepted(policy: ET.Element, authorization: str) -> bool:
    """API Management's `validate-jwt`, but for the signature (the issuer's keys are not here):
    the scheme, an issuer and an audience of the policy's, and an expiry in the future."""
    scheme, _, token = authorization.partition(" ")
    parts = token.split(".")
    if scheme != policy.get("require-scheme", "Bearer") or len(parts) != 3:
        return False
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return False
    audiences = {a.text for a in policy.iter("audience")}
    issuers = {i.text for i in policy.iter("issuer")}
    aud = claims.get("aud")
    return (claims.get("iss") in issuers and bool(audiences & set(aud if isinstance(aud, list) else [aud]))
            and isinstance(claims.get("exp"), (int, float)) and claims["exp"] > time.time())


@dataclass
class App:
    """One Function App: its rendered settings, what runs it here, and who may call it."""

    name: str
    host: str
    settings: dict[str, str]  # as rendered
    env: dict[str, str]  # as the app sees them: endpoints mapped, Key Vault references resolved
    functions: dict[str, Any]  # registered function name -> azure.functions FunctionBuilder's function
    principal: str  # the app's user-assigned identity
    instance: entry.Instance | None = None
    starter: entry.Starter | None = None
    issuer: str | None = None  # App Service authentication, when on: openIdIssuer,
    audiences: list[str] = field(default_factory=list)  # allowed audiences
    callers: list[str] = field(default_factory=list)  # and allowed identities

    @property
    def triggers(self) -> set[str]:
        return {t for t in self.settings.get("ANYCLOUD_TRIGGERS", "").split(",") if t}


@dataclass
class Delivery:
    """One invocation of a queue trigger: the app, the message, its dequeue count and outcome."""

    app: str
    queue: str
    message_id: str
    text: str
    dequeue_count: int
    outcome: str  # "ok" or the exception's type name


@dataclass
class Orchestration:
    instance_id: str
    execution: durable_driver.Execution
    targets: dict[str, str]  # task URI -> app name

    @property
    def status(self) -> str:
        return "Completed" if self.execution.status == "succeeded" else "Failed"

    @property
    def error(self) -> dict | None:
        return json.loads(self.execution.error) if self.execution.error else None

    @property
    def task_calls(self) -> list[str]:
        return [self.targets[uri] for uri, _ in self.execution.calls]


@dataclass
class AzureStack:
    rendering: Rendering
    azurite: Azurite
    cosmos: CosmosStandIn
    entra: EntraStandIn
    apps: dict[str, App] = field(default_factory=dict)
    queues: dict[str, str] = field(default_factory=dict)  # rendered logical name -> queueName
    deliveries: list[Delivery] = field(default_factory=list)
    orchestrations: list[Orchestration] = field(default_factory=list)
    http_calls: list[tuple[str, str, str, int]] = field(default_factory=list)  # (caller, app, path, status)
    #: Each consumer app's Cosmos DB trigger, and the time its leases and retries pass on.
    feeds: dict[str, ChangeFeedTrigger] = field(default_factory=dict)
    clock: Clock = field(default_factory=Clock)
    #: Task app name -> how many of its next answers the orchestrator loses (502 from the front end).
    lost_answers: dict[str, int] = field(default_factory=dict)
    #: Instance ids of orchestrations running now (a start for one of them is refused).
    running: set[str] = field(default_factory=set)
    _driver: durable_driver.Driver | None = None
    _local: threading.local = field(default_factory=threading.local)
    _hosts: dict[str, Any] = field(default_factory=dict)  # a change feed host -> its app's instance
    _saved: tuple = ()
    _lock: threading.RLock = field(default_factory=threading.RLock)

    # ------------------------------------------------------------------ set-up

    @classmethod
    def create(cls, rendering: Rendering, azurite: Azurite) -> AzureStack:
        (account,) = rendering.of_type("azure-native:cosmosdb:DatabaseAccount")
        stack = cls(rendering, azurite, CosmosStandIn(endpoint=account.outputs["documentEndpoint"]), EntraStandIn(TENANT))
        for container in rendering.of_type("azure-native:cosmosdb:SqlResourceSqlContainer"):
            resource = container.inputs["resource"]
            composite = [[(p["path"], p["order"]) for p in index]
                         for index in resource.get("indexingPolicy", {}).get("compositeIndexes", [])]
            stack.cosmos.add_container(container.inputs["databaseName"], resource["id"],
                                       resource["partitionKey"]["paths"][0], composite)
        for queue in rendering.of_type("azure-native:storage:Queue"):
            stack.queues[queue.name] = queue.inputs["queueName"]
            client = azurite.queue(queue.inputs["queueName"], create=False)
            try:
                client.create_queue()
            except ResourceExistsError:
                client.clear_messages()
        identities = {i.outputs["clientId"]: i.outputs["principalId"]
                      for i in rendering.of_type("azure-native:managedidentity:UserAssignedIdentity")}
        auth = {a.inputs["name"]: a.inputs["identityProviders"]["azureActiveDirectory"]
                for a in rendering.of_type("azure-native:web:WebAppAuthSettingsV2")}
        for web in rendering.of_type(WEB_APP):
            settings = app_settings(web)
            assert KEYS_URL not in settings, web.name
            env = as_seen(rendering, settings, azurite.address)
            if CALLERS in settings:  # the app verifies its callers with the stand-in's keys
                env[KEYS_URL] = stack.entra.keys_url
            app = App(web.name, web.outputs["defaultHostName"], settings, env,
                      {f.get_function_name(): f for f in entry.create_app(env).get_functions()},
                      identities[settings["AZURE_CLIENT_ID"]])
            aad = auth.get(web.inputs["name"])
            if aad is not None:
                app.issuer = aad["registration"]["openIdIssuer"]
                app.audiences = list(aad["validation"]["allowedAudiences"])
                app.callers = list(aad["validation"]["defaultAuthorizationPolicy"]["allowedPrincipals"]["identities"])
            stack.restart(app)
            stack.apps[web.name] = app
            for function in app.functions.values():
                if any(b.type == "cosmosDBTrigger" for b in function.get_bindings()):
                    stack.feeds[app.name] = ChangeFeedTrigger(
                        app, function, stack.cosmos, FakeCredential(), stack.clock,
                        invoke=lambda host, page, retry, a=app, f=function: stack._changes(a, f, host, page, retry),
                        restart=lambda a=app: stack.restart(a))
        # every app's registered functions reach the instance of the process running them (thread by thread)
        stack._saved = entry.instance, entry.starter
        entry.instance = lambda env=None: stack._local.instance
        entry.starter = lambda env=None: stack._local.app.starter
        return stack

    def restart(self, app: App) -> None:
        """A new process of `app`: its instance (or starter) made afresh from its settings."""
        clients = Clients(self.azurite.credential)
        if "orchestrator" in app.triggers:
            app.starter = entry.Starter(app.env, clients)
        else:
            tables = cosmos.Clients(FakeCredential(), transport=self.cosmos)
            app.instance = entry.Instance(app.env, clients=clients, container_for=tables.container)

    def refuse(self, app: str, queue: str, times: int) -> None:
        """The next `times` sends of `app` to the rendered queue `queue` are refused (see `Refused`)."""
        instance = self.apps[app].instance
        urls = [q.url for q in instance.resources.queues.values()] + \
            [w.start_url for w in instance.resources.workflows.values()]
        url = next(u for u in urls if u.endswith("/" + self.queues[queue]))
        clients = instance.clients
        clients._clients[url] = Refused(clients.get(url), "/" + self.queues[queue], times)  # noqa: SLF001

    def close(self) -> None:
        if self._saved:
            entry.instance, entry.starter = self._saved
        for queue in self.queues.values():
            self.azurite.queue(queue, create=False).delete_queue()
        self.entra.close()

    # ------------------------------------------------------------ App Service

    @contextmanager
    def _running(self, app: App, instance: Any = None) -> Iterator[None]:
        """The app's own process (`instance`, else its current one): its registered functions, called
        on this thread, reach that instance or the app's starter."""
        saved = getattr(self._local, "app", None), getattr(self._local, "instance", None)
        self._local.app, self._local.instance = app, instance or app.instance
        try:
            yield
        finally:
            self._local.app, self._local.instance = saved

    def _authorized(self, app: App, authorization: str) -> bool:
        """App Service authentication: a token Entra ID signed, from the configured issuer, for an
        allowed audience, of an allowed identity."""
        scheme, _, token = authorization.partition(" ")
        if app.issuer is None or scheme != "Bearer":
            return False
        try:
            claims = jwt.decode(token, self.entra.key.public_key(), algorithms=["RS256"], audience=app.audiences,
                                issuer=app.issuer)
        except jwt.PyJWTError:
            return False
        return claims.get("oid") in app.callers

    def _http(self, caller: str, app: App, method: str, path: str, headers: dict[str, str], body: bytes,
              query: dict[str, str] | None = None, easy_auth: bool = True) -> tuple[int, bytes, dict]:
        """A request to `https://<app>/api/<path>` through App Service authentication (unless
        `easy_auth` is False: it let the request through)."""
        authorization = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        if easy_auth and not self._authorized(app, authorization):
            self.http_calls.append((caller, app.name, path, 401))
            return 401, b"", {}
        assert path.startswith(ROUTE_PREFIX + "/"), path
        route = path[len(ROUTE_PREFIX) + 1:]
        (function,) = [f for f in app.functions.values()
                       if any(b.type == "httpTrigger" for b in f.get_bindings())]
        request = func.HttpRequest(method, f"https://{app.host}{path}", headers=headers, params=query or {},
                                   route_params={"path": route}, body=body)
        with self._running(app):
            response = function.get_user_function()(request)
        self.http_calls.append((caller, app.name, path, response.status_code))
        return response.status_code, response.get_body(), dict(response.headers)

    def direct(self, app: str, method: str, path: str, authorization: str | None, body: Any = None) -> dict:
        """A request that reaches `app` with App Service authentication letting it through."""
        headers = {"Content-Type": "application/json", **({"Authorization": authorization} if authorization else {})}
        status, answer, _ = self._http("direct", self.apps[app], method, f"{ROUTE_PREFIX}{path}", headers,
                                       json.dumps(body).encode() if body is not None else b"", easy_auth=False)
        return {"status": status, "json": json.loads(answer) if answer else None}

    def _identity(self, client_id: str) -> Recorded:
        (identity,) = [i for i in self.rendering.of_type("azure-native:managedidentity:UserAssignedIdentity")
                       if i.outputs["clientId"] == client_id]
        return identity

    def managed_identity_token(self, principal: str, audience: str) -> str:
        """`Bearer <token>` Entra ID gives the managed identity `principal` for `audience`."""
        return self.entra.bearer(principal, audience)

    # ---------------------------------------------------------- API Management

    def api(self, method: str, path: str, body: Any = None, headers: dict | None = None,
            query: dict | None = None) -> dict:
        """A client's request to the gateway, as API Management forwards it to the route app."""
        operation = None
        for op in self.rendering.of_type(f"{APIM}:ApiOperation"):
            if match_route([f"{op.inputs['method']} {op.inputs['urlTemplate']}"], method, path):
                operation = op
                break
        if operation is None:
            return {"status": 404, "json": {"statusCode": 404, "message": "Resource not found"}, "headers": {},
                    "body": "", "request_id": None}
        (api_policy,) = self.rendering.of_type(f"{APIM}:ApiPolicy")
        (op_policy,) = [p for p in self.rendering.of_type(f"{APIM}:ApiOperationPolicy")
                        if p.inputs["operationId"] == operation.inputs["operationId"]]
        (gateway,) = self.rendering.of_type(f"{APIM}:ApiManagementService")
        forwarded = {k: v for k, v in (headers or {}).items()}
        request_id = str(uuid.uuid4())  # context.RequestId
        authorization = next((v for k, v in forwarded.items() if k.lower() == "authorization"), "")
        expressions = {"@(context.RequestId.ToString())": request_id,
                       '@(context.Request.Headers.GetValueOrDefault("Authorization", ""))': authorization}
        backend_id, token = None, None
        for policy in (api_policy, op_policy):
            for element in ET.fromstring(policy.inputs["value"]).find("inbound"):
                if element.tag == "validate-jwt" and not jwt_accepted(element, authorization):
                    status = int(element.get("failed-validation-httpcode"))
                    return {"status": status, "json": {"statusCode": status, "message": "Unauthorized"}, "headers": {},
                            "body": "", "request_id": request_id}
                if element.tag == "set-header":
                    name = element.get("name")
                    forwarded = {k: v for k, v in forwarded.items() if k.lower() != name.lower()}
                    if element.get("exists-action") == "override":
                        forwarded[name] = expressions[element.find("value").text]
                elif element.tag == "set-backend-service":
                    backend_id = element.get("backend-id")
                elif element.tag == "authentication-managed-identity":
                    identity = self._identity(element.get("client-id"))
                    # Entra ID gives API Management tokens of the identities it holds only
                    assert identity.id in gateway.inputs["identity"]["userAssignedIdentities"], identity.name
                    token = self.managed_identity_token(identity.outputs["principalId"], element.get("resource"))
        forwarded = {k: v for k, v in forwarded.items() if k.lower() != "authorization"}
        if token is not None:
            forwarded["Authorization"] = token
        (backend,) = [b for b in self.rendering.of_type(f"{APIM}:Backend") if b.inputs["backendId"] == backend_id]
        base = urlsplit(backend.inputs["url"])
        (app,) = [a for a in self.apps.values() if a.host == base.netloc]
        raw = body if isinstance(body, bytes) else (b"" if body is None else
                                                    (body.encode() if isinstance(body, str) else json.dumps(body).encode()))
        status, answer, out = self._http("api-management", app, method, base.path.rstrip("/") + path, forwarded, raw,
                                         query)
        return {"status": status, "json": json.loads(answer) if answer else None, "body": answer.decode(),
                "headers": {k.lower(): v for k, v in out.items()}, "request_id": request_id}

    # ------------------------------------------------------------------ queues

    def queue_client(self, name: str):
        """A raw QueueClient (no message policy: the text as stored) of a rendered queue, by logical name."""
        return self.azurite.queue(self.queues[name], create=False)

    def send(self, name: str, text: str) -> None:
        """Send `text` to a rendered queue as a producer does (Base64-encoded)."""
        self.queue_client(name).send_message(base64.b64encode(text.encode()).decode())

    def peek(self, name: str) -> list[str]:
        """The decoded texts of the visible messages of a rendered queue."""
        return [base64.b64decode(m.content).decode() for m in self.queue_client(name).peek_messages(max_messages=32)]

    def listeners(self) -> list[tuple[App, Any, str]]:
        """(app, queue trigger function, queue name) for every queue trigger the apps registered."""
        out = []
        for app in self.apps.values():
            for function in app.functions.values():
                for binding in function.get_bindings():
                    if binding.type == "queueTrigger":
                        raw = binding.get_dict_repr()
                        queue = re.sub(r"%([^%]+)%", lambda m, a=app: a.settings[m[1]], raw["queueName"])
                        endpoint = app.env[f"{raw['connection']}__queueServiceUri"]
                        assert endpoint.rstrip("/") == f"http://{self.azurite.address}/{ACCOUNT}", endpoint
                        out.append((app, function, queue))
        return out

    def deliver(self) -> None:
        """Play every queue listener and change feed trigger until no trigger queue has a visible
        message and no change feed a change past its checkpoint."""
        while True:
            delivered = 0
            for app, function, queue in self.listeners():
                delivered += self._listen(app, function, queue)
            for feed in self.feeds.values():
                delivered += feed.poll()
            if not delivered:
                return

    def deliver_changes(self) -> None:
        """Play the change feed triggers only, until no change is past its checkpoint."""
        while sum(feed.poll() for feed in self.feeds.values()):
            pass

    @property
    def invocations(self) -> list[Invocation]:
        """Every change feed trigger invocation, in order."""
        return [i for feed in self.feeds.values() for i in feed.invocations]

    def _changes(self, app: App, function: Any, host: str, page: list[dict[str, Any]], retry_count: int) -> None:
        """Invoke a Cosmos DB trigger function as the worker does, in `host`'s process."""
        documents = CosmosDBTriggerConverter.decode(Datum(json.dumps(page), "json"), trigger_metadata={})
        retry = function.get_setting("retry_policy")
        context = InvocationContext(str(uuid.uuid4()), function.get_function_name(), RetryContext(
            retry_count, int(retry.get_dict_repr()["max_retry_count"]) if retry is not None else 0))
        with self._running(app, self._hosts.get(host)):
            function.get_user_function()(documents=documents, context=context)

    def changes_twice_at_once(self, app: str) -> list[str]:
        """The next batch of `app`'s change feed delivered at the same time to its host and to a second
        host (a new process) that took the lease over while the first still worked; checkpointed
        once. The two outcomes."""
        feed = self.feeds[app]
        other = f"{app}-host-{feed.host_number}-twin"
        live = self.apps[app].instance
        self.restart(self.apps[app])
        self._hosts[other], self.apps[app].instance = self.apps[app].instance, live
        return feed.twice_at_once(other)

    def _listen(self, app: App, function: Any, queue: str) -> int:
        client = self.azurite.queue(queue, create=False)
        max_dequeue = int(app.settings[f"{QUEUES_SECTION}maxDequeueCount"])
        batch = int(app.settings[f"{QUEUES_SECTION}batchSize"])
        received = list(client.receive_messages(max_messages=batch, messages_per_page=batch))
        for position, message in enumerate(received):
            if message.dequeue_count > max_dequeue:
                self._poison(client, queue, message)
                continue
            try:
                text = base64.b64decode(message.content, validate=True)
            except ValueError:  # the extension's MessageDecodingFailed handler: to the poison queue at once
                self._poison(client, queue, message)
                continue
            outcome = self._invoke(app, function, message, text)
            self.deliveries.append(Delivery(app.name, queue, message.id, text.decode("utf-8", "replace"),
                                            message.dequeue_count, outcome))
            if outcome == "died":  # what the dead host held shows again when its visibility timeout passes
                for held in received[position:]:
                    client.update_message(held, visibility_timeout=0)
                self.restart(app)
                break
            if outcome == "ok":
                client.delete_message(message)
            elif message.dequeue_count >= max_dequeue:
                self._poison(client, queue, message)
            else:
                client.update_message(message, visibility_timeout=0)
        return len(received)

    def _poison(self, client: Any, queue: str, message: Any) -> None:
        self.azurite.queue(f"{queue}-poison", create=False).send_message(message.content)
        client.delete_message(message)

    def _invoke(self, app: App, function: Any, message: Any, text: bytes, instance: Any = None) -> str:
        try:
            datum = Datum(text.decode("utf-8"), "string")
        except UnicodeDecodeError:
            datum = Datum(text, "bytes")
        msg = QueueMessageInConverter.decode(datum, trigger_metadata={
            "Id": Datum(message.id, "string"), "DequeueCount": Datum(message.dequeue_count, "int"),
            "PopReceipt": Datum(message.pop_receipt, "string")})
        user = function.get_user_function()
        try:
            with self._running(app, instance):
                if "durableClient" in {b.type for b in function.get_bindings()}:
                    # Under the SDK's client middleware: the user function with the rich client.
                    run_async(user.__wrapped__(msg=msg, client=self._durable_client(app)))
                else:
                    user(msg)
        except ProcessDied:
            return "died"
        except Exception as failed:  # the host logs it and retries the message
            return type(failed).__name__
        return "ok"

    def same_message_twice_at_once(self, app: str, queue: str) -> list[str]:
        """The next message of `queue` delivered to `app` twice at the same time (its visibility timeout
        passed while the first host still worked, and a second host received it), then completed;
        the two outcomes."""
        (target,) = [(a, f, q) for a, f, q in self.listeners() if a.name == app and q == self.queues[queue]]
        client = self.azurite.queue(target[2], create=False)
        (message,) = client.receive_messages(max_messages=1)
        text = base64.b64decode(message.content)
        twin = self.apps[app].instance
        self.restart(self.apps[app])
        second, self.apps[app].instance = self.apps[app].instance, twin
        outcomes: list[str] = ["", ""]
        barrier = threading.Barrier(2)

        def run(i: int, instance: Any) -> None:
            barrier.wait()
            outcomes[i] = self._invoke(target[0], target[1], message, text, instance)

        threads = [threading.Thread(target=run, args=(i, inst)) for i, inst in enumerate((twin, second))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for outcome in outcomes:
            self.deliveries.append(Delivery(app, target[2], message.id, text.decode(), message.dequeue_count, outcome))
        if "ok" in outcomes:
            client.delete_message(message)
        else:
            client.update_message(message, visibility_timeout=0)
        return outcomes

    # ------------------------------------------------------------------ Durable

    def _durable_client(self, app: App) -> DurableOrchestrationClient:
        binding = {"taskHubName": app.settings[f"{DURABLE_SECTION}hubName"], "creationUrls": {}, "managementUrls": {},
                   "rpcBaseUrl": RPC_BASE}
        client = DurableOrchestrationClient(json.dumps(binding))
        extension = _Extension(self, app)
        client._get_async_request = extension.get
        client._post_async_request = extension.post
        return client

    def orchestration(self, instance_id: str) -> Orchestration | None:
        found = [o for o in self.orchestrations if o.instance_id == instance_id]
        return found[-1] if found else None

    def run_orchestration(self, app: App, name: str, instance_id: str, input_: Any) -> Orchestration:
        """Run orchestration `name` of `app` to its end; its task calls reach the task apps."""
        targets = {f"https://{a.host}{ROUTE_PREFIX}/task": a.name for a in self.apps.values() if "task" in a.triggers}
        http = {uri: self._task_call(app, self.apps[task]) for uri, task in targets.items()}
        # The app's registered orchestrator functions are the generic orchestrator (entry.create_app).
        self._driver = durable_driver.Driver({registered: orchestrator for registered in self._orchestrators(app)}, http)
        execution = self._driver.run(name, input_)
        done = Orchestration(instance_id, execution, targets)
        self.orchestrations.append(done)
        return done

    def _orchestrators(self, app: App) -> list[str]:
        return [name for name, f in app.functions.items()
                if any(b.type == "orchestrationTrigger" for b in f.get_bindings())]

    def _task_call(self, caller: App, task: App):
        def call(state: Any) -> tuple[int, Any, float]:
            audience = self._driver.execution.tokens[-1]  # this call's token source (ManagedIdentityTokenSource)
            headers = {"Content-Type": "application/json"}
            if audience:  # the extension gets a token of the app's identity (AZURE_CLIENT_ID) for it
                headers["Authorization"] = self.managed_identity_token(caller.principal, audience)
            status, body, _ = self._http(caller.name, task, "POST", f"{ROUTE_PREFIX}/task", headers,
                                         json.dumps(state).encode())
            if self.lost_answers.get(task.name, 0) > 0:  # the task ran; its answer is lost on the way back
                self.lost_answers[task.name] -= 1
                return 502, None, 0.0
            return status, json.loads(body) if body else None, 0.0
        return call


class _Extension:
    """The Durable extension's HTTP API, as the Python client calls it (start and status)."""

    def __init__(self, stack: AzureStack, app: App):
        self.stack, self.app = stack, app

    def _path(self, url: str) -> list[str]:
        assert url.startswith(RPC_BASE), url
        return urlsplit(url).path[len(urlsplit(RPC_BASE).path):].split("/")

    async def get(self, url: str, function_invocation_id: str | None = None) -> list[Any]:
        kind, instance_id = self._path(url)
        assert kind == "instances", url
        now = datetime.now(timezone.utc).isoformat()
        if instance_id in self.stack.running:
            return [202, {"name": "orchestrator", "instanceId": instance_id, "runtimeStatus": "Running",
                          "createdTime": now, "lastUpdatedTime": now, "input": None, "output": None}]
        done = self.stack.orchestration(instance_id)
        if done is None:
            return [404, ""]
        # The extension answers 200 for a completed instance, 400 for a failed one (the SDK reads both).
        return [200 if done.status == "Completed" else 400, {"name": "orchestrator", "instanceId": instance_id, "runtimeStatus": done.status,
                      "createdTime": now, "lastUpdatedTime": now, "input": None,
                      "output": done.execution.output if done.status == "Completed" else done.execution.error}]

    async def post(self, url: str, data: Any = None, trace_parent: str | None = None, trace_state: str | None = None,
                   function_invocation_id: str | None = None) -> list[Any]:
        kind, name, instance_id = self._path(url)
        assert kind == "orchestrators", url
        if name not in self.stack._orchestrators(self.app):
            return [400, {"ExceptionMessage": f"The function '{name}' doesn't exist, is disabled, or is not an "
                                              "orchestrator function."}]
        # NonRunningStates: an instance that is not pending or running is replaced; one that is
        # running (another start at the same time) is refused.
        with self.stack._lock:  # noqa: SLF001
            if instance_id in self.stack.running:
                return [409, {"ExceptionMessage": f"An instance with ID '{instance_id}' already exists."}]
            self.stack.running.add(instance_id)
        try:
            self.stack.run_orchestration(self.app, name, instance_id, json.loads(data))
        finally:
            self.stack.running.discard(instance_id)
        return [202, {"id": instance_id, "statusQueryGetUri": f"{RPC_BASE}instances/{instance_id}"}]
