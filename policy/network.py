"""Data-plane and admin ports, and key stores, open to the internet.

network-ports-not-public: an ingress rule that admits every address (0.0.0.0/0 and ::/0, Azure's
`*`, `Any` and `Internet`, or ranges whose union is the whole address space, however it is split)
to an admin or data-plane port of policy/exposed_ports.py - the lists Google's Security Command
Center, AWS Security Hub and Microsoft Defender for Cloud keep - on every type that writes one:
security groups and their rules (inline, SecurityGroupRule, SecurityGroupIngressRule, default
groups), network ACLs and their rules, Lightsail public ports, GCP VPC firewalls and firewall-policy
rules (standalone or inside a policy), Cloud SQL authorized networks, Azure NSGs (inline rules or
SecurityRule), Virtual Network Manager admin rules, and every Azure server-level firewall rule
(a first and last address: SQL, PostgreSQL, MySQL, Redis, ..., catalogued from the SDK into
policy/ip_range_rules.py). Web ports (80, 443) are not listed: a public service opens them on purpose.

key-stores-not-open-to-internet (Azure; AWS KMS and Secrets Manager and GCP Cloud KMS and Secret
Manager have no network firewall of their own, and their resource policies are
aws-resource-policies-not-public's and the GCP IAM policies'): a firewall rule admitting every address
on a Key Vault, managed HSM, Cosmos DB or Storage account is a firewall in name only and is refused.
A Key Vault or managed HSM that takes connections from every network (publicNetworkAccess not
Disabled and networkAcls.defaultAction Allow, Azure's defaults) is refused too - the Key Vault
security baseline (NS-2) asks for its firewall or a private endpoint - except a vault a function or
web app of the stack reads (Key Vault references, vault URLs in app settings) without VNet
integration: App Service reaches a vault over its public endpoint with its managed identity, and the
trusted-services bypass does not cover it, so such a vault must stay reachable and is protected by
RBAC instead (azure-key-vault-references-resolvable requires exactly that). Keys read by Storage and
Cosmos DB for customer-managed encryption need no public access: they come through the bypass.
Storage and Cosmos DB accounts that serverless apps reach over public endpoints with identity
authentication are not refused for being public; local (key) authentication is
azure-local-auth-disabled's.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import PolicyResource, ReportViolation, ResourceValidationArgs, Severity, StackValidationArgs

from .azure_deployability import _REFERENCE, _reference_vault, _vault_network, vault_name
from .common import (
    COSMOS_ACCOUNT,
    KEY_VAULT,
    MANDATORY,
    STORAGE_ACCOUNT,
    UNKNOWN_SETTING,
    WEB_APP,
    WEB_APP_SLOT,
    app_settings,
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
from .exposed_ports import exposed
from .ip_range_rules import RANGE_RULES

MANAGED_HSM = "azure-native:keyvault:ManagedHsm"
SECURITY_GROUPS = ("aws:ec2/securityGroup:SecurityGroup", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
NETWORK_ACLS = ("aws:ec2/networkAcl:NetworkAcl", "aws:ec2/defaultNetworkAcl:DefaultNetworkAcl")
NETWORK_ACL_RULE = "aws:ec2/networkAclRule:NetworkAclRule"
LIGHTSAIL_PORTS = "aws:lightsail/instancePublicPorts:InstancePublicPorts"
GCP_FIREWALL = "gcp:compute/firewall:Firewall"
GCP_POLICY_RULES = ("gcp:compute/firewallPolicyRule:FirewallPolicyRule",
                    "gcp:compute/networkFirewallPolicyRule:NetworkFirewallPolicyRule",
                    "gcp:compute/regionNetworkFirewallPolicyRule:RegionNetworkFirewallPolicyRule")
GCP_POLICIES_WITH_RULES = ("gcp:compute/firewallPolicyWithRules:FirewallPolicyWithRules",
                           "gcp:compute/networkFirewallPolicyWithRules:NetworkFirewallPolicyWithRules",
                           "gcp:compute/regionNetworkFirewallPolicyWithRules:RegionNetworkFirewallPolicyWithRules")
CLOUD_SQL = "gcp:sql/databaseInstance:DatabaseInstance"
NSG = "azure-native:network:NetworkSecurityGroup"
NSG_RULE = "azure-native:network:SecurityRule"
ADMIN_RULE = "azure-native:network:AdminRule"

#: Azure's words for every source address (service tag Internet, `*`, `Any`).
_EVERYONE_WORDS = frozenset({"*", "internet", "any"})
_ALL = (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))
#: Protocols without ports (ICMP and ICMPv6, by name or number).
_PORTLESS = frozenset({"icmp", "1", "icmpv6", "58", "ipv6-icmp"})
#: Protocol values meaning every protocol, hence every port.
_EVERY_PROTOCOL = frozenset({"-1", "all", "*", "any"})


# ------------------------------------------------------------------ addresses


def _networks(values: Iterable[Any]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    nets = []
    for value in values:
        try:
            nets.append(ipaddress.ip_network(str(value).strip(), strict=False))
        except ValueError:
            continue
    return nets


def everyone(values: Iterable[Any]) -> bool:
    """Whether these sources together admit every IPv4 or every IPv6 address."""
    values = [v for v in values if isinstance(v, str) and v.strip()]
    if any(v.strip().lower() in _EVERYONE_WORDS for v in values):
        return True
    nets = _networks(values)
    for whole in _ALL:
        same = [n for n in nets if n.version == whole.version]
        if same and whole in ipaddress.collapse_addresses(same):
            return True
    return False


def _everyone_in_ranges(pairs: Iterable[tuple[Any, Any]]) -> bool:
    """Whether (first, last) address ranges together admit every IPv4 or IPv6 address."""
    nets = []
    for first, last in pairs:
        try:
            nets.extend(ipaddress.summarize_address_range(ipaddress.ip_address(str(first).strip()),
                                                          ipaddress.ip_address(str(last).strip())))
        except (ValueError, TypeError):
            continue
    return everyone(str(n) for n in nets)


# ------------------------------------------------------------------ ports


def _span(protocol: Any, first: Any, last: Any) -> tuple[int, int] | None:
    """The ports a rule opens, or None for port-less protocols (ICMP)."""
    proto = str(protocol if protocol is not None else "-1").strip().lower()
    if proto in _PORTLESS:
        return None
    if proto in _EVERY_PROTOCOL:
        return 0, 65535
    try:
        low, high = int(first), int(last)
    except (TypeError, ValueError):
        return 0, 65535
    if low < 0 or high < 0:
        return 0, 65535
    return low, high


def _port_spans(ports: Any) -> list[tuple[int, int]]:
    """'22', '20-23', '*' or a list of them (none means every port)."""
    out = []
    for port in as_list(ports) or ["*"]:
        text = str(port).strip()
        if text in ("*", ""):
            out.append((0, 65535))
            continue
        low, _, high = text.partition("-")
        try:
            out.append((int(low), int(high or low)))
        except ValueError:
            continue
    return out


def _reached(spans: Iterable[tuple[int, int]]) -> list[str]:
    spans = list(spans)
    if any(low <= 1 and high >= 65535 for low, high in spans):
        return ["every port (SSH (22), RDP (3389) and every database port among them)"]
    return sorted({service for low, high in spans for service in exposed(low, high)})


def _report(report: ReportViolation, what: str, rule: str, sources: Any, services: list[str]) -> None:
    report(f"{what}: {rule} admits {shown(sources)} - every address - to {', '.join(services)}; allowed: admin and "
           "data ports only from known ranges (a VPN or office range, a bastion's or load balancer's security group, "
           "Identity-Aware Proxy's 35.235.240.0/20), or through a private endpoint.")


# ------------------------------------------------------------------ network-ports-not-public


def _aws_ingress(what: str, label: str, items: Iterable[Any], report: ReportViolation, v4: str, v6: str) -> None:
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            continue
        sources = [*as_list(item.get(v4)), *as_list(item.get(v6))]
        span = _span(item.get("protocol", item.get("ipProtocol")), item.get("fromPort"), item.get("toPort"))
        if span is not None and everyone(sources):
            services = _reached([span])
            if services:
                _report(report, what, label if label == "the rule" else f"{label}[{i}]", sources, services)


def _gcp_rule(what: str, label: str, rule: Mapping[str, Any], sources: list[Any], allows: Iterable[Any],
              report: ReportViolation) -> None:
    if rule.get("disabled") is True or str(rule.get("direction") or "INGRESS").upper() != "INGRESS":
        return
    spans = []
    for allow in allows:
        if isinstance(allow, Mapping) and str(allow.get("protocol", allow.get("ipProtocol")) or "").lower() not in _PORTLESS:
            spans += _port_spans(allow.get("ports"))
    services = _reached(spans)
    if services and everyone(sources):
        _report(report, what, label, sources, services)


def _azure_rule(what: str, label: str, rule: Mapping[str, Any], report: ReportViolation) -> None:
    if lower(rule.get("direction")) != "inbound" or lower(rule.get("access")) not in ("allow", "alwaysallow"):
        return
    if lower(rule.get("protocol")) in _PORTLESS:
        return
    sources = [*as_list(rule.get("sourceAddressPrefix")), *as_list(rule.get("sourceAddressPrefixes")),
               *[s.get("addressPrefix") for s in as_list(rule.get("sources")) if isinstance(s, Mapping)]]
    ports = [*as_list(rule.get("destinationPortRange")), *as_list(rule.get("destinationPortRanges"))]
    services = _reached(_port_spans(ports))
    if services and everyone(sources):
        _report(report, what, label, sources, services)


def _ports(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props, typ = args.props, args.resource_type
    what = named(args, "Network rule")
    if typ in SECURITY_GROUPS:
        _aws_ingress(what, "ingress", as_list(get(props, "ingress")), report, "cidrBlocks", "ipv6CidrBlocks")
    elif typ == SECURITY_GROUP_RULE:
        if lower(get(props, "type")) == "ingress":
            _aws_ingress(what, "the rule", [props], report, "cidrBlocks", "ipv6CidrBlocks")
    elif typ == INGRESS_RULE:
        _aws_ingress(what, "the rule", [props], report, "cidrIpv4", "cidrIpv6")
    elif typ in NETWORK_ACLS:
        allowed = [i for i in as_list(get(props, "ingress")) if isinstance(i, Mapping) and lower(i.get("action")) == "allow"]
        _aws_ingress(what, "ingress (allow)", allowed, report, "cidrBlock", "ipv6CidrBlock")
    elif typ == NETWORK_ACL_RULE:
        if get(props, "egress") is not True and lower(get(props, "ruleAction")) == "allow":
            _aws_ingress(what, "the rule", [props], report, "cidrBlock", "ipv6CidrBlock")
    elif typ == LIGHTSAIL_PORTS:
        # A port without cidrs (or aliases) is open to every address.
        infos = [dict(i, cidrs=i.get("cidrs") or ([] if i.get("cidrListAliases") or i.get("ipv6Cidrs") else ["0.0.0.0/0"]))
                 for i in as_list(get(props, "portInfos")) if isinstance(i, Mapping)]
        _aws_ingress(what, "portInfos", infos, report, "cidrs", "ipv6Cidrs")
    elif typ == GCP_FIREWALL:
        sources = as_list(get(props, "sourceRanges"))
        if not sources and not get(props, "sourceTags") and not get(props, "sourceServiceAccounts"):
            sources = ["0.0.0.0/0"]  # an ingress rule without a source applies to every IPv4 address
        _gcp_rule(what, "the firewall", props, sources, as_list(get(props, "allows")), report)
    elif typ in GCP_POLICY_RULES:
        if lower(get(props, "action")) == "allow":
            _gcp_rule(what, "the rule", props, as_list(get(props, "match.srcIpRanges")),
                      as_list(get(props, "match.layer4Configs")), report)
    elif typ in GCP_POLICIES_WITH_RULES:
        for i, rule in enumerate(as_list(get(props, "rules"))):
            if isinstance(rule, Mapping) and lower(rule.get("action")) == "allow":
                match = rule.get("match") or {}
                _gcp_rule(what, f"rules[{i}]", rule, as_list(match.get("srcIpRanges")), as_list(match.get("layer4Configs")),
                          report)
    elif typ == CLOUD_SQL:
        if get(props, "settings.ipConfiguration.ipv4Enabled") is not False:
            sources = [n.get("value") for n in as_list(get(props, "settings.ipConfiguration.authorizedNetworks"))
                       if isinstance(n, Mapping)]
            if everyone(sources):
                engine = str(get(props, "databaseVersion") or "")
                port = {"POSTGRES": "PostgreSQL (5432)", "MYSQL": "MySQL (3306)", "SQLSERVER": "SQL Server (1433)"}
                _report(report, what, "settings.ipConfiguration.authorizedNetworks", sources,
                        [next((v for k, v in port.items() if engine.upper().startswith(k)), "its database port")])
    elif typ == NSG:
        for i, rule in enumerate(as_list(get(props, "securityRules"))):
            if isinstance(rule, Mapping):
                _azure_rule(what, f"securityRules[{i}] ({rule.get('name')})", rule, report)
    elif typ in (NSG_RULE, ADMIN_RULE):
        _azure_rule(what, "the rule", props, report)
    elif typ in RANGE_RULES:
        paths = RANGE_RULES[typ]
        pairs = [(first, last) for start, end in zip(paths[::2], paths[1::2])
                 for first, last in _range_pairs(props, start, end)]
        if _everyone_in_ranges(pairs):
            _report(report, what, " to ".join(paths[:2]), [f"{a}-{b}" for a, b in pairs], ["the service's data port"])


def _range_pairs(props: Any, start: str, end: str) -> list[tuple[Any, Any]]:
    """(first, last) pairs at two parallel paths, through a list on the way (`firewallRules.startIpAddress`)."""
    parent, _, first = start.rpartition(".")
    last = end.rpartition(".")[2]
    blocks = as_list(get(props, parent)) if parent else [props]
    return [(b.get(first), b.get(last)) for b in blocks if isinstance(b, Mapping) and b.get(first) is not None]


# ------------------------------------------------------------------ key-stores-not-open-to-internet


def _read_by_public_apps(apps: Iterable[PolicyResource]) -> set[str]:
    """Vault names (lower case) that apps without VNet integration read: references or vault URLs."""
    names: set[str] = set()
    for app in apps:
        if known(app.props, "virtualNetworkSubnetId") is not None:
            continue
        for value in app_settings(app.props).values():
            if value is UNKNOWN_SETTING or not isinstance(value, str):
                continue
            name = _reference_vault(value)[0] if _REFERENCE.match(value) else vault_name(value)
            if name:
                names.add(name)
    return names


def _vault_names(vault: PolicyResource) -> set[str]:
    return {n for n in (lower(known(vault.props, "vaultName")), lower(known(vault.props, "name")),
                        vault_name(known(vault.props, "properties.vaultUri"))) if n}


def _key_stores(args: StackValidationArgs, report: ReportViolation) -> None:
    by_type: dict[str, list[PolicyResource]] = {}
    for r in args.resources:
        by_type.setdefault(r.resource_type, []).append(r)
    needed = _read_by_public_apps([*by_type.get(WEB_APP, []), *by_type.get(WEB_APP_SLOT, [])])

    def firewall(r: PolicyResource, path: str, key: str) -> None:
        sources = [rule.get(key) for rule in as_list(get(r.props, path)) if isinstance(rule, Mapping)]
        if everyone(sources):
            report(f"{named(r, 'Key store')}: {path} admits {shown(sources)}, every address, so its firewall lets "
                   "everyone through; required: only the ranges that must reach it (or none, with a private endpoint "
                   "or the trusted-services bypass).", r.urn)

    def vault(v: PolicyResource) -> None:
        firewall(v, "properties.networkAcls.ipRules", "value")
        closed, _, _ = _vault_network(v)
        if closed or _vault_names(v) & needed:
            return
        report(f"{named(v, 'Key Vault')}: properties.publicNetworkAccess is "
               f"{shown(get(v.props, 'properties.publicNetworkAccess'))} and properties.networkAcls.defaultAction "
               f"{shown(get(v.props, 'properties.networkAcls.defaultAction'))} (Azure's defaults: Enabled, Allow), so it "
               "takes connections from every network, and no app of the stack without VNet integration reads it; "
               "required: networkAcls {defaultAction: 'Deny', bypass: 'AzureServices'} (customer-managed keys still "
               "reach Storage and Cosmos DB) or publicNetworkAccess 'Disabled' with a private endpoint.", v.urn)

    def hsm(h: PolicyResource) -> None:
        firewall(h, "properties.networkAcls.ipRules", "value")
        public = get(h.props, "properties.publicNetworkAccess")
        action = get(h.props, "properties.networkAcls.defaultAction")
        if lower(public) != "disabled" and lower(action) != "deny":
            report(f"{named(h, 'Managed HSM')}: properties.publicNetworkAccess is {shown(public)} and "
                   f"properties.networkAcls.defaultAction {shown(action)}, so the HSM takes connections from every "
                   "network; required: networkAcls {defaultAction: 'Deny', bypass: 'AzureServices'} or "
                   "publicNetworkAccess 'Disabled' with a private endpoint.", h.urn)

    each_known(by_type.get(KEY_VAULT, []), vault)
    each_known(by_type.get(MANAGED_HSM, []), hsm)
    each_known(by_type.get(COSMOS_ACCOUNT, []), lambda a: firewall(a, "ipRules", "ipAddressOrRange"))
    each_known(by_type.get(STORAGE_ACCOUNT, []), lambda a: firewall(a, "networkRuleSet.ipRules", "iPAddressOrRange"))


POLICIES = [
    resource_policy(
        "network-ports-not-public",
        "No ingress rule admits every address to an admin or data-plane port (SSH, RDP, WinRM, databases, caches, "
        "search, Docker, Kubernetes, ...: the union of Google Security Command Center's OPEN_*_PORT findings, AWS "
        "Security Hub EC2.13/EC2.14/EC2.19 and Microsoft Defender for Cloud's management ports, in "
        "policy/exposed_ports.py), on every type that writes one: AWS security groups and their rules, network ACLs "
        "and their rules, Lightsail public ports; GCP VPC firewalls (no source means 0.0.0.0/0), firewall-policy rules, "
        "Cloud SQL authorized networks; Azure NSGs and their rules, Virtual Network Manager admin rules, and every "
        "server-level firewall rule of a first and last address (catalogued from the SDK: SQL, PostgreSQL, MySQL, "
        "MariaDB, Redis, Synapse, Data Lake, Cosmos DB for MongoDB vCore). 'Every address' is 0.0.0.0/0, ::/0, "
        "Internet/Any/* or ranges whose union is the whole space.",
        sorted({*SECURITY_GROUPS, SECURITY_GROUP_RULE, INGRESS_RULE, *NETWORK_ACLS, NETWORK_ACL_RULE, LIGHTSAIL_PORTS,
                GCP_FIREWALL, *GCP_POLICY_RULES, *GCP_POLICIES_WITH_RULES, CLOUD_SQL, NSG, NSG_RULE, ADMIN_RULE,
                *RANGE_RULES}),
        _ports,
        remediation="admit admin and data ports only from the ranges that need them (a VPN, a bastion's security "
                    "group, IAP's 35.235.240.0/20, the virtual network) or reach the service through a private "
                    "endpoint; keep 0.0.0.0/0 for web ports behind a load balancer.",
        level=MANDATORY,
        severity=Severity.HIGH,
    ),
    stack_policy(
        "key-stores-not-open-to-internet",
        "Azure key stores are not open to every network: no Key Vault, managed HSM, Cosmos DB or Storage firewall rule "
        "admits every address, and a Key Vault or managed HSM keeps its firewall on (defaultAction Deny with the "
        "trusted-services bypass, or public access disabled) unless a function or web app of the stack without VNet "
        "integration reads the vault, which App Service can only do over the public endpoint with its identity "
        "(Key Vault security baseline NS-2, https://learn.microsoft.com/security/benchmark/azure/baselines/key-vault-security-baseline; "
        "https://learn.microsoft.com/azure/app-service/app-service-key-vault-references#access-network-restricted-vaults). "
        "Storage and Cosmos DB accounts reached over public endpoints with identity authentication are not refused.",
        sorted({KEY_VAULT, MANAGED_HSM, COSMOS_ACCOUNT, STORAGE_ACCOUNT, WEB_APP, WEB_APP_SLOT}),
        _key_stores,
        remediation="set networkAcls {defaultAction: 'Deny', bypass: 'AzureServices'} (or publicNetworkAccess "
                    "'Disabled' with a private endpoint) on vaults and HSMs no app reads over the public endpoint, and "
                    "drop IP rules that admit every address.",
        level=MANDATORY,
        severity=Severity.HIGH,
    ),
]
