"""Encryption in transit at endpoints: what a stack delivers to, serves on, and connects through.

delivery-endpoints-https: no message, event, task or request is pushed over plain HTTP - SNS
subscriptions (protocol http), Pub/Sub push endpoints, Event Grid webhooks of every subscription
kind (and their minimumTlsVersionAllowed), EventBridge API destinations, Cloud Tasks URI overrides,
Cloud Scheduler jobs, Eventarc HTTP endpoints, API Management APIs (protocols, service URL) and
backends, API Gateway HTTP integrations that leave AWS (not through a VPC link), Azure Monitor
webhooks. A URL is plain when its scheme is http, in any case.

endpoints-tls12: what a stack serves is offered over TLS 1.2 or newer only, and never in plain
HTTP: API Gateway custom domains (REST `securityPolicy`, unset meaning TLS_1_0; HTTP/WebSocket
`domainNameConfiguration.securityPolicy`), load balancer listeners (an HTTP listener only redirects
to HTTPS; HTTPS and TLS listeners name a TLS 1.2+ policy - the default ELBSecurityPolicy-2016-08
accepts TLS 1.0; a classic load balancer has no plain HTTP listener), CloudFront (no allow-all
viewer protocol, TLSv1.2 minimum with a custom certificate, no http-only or pre-TLS 1.2 origins),
GCP SSL policies (TLS_1_2 minimum) and the HTTPS/SSL proxies that must name one (without, Google's
default accepts TLS 1.0), HTTP proxies whose URL map in the stack redirects to HTTPS, gen 1 HTTP
functions that do not answer plain HTTP, and API Management's TLS 1.0/1.1/SSL 3.0 and 3DES switches.
TLS-version floors of data stores and app services are tls12-minimum's (policy/settings).

A policy name in a security-policy field carries its TLS floor: TLS_1_2, SecurityPolicy_TLS13_1_2_...,
ELBSecurityPolicy-TLS13-1-2-..., ELBSecurityPolicy-FS-1-2-..., ELBSecurityPolicy-TLS-1-1-...; an ELB
policy without a version (ELBSecurityPolicy-2016-08, -FS-2018-06) accepts TLS 1.0 (ELB docs,
"Security policies for your Application Load Balancer").

brokers-and-caches-require-tls: clients reach brokers and caches over TLS only - MSK (clientBroker
TLS, TLS between brokers), ElastiCache replication groups and standalone clusters (transit
encryption on and required, not preferred), MemoryDB (tlsEnabled), Memorystore for Redis instances
and clusters (server-authenticated transit encryption; DISABLED by default), Azure Cache for Redis
(no non-TLS port) and Azure Managed Redis databases (clientProtocol Encrypted). Amazon MQ brokers,
Kinesis, Event Hubs and Service Bus only offer TLS endpoints; their TLS floors are tls12-minimum's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pulumi_policy import PolicyResource, ReportViolation, ResourceValidationArgs, Severity, StackValidationArgs

from .async_paths import DEAD_LETTER_SETTINGS
from .common import (
    GCP_FUNCTION_V1,
    MANDATORY,
    PUBSUB_SUBSCRIPTION,
    as_list,
    each_known,
    get,
    known,
    lower,
    named,
    resource_policy,
    shown,
    stack_policy,
)
from .dead_letter_stores import SNS_SUBSCRIPTION
from .transport import tls_version

EVENT_GRID_SUBSCRIPTIONS = tuple(sorted(t for t in DEAD_LETTER_SETTINGS if t.startswith("azure-native:eventgrid:")))
API_DESTINATION = "aws:cloudwatch/eventApiDestination:EventApiDestination"
CLOUD_TASKS_QUEUE = "gcp:cloudtasks/queue:Queue"
SCHEDULER_JOB = "gcp:cloudscheduler/job:Job"
EVENTARC_TRIGGER = "gcp:eventarc/trigger:Trigger"
APIM_API = "azure-native:apimanagement:Api"
APIM_BACKEND = "azure-native:apimanagement:Backend"
APIM_SERVICE = "azure-native:apimanagement:ApiManagementService"
HTTP_INTEGRATION = "aws:apigatewayv2/integration:Integration"
REST_INTEGRATION = "aws:apigateway/integration:Integration"
ACTION_GROUP = "azure-native:monitor:ActionGroup"

REST_DOMAIN = "aws:apigateway/domainName:DomainName"
HTTP_DOMAIN = "aws:apigatewayv2/domainName:DomainName"
LISTENERS = ("aws:lb/listener:Listener", "aws:alb/listener:Listener")
CLASSIC_ELB = "aws:elb/loadBalancer:LoadBalancer"
CLOUDFRONT = "aws:cloudfront/distribution:Distribution"
SSL_POLICIES = ("gcp:compute/sSLPolicy:SSLPolicy", "gcp:compute/regionSslPolicy:RegionSslPolicy")
TLS_PROXIES = ("gcp:compute/targetHttpsProxy:TargetHttpsProxy", "gcp:compute/regionTargetHttpsProxy:RegionTargetHttpsProxy",
               "gcp:compute/targetSSLProxy:TargetSSLProxy")
HTTP_PROXIES = ("gcp:compute/targetHttpProxy:TargetHttpProxy", "gcp:compute/regionTargetHttpProxy:RegionTargetHttpProxy")
URL_MAPS = ("gcp:compute/uRLMap:URLMap", "gcp:compute/regionUrlMap:RegionUrlMap")

MSK_CLUSTER = "aws:msk/cluster:Cluster"
REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
CACHE_CLUSTER = "aws:elasticache/cluster:Cluster"
MEMORYDB_CLUSTER = "aws:memorydb/cluster:Cluster"
MEMORYSTORE_INSTANCE = "gcp:redis/instance:Instance"
MEMORYSTORE_CLUSTER = "gcp:redis/cluster:Cluster"
AZURE_REDIS = "azure-native:redis:Redis"
AZURE_MANAGED_REDIS_DB = "azure-native:redisenterprise:Database"

#: API Management's protocol and cipher switches that must not be "true" (API Management docs, "Manage
#: protocols and ciphers in Azure API Management").
APIM_OLD_PROTOCOLS = tuple(f"Microsoft.WindowsAzure.ApiManagement.Gateway.Security.{side}{name}" for side in
                           ("Protocols.", "Backend.Protocols.") for name in ("Tls10", "Tls11", "Ssl30")) + (
    "Microsoft.WindowsAzure.ApiManagement.Gateway.Security.Ciphers.TripleDes168",)
#: The ELB policy AWS applies to an HTTPS or TLS listener without sslPolicy.
ELB_DEFAULT_POLICY = "ELBSecurityPolicy-2016-08"
#: CloudFront viewer and origin protocol floors (CloudFront docs, "Supported protocols and ciphers").
_CLOUDFRONT_VIEWER = re.compile(r"^TLSv1\.([0-9])_\d{4}$")
_OLD_ORIGIN_PROTOCOLS = frozenset({"sslv3", "tlsv1", "tlsv1.1"})


def _plain(url: Any) -> bool:
    return isinstance(url, str) and url.strip().lower().startswith("http://")


# ------------------------------------------------------------------ delivery-endpoints-https


def _url(report: ReportViolation, what: str, path: str, url: Any) -> None:
    if _plain(url):
        report(f"{what}: {path} is {shown(url)}, plain HTTP, so what is sent there crosses the network unencrypted; "
               "required: an https:// URL.")


def _event_grid_destination(report: ReportViolation, what: str, path: str, destination: Any) -> None:
    if not isinstance(destination, Mapping) or lower(destination.get("endpointType")) != "webhook":
        return
    _url(report, what, f"{path}.endpointUrl", destination.get("endpointUrl"))
    floor = destination.get("minimumTlsVersionAllowed")
    version = tls_version(floor) if floor is not None else None
    if floor is not None and (version is None or version < (1, 2)):
        report(f"{what}: {path}.minimumTlsVersionAllowed is {shown(floor)}, so Event Grid delivers to the webhook over "
               "TLS below 1.2; required: '1.2' (or unset).")


def _delivery(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props, typ = args.props, args.resource_type
    what = named(args, "Delivery endpoint")
    if typ == SNS_SUBSCRIPTION:
        if lower(get(props, "protocol")) == "http":
            report(f"{what}: protocol is {shown(get(props, 'protocol'))}, so SNS posts every message unencrypted to "
                   f"{shown(get(props, 'endpoint'))}; required: protocol 'https' with an https:// endpoint.")
        else:
            _url(report, what, "endpoint", get(props, "endpoint"))
    elif typ == PUBSUB_SUBSCRIPTION:
        _url(report, what, "pushConfig.pushEndpoint", get(props, "pushConfig.pushEndpoint"))
    elif typ in EVENT_GRID_SUBSCRIPTIONS:
        _event_grid_destination(report, what, "destination", get(props, "destination"))
        _event_grid_destination(report, what, "deliveryConfiguration.push.destination",
                                get(props, "deliveryConfiguration.push.destination"))
    elif typ == API_DESTINATION:
        _url(report, what, "invocationEndpoint", get(props, "invocationEndpoint"))
    elif typ == CLOUD_TASKS_QUEUE:
        scheme = get(props, "httpTarget.uriOverride.scheme")
        if lower(scheme) == "http":
            report(f"{what}: httpTarget.uriOverride.scheme is {shown(scheme)}, so every task's request is sent over "
                   "plain HTTP; required: 'HTTPS' (or unset).")
    elif typ == SCHEDULER_JOB:
        _url(report, what, "httpTarget.uri", get(props, "httpTarget.uri"))
    elif typ == EVENTARC_TRIGGER:
        _url(report, what, "destination.httpEndpoint.uri", get(props, "destination.httpEndpoint.uri"))
    elif typ == APIM_API:
        protocols = [p for p in as_list(get(props, "protocols")) if lower(p) in ("http", "ws")]
        if protocols:
            report(f"{what}: protocols lists {shown(protocols)}, so the gateway serves the API unencrypted too; "
                   "required: only 'https' (and 'wss').")
        _url(report, what, "serviceUrl", get(props, "serviceUrl"))
    elif typ == APIM_BACKEND:
        _url(report, what, "url", get(props, "url"))
    elif typ in (HTTP_INTEGRATION, REST_INTEGRATION):
        if lower(get(props, "connectionType")) != "vpc_link":
            key = "integrationUri" if typ == HTTP_INTEGRATION else "uri"
            _url(report, what, key, get(props, key))
    elif typ == ACTION_GROUP:
        for i, receiver in enumerate(as_list(get(props, "webhookReceivers"))):
            if isinstance(receiver, Mapping):
                _url(report, what, f"webhookReceivers[{i}].serviceUri", receiver.get("serviceUri"))


# ------------------------------------------------------------------ endpoints-tls12


def policy_floor(name: Any) -> tuple[int, int] | None:
    """The minimum TLS version a named security policy accepts; None when the name says nothing."""
    if not isinstance(name, str) or not name.strip():
        return None
    text = name.strip().upper().replace("-", "_")
    for pattern in (r"(?:TLS1[23]|TLS|FS)_1_(\d)(?:_|$)", r"TLS1(\d)(?:_|$)", r"^TLSV1\.(\d)"):
        match = re.search(pattern, text)
        if match:
            return (1, int(match.group(1)))
    if text.startswith("ELBSECURITYPOLICY_"):
        return (1, 0)  # ELBSecurityPolicy-2016-08, -2015-05, -FS-2018-06: TLS 1.0 and up
    return None


def _floor_problem(value: Any, default: str | None = None) -> str | None:
    shown_value = f"not set ({default} by default)" if value is None and default else shown(value)
    floor = policy_floor(default if value is None else value)
    if floor is None:
        return f"is {shown_value}, which names no TLS minimum"
    if floor < (1, 2):
        return f"is {shown_value}, which accepts TLS 1.{floor[1]}"
    return None


def _last_segment(value: Any) -> str | None:
    return value.rstrip("/").rsplit("/", 1)[-1].lower() if isinstance(value, str) and value else None


def _listener(r: PolicyResource, report: ReportViolation) -> None:
    what = named(r, "Load balancer listener")
    protocol = lower(get(r.props, "protocol"))
    if protocol == "http":
        actions = [a for a in as_list(get(r.props, "defaultActions")) if isinstance(a, Mapping)]
        redirects = [a for a in actions if lower(a.get("type")) == "redirect"
                     and lower((a.get("redirect") or {}).get("protocol")) == "https"]
        if not actions or len(redirects) != len(actions):
            report(f"{what}: protocol is 'HTTP' and its default actions are {shown([a.get('type') for a in actions])}, "
                   "so it serves the application over plain HTTP; required: a redirect to HTTPS "
                   "(redirect {protocol: 'HTTPS', statusCode: 'HTTP_301'}).", r.urn)
    elif protocol in ("https", "tls"):
        problem = _floor_problem(get(r.props, "sslPolicy"), ELB_DEFAULT_POLICY)
        if problem:
            report(f"{what}: sslPolicy {problem}; required: a TLS 1.2+ policy such as "
                   "'ELBSecurityPolicy-TLS13-1-2-2021-06'.", r.urn)


def _cloudfront(r: PolicyResource, report: ReportViolation) -> None:
    what = named(r, "CloudFront distribution")
    behaviours = [("defaultCacheBehavior", get(r.props, "defaultCacheBehavior"))] + [
        (f"orderedCacheBehaviors[{i}]", b) for i, b in enumerate(as_list(get(r.props, "orderedCacheBehaviors")))]
    for where, behaviour in behaviours:
        if isinstance(behaviour, Mapping) and lower(behaviour.get("viewerProtocolPolicy")) == "allow-all":
            report(f"{what}: {where}.viewerProtocolPolicy is 'allow-all', so viewers are served over plain HTTP; "
                   "required: 'redirect-to-https' or 'https-only'.", r.urn)
    certificate = get(r.props, "viewerCertificate") or {}
    if isinstance(certificate, Mapping) and (certificate.get("acmCertificateArn") or certificate.get("iamCertificateId")):
        minimum = certificate.get("minimumProtocolVersion")
        match = _CLOUDFRONT_VIEWER.match(str(minimum or ""))
        if not match or int(match.group(1)) < 2:
            report(f"{what}: viewerCertificate.minimumProtocolVersion is {shown(minimum)}; required: 'TLSv1.2_2021' or "
                   "newer.", r.urn)
    for i, origin in enumerate(as_list(get(r.props, "origins"))):
        custom = origin.get("customOriginConfig") if isinstance(origin, Mapping) else None
        if not isinstance(custom, Mapping):
            continue
        if lower(custom.get("originProtocolPolicy")) == "http-only":
            report(f"{what}: origins[{i}].customOriginConfig.originProtocolPolicy is 'http-only', so requests reach the "
                   "origin unencrypted; required: 'https-only'.", r.urn)
        old = [p for p in as_list(custom.get("originSslProtocols")) if lower(p) in _OLD_ORIGIN_PROTOCOLS]
        if old:
            report(f"{what}: origins[{i}].customOriginConfig.originSslProtocols lists {shown(old)}; required: "
                   "['TLSv1.2'].", r.urn)


def _names_url_map(proxy: PolicyResource, url_map: PolicyResource) -> bool:
    ref = _last_segment(known(proxy.props, "urlMap"))
    return ref is not None and ref in {_last_segment(known(url_map.props, k)) for k in ("name", "selfLink", "id")}


def _tls(args: StackValidationArgs, report: ReportViolation) -> None:
    by_type: dict[str, list[PolicyResource]] = {}
    for r in args.resources:
        by_type.setdefault(r.resource_type, []).append(r)

    def of(*types: str) -> list[PolicyResource]:
        return [r for t in types for r in by_type.get(t, [])]

    def rest_domain(r: PolicyResource) -> None:
        if problem := _floor_problem(get(r.props, "securityPolicy"), "TLS_1_0"):
            report(f"{named(r, 'API custom domain')}: securityPolicy {problem}; required: 'TLS_1_2' or an enhanced "
                   "SecurityPolicy_TLS13_1_2_* / _1_3_* policy.", r.urn)

    def http_domain(r: PolicyResource) -> None:
        value = get(r.props, "domainNameConfiguration.securityPolicy")
        if value is not None and (problem := _floor_problem(value)):
            report(f"{named(r, 'API custom domain')}: domainNameConfiguration.securityPolicy {problem}; required: "
                   "'TLS_1_2'.", r.urn)

    def classic(r: PolicyResource) -> None:
        for i, listener in enumerate(as_list(get(r.props, "listeners"))):
            if isinstance(listener, Mapping) and lower(listener.get("lbProtocol")) == "http":
                report(f"{named(r, 'Classic load balancer')}: listeners[{i}].lbProtocol is 'http' (port "
                       f"{shown(listener.get('lbPort'))}), served over plain HTTP with no redirect possible; required: "
                       "an HTTPS listener only (or an Application Load Balancer redirecting HTTP).", r.urn)

    def ssl_policy(r: PolicyResource) -> None:
        value = get(r.props, "minTlsVersion")
        if problem := _floor_problem(value, "TLS_1_0"):
            report(f"{named(r, 'SSL policy')}: minTlsVersion {problem}; required: 'TLS_1_2'.", r.urn)

    def tls_proxy(r: PolicyResource) -> None:
        if not get(r.props, "sslPolicy"):
            report(f"{named(r, 'Target proxy')}: sslPolicy is not set, so Google's default SSL policy applies, which "
                   "accepts TLS 1.0; required: an SSL policy with minTlsVersion 'TLS_1_2'.", r.urn)

    def http_proxy(r: PolicyResource) -> None:
        url_map = next((m for m in of(*URL_MAPS) if m.urn in {d.urn for d in (r.property_dependencies or {}).get("urlMap") or []}
                        or _names_url_map(r, m)), None)
        if url_map is not None and get(url_map.props, "defaultUrlRedirect.httpsRedirect") is not True:
            report(f"{named(r, 'Target HTTP proxy')}: its URL map '{url_map.name}' does not redirect to HTTPS "
                   "(defaultUrlRedirect.httpsRedirect), so the load balancer serves plain HTTP; required: an HTTP "
                   "proxy only with a URL map that redirects (defaultUrlRedirect {httpsRedirect: true}).", r.urn)

    def gen1_function(r: PolicyResource) -> None:
        level = get(r.props, "httpsTriggerSecurityLevel")
        if lower(level) == "secure_optional":
            report(f"{named(r, 'Cloud Function (1st gen)')}: httpsTriggerSecurityLevel is {shown(level)}, so it answers "
                   "plain HTTP too; required: 'SECURE_ALWAYS'.", r.urn)

    def apim(r: PolicyResource) -> None:
        properties = get(r.props, "customProperties") or {}
        wanted = {k.lower(): k for k in APIM_OLD_PROTOCOLS}
        on = [k for k, v in properties.items() if k.lower() in wanted and str(v).strip().lower() == "true"]
        if on:
            report(f"{named(r, 'API Management service')}: customProperties turn on {shown(on)}, so the gateway accepts "
                   "TLS below 1.2 (or 3DES); required: each 'False' (or unset).", r.urn)

    for types, check in ((of(REST_DOMAIN), rest_domain), (of(HTTP_DOMAIN), http_domain),
                         (of(*LISTENERS), lambda r: _listener(r, report)), (of(CLASSIC_ELB), classic),
                         (of(CLOUDFRONT), lambda r: _cloudfront(r, report)), (of(*SSL_POLICIES), ssl_policy),
                         (of(*TLS_PROXIES), tls_proxy), (of(*HTTP_PROXIES), http_proxy),
                         (of(GCP_FUNCTION_V1), gen1_function), (of(APIM_SERVICE), apim)):
        each_known(types, check)


# ------------------------------------------------------------------ brokers-and-caches-require-tls


def _brokers(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props, typ = args.props, args.resource_type
    what = named(args, "Broker or cache")
    if typ == MSK_CLUSTER:
        client = get(props, "encryptionInfo.encryptionInTransit.clientBroker")
        if client is not None and str(client).upper() != "TLS":
            report(f"{what}: encryptionInfo.encryptionInTransit.clientBroker is {shown(client)}, so clients may talk to "
                   "brokers in plain text; required: 'TLS'.")
        if get(props, "encryptionInfo.encryptionInTransit.inCluster") is False:
            report(f"{what}: encryptionInfo.encryptionInTransit.inCluster is false, so brokers replicate in plain text; "
                   "required: true (or unset).")
    elif typ in (REPLICATION_GROUP, CACHE_CLUSTER):
        if typ == CACHE_CLUSTER and get(props, "replicationGroupId"):
            return  # a member of a replication group takes the group's transit encryption
        enabled, mode = get(props, "transitEncryptionEnabled"), get(props, "transitEncryptionMode")
        if enabled is not True:
            report(f"{what}: transitEncryptionEnabled is {shown(enabled)} (off by default), so clients connect in plain "
                   "text; required: true with transitEncryptionMode 'required'.")
        elif lower(mode) == "preferred":
            report(f"{what}: transitEncryptionMode is 'preferred', which still accepts unencrypted connections; "
                   "required: 'required'.")
    elif typ == MEMORYDB_CLUSTER:
        if get(props, "tlsEnabled") is False:
            report(f"{what}: tlsEnabled is false, so clients connect in plain text; required: true (or unset).")
    elif typ in (MEMORYSTORE_INSTANCE, MEMORYSTORE_CLUSTER):
        mode = get(props, "transitEncryptionMode")
        if "SERVER_AUTHENTICATION" not in str(mode or "").upper():
            required = "SERVER_AUTHENTICATION" if typ == MEMORYSTORE_INSTANCE else "TRANSIT_ENCRYPTION_MODE_SERVER_AUTHENTICATION"
            report(f"{what}: transitEncryptionMode is {shown(mode)} (disabled by default), so clients connect in plain "
                   f"text; required: {required!r}.")
    elif typ == AZURE_REDIS:
        if get(props, "enableNonSslPort") is True:
            report(f"{what}: enableNonSslPort is true, so port 6379 takes plain-text connections; required: false.")
    elif typ == AZURE_MANAGED_REDIS_DB:
        protocol = get(props, "clientProtocol")
        if lower(protocol) == "plaintext":
            report(f"{what}: clientProtocol is {shown(protocol)}; required: 'Encrypted' (the default).")


POLICIES = [
    resource_policy(
        "delivery-endpoints-https",
        "Nothing is delivered over plain HTTP: SNS subscriptions (protocol http), Pub/Sub push endpoints, Event Grid "
        "webhooks of every subscription kind (and minimumTlsVersionAllowed 1.2), EventBridge API destinations, Cloud "
        "Tasks URI overrides, Cloud Scheduler jobs, Eventarc HTTP endpoints, API Management APIs (protocols, service "
        "URL) and backends, API Gateway HTTP integrations outside a VPC link, Azure Monitor webhooks (SNS docs, \"Data "
        "encryption\"; Pub/Sub docs, \"Push subscriptions\"; Event Grid docs, \"Webhook event delivery\"; API "
        "Management docs, \"Manage protocols and ciphers\").",
        sorted({SNS_SUBSCRIPTION, PUBSUB_SUBSCRIPTION, *EVENT_GRID_SUBSCRIPTIONS, API_DESTINATION, CLOUD_TASKS_QUEUE,
                SCHEDULER_JOB, EVENTARC_TRIGGER, APIM_API, APIM_BACKEND, HTTP_INTEGRATION, REST_INTEGRATION, ACTION_GROUP}),
        _delivery,
        remediation="use https:// endpoints (SNS protocol 'https', Cloud Tasks scheme 'HTTPS', API Management "
                    "protocols ['https']); reach a plain-HTTP backend only through a private link.",
        level=MANDATORY,
        severity=Severity.HIGH,
    ),
    stack_policy(
        "endpoints-tls12",
        "What the stack serves is offered over TLS 1.2+ only and never in plain HTTP: API Gateway custom domains "
        "(securityPolicy; unset is TLS_1_0), load balancer listeners (HTTP only redirects to HTTPS; HTTPS/TLS name a "
        "TLS 1.2+ policy, the default ELBSecurityPolicy-2016-08 accepts TLS 1.0), classic load balancers without HTTP "
        "listeners, CloudFront (no allow-all viewers, TLSv1.2 minimum with a custom certificate, HTTPS and TLS 1.2 to "
        "custom origins), GCP SSL policies (TLS_1_2) and HTTPS/SSL proxies that name one, HTTP proxies whose URL map "
        "redirects, gen 1 functions SECURE_ALWAYS, API Management without TLS 1.0/1.1/SSL 3.0/3DES (API Gateway docs, "
        "\"Choose a security policy for your custom domain\"; ELB docs, \"Security policies\"; Security Hub ELB.1, "
        "CloudFront.3/.9/.10; Google Cloud docs, \"SSL policies overview\"; API Management docs, \"Manage protocols and "
        "ciphers\").",
        sorted({REST_DOMAIN, HTTP_DOMAIN, *LISTENERS, CLASSIC_ELB, CLOUDFRONT, *SSL_POLICIES, *TLS_PROXIES, *HTTP_PROXIES,
                *URL_MAPS, GCP_FUNCTION_V1, APIM_SERVICE}),
        _tls,
        remediation="API Gateway securityPolicy 'TLS_1_2'; ELB sslPolicy 'ELBSecurityPolicy-TLS13-1-2-2021-06' and HTTP "
                    "listeners that redirect to HTTPS; CloudFront viewerProtocolPolicy 'redirect-to-https', "
                    "minimumProtocolVersion 'TLSv1.2_2021', originProtocolPolicy 'https-only'; GCP SSL policy "
                    "minTlsVersion 'TLS_1_2' on every HTTPS/SSL proxy; API Management protocol switches 'False'.",
        level=MANDATORY,
        severity=Severity.HIGH,
    ),
    resource_policy(
        "brokers-and-caches-require-tls",
        "Clients reach brokers and caches over TLS only: MSK clientBroker TLS and TLS between brokers, ElastiCache "
        "transit encryption on and required, MemoryDB tlsEnabled, Memorystore for Redis server-authenticated transit "
        "encryption, Azure Cache for Redis without its non-TLS port, Azure Managed Redis clientProtocol Encrypted (MSK "
        "docs, \"Encryption in transit\"; ElastiCache docs, \"In-transit encryption\"; Memorystore docs, \"About "
        "in-transit encryption\"; Azure Cache for Redis docs, \"Configure\": access ports).",
        sorted({MSK_CLUSTER, REPLICATION_GROUP, CACHE_CLUSTER, MEMORYDB_CLUSTER, MEMORYSTORE_INSTANCE, MEMORYSTORE_CLUSTER,
                AZURE_REDIS, AZURE_MANAGED_REDIS_DB}),
        _brokers,
        remediation="MSK encryptionInTransit {clientBroker: 'TLS', inCluster: true}; ElastiCache "
                    "transitEncryptionEnabled true with transitEncryptionMode 'required'; Memorystore "
                    "transitEncryptionMode 'SERVER_AUTHENTICATION'; Azure Redis enableNonSslPort false; Managed Redis "
                    "clientProtocol 'Encrypted'.",
        level=MANDATORY,
        severity=Severity.HIGH,
    ),
]
