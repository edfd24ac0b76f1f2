"""Endpoints, brokers, ports and key stores: what the corpus and fixtures don't pin down - security policy
names, what counts as every address, port spans, the catalogue of IP-range firewall rules, and values
unknown during preview."""

from __future__ import annotations

from pathlib import Path

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from policy import endpoints, ip_range_rules, network
from policy.offline import evaluate
from tests.support.derivations import derived_once, load_script

ROOT = Path(__file__).resolve().parent.parent
POLICIES = endpoints.POLICIES + network.POLICIES


def resource(typ: str, name: str, inputs: dict) -> dict:
    return {"urn": f"urn:pulumi:prod::anycloud::{typ}::{name}", "type": typ, "custom": True, "inputs": inputs,
            "outputs": inputs, "propertyDependencies": {}}


def found(*resources: dict):
    return evaluate(list(resources), policies=POLICIES)


@pytest.mark.parametrize("name, floor", [
    ("TLS_1_0", (1, 0)), ("tls_1_2", (1, 2)), ("SecurityPolicy_TLS13_1_3_2025_09", (1, 3)),
    ("SecurityPolicy_TLS13_1_2_2021_06", (1, 2)), ("SecurityPolicy_TLS12_PFS_2025_EDGE", (1, 2)),
    ("ELBSecurityPolicy-2016-08", (1, 0)), ("ELBSecurityPolicy-FS-2018-06", (1, 0)),
    ("ELBSecurityPolicy-TLS13-1-2-2021-06", (1, 2)), ("ELBSecurityPolicy-TLS13-1-1-2021-06", (1, 1)),
    ("ELBSecurityPolicy-FS-1-2-Res-2020-10", (1, 2)), ("ELBSecurityPolicy-TLS-1-2-Ext-2018-06", (1, 2)),
    ("ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04", (1, 2)), ("TLS_1_2", (1, 2)), ("custom-policy", None),
])
def test_security_policy_names_carry_their_tls_floor(name, floor):
    assert endpoints.policy_floor(name) == floor


@pytest.mark.parametrize("sources, open_", [
    (["0.0.0.0/0"], True), (["::/0"], True), (["10.0.0.0/8"], False), (["0.0.0.0/1", "128.0.0.0/1"], True),
    (["0.0.0.0/1"], False), (["Internet"], True), (["*"], True), (["VirtualNetwork"], False), (["0.0.0.0"], False),
    (["::/1", "8000::/1"], True), (["not an address"], False),
])
def test_every_address_however_it_is_written(sources, open_):
    assert network.everyone(sources) is open_


def test_firewall_ranges_are_read_from_the_sdk_catalogue(pytestconfig):
    sources = [ROOT / "scripts" / "ip_range_rules.py", ROOT / "scripts" / "sdk_inputs.py", ROOT / "policy" / "ip_range_rules.py"]
    with derived_once(pytestconfig, "ip-range-rules", sources):
        assert load_script("ip_range_rules").catalogue() == ip_range_rules.RANGE_RULES, "run python scripts/ip_range_rules.py"


def test_ranges_split_in_two_rules_of_one_resource_still_cover_everyone():
    split = resource("azure-native:datalakestore:Account", "lake", {"resourceGroupName": "rg", "firewallRules": [
        {"name": "a", "startIpAddress": "0.0.0.0", "endIpAddress": "127.255.255.255"},
        {"name": "b", "startIpAddress": "128.0.0.0", "endIpAddress": "255.255.255.255"}]})
    azure_services = resource("azure-native:sql:FirewallRule", "azure", {"serverName": "s", "startIpAddress": "0.0.0.0",
                                                                         "endIpAddress": "0.0.0.0"})
    assert [v.urn.rsplit("::", 1)[1] for v in found(split, azure_services).violations] == ["lake"]


def test_port_less_protocols_and_web_ports_are_not_admin_ports():
    group = resource("aws:ec2/securityGroup:SecurityGroup", "web", {"ingress": [
        {"protocol": "icmp", "fromPort": -1, "toPort": -1, "cidrBlocks": ["0.0.0.0/0"]},
        {"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["0.0.0.0/0"]},
        {"protocol": "tcp", "fromPort": 8080, "toPort": 8080, "cidrBlocks": ["0.0.0.0/0"]}]})
    firewall = resource("gcp:compute/firewall:Firewall", "egress", {"network": "n", "direction": "EGRESS",
                                                                    "destinationRanges": ["0.0.0.0/0"], "allows": [{"protocol": "all"}]})
    tagged = resource("gcp:compute/firewall:Firewall", "from-tags", {"network": "n", "sourceTags": ["bastion"],
                                                                     "allows": [{"protocol": "tcp", "ports": ["22"]}]})
    assert found(group, firewall, tagged).violations == []


def test_a_gcp_ingress_rule_without_a_source_applies_to_every_address():
    rule = resource("gcp:compute/firewall:Firewall", "ssh", {"network": "n", "allows": [{"protocol": "tcp", "ports": ["22"]}]})
    assert [v.policy for v in found(rule).violations] == ["network-ports-not-public"]


def test_an_unknown_source_during_preview_is_a_note_not_a_guess():
    rule = resource("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "r",
                    {"securityGroupId": "sg-1", "cidrIpv4": UNKNOWN_STRING_VALUE, "fromPort": 22, "toPort": 22, "ipProtocol": "tcp"})
    report = found(rule)
    assert report.violations == [] and len(report.notes) == 1


def test_a_vault_an_app_reads_without_vnet_integration_may_stay_public():
    vault = resource("azure-native:keyvault:Vault", "secrets", {"vaultName": "shop-secrets", "properties": {
        "tenantId": "t", "sku": {"family": "A", "name": "standard"}}})
    app = resource("azure-native:web:WebApp", "app", {"kind": "functionapp,linux", "siteConfig": {"appSettings": [
        {"name": "API_KEY", "value": "@Microsoft.KeyVault(SecretUri=https://shop-secrets.vault.azure.net/secrets/api-key)"}]}})
    assert [v.policy for v in evaluate([vault, app], policies=network.POLICIES).violations] == []
    app["inputs"]["virtualNetworkSubnetId"] = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/a"
    assert [v.policy for v in evaluate([vault, app], policies=network.POLICIES).violations] == ["key-stores-not-open-to-internet"]


def test_an_http_listener_may_only_redirect_to_https():
    listener = resource("aws:lb/listener:Listener", "http", {"protocol": "HTTP", "port": 80, "defaultActions": [
        {"type": "redirect", "redirect": {"protocol": "HTTP", "port": "8080", "statusCode": "HTTP_301"}}]})
    assert [v.policy for v in found(listener).violations] == ["endpoints-tls12"]


def test_gcp_http_proxy_judged_by_its_url_map_in_the_stack():
    proxy = resource("gcp:compute/targetHttpProxy:TargetHttpProxy", "http", {"name": "http", "urlMap": "projects/p/global/urlMaps/web"})
    serving = resource("gcp:compute/uRLMap:URLMap", "web", {"name": "web", "defaultService": "backend"})
    redirecting = resource("gcp:compute/uRLMap:URLMap", "web", {"name": "web", "defaultUrlRedirect": {"httpsRedirect": True}})
    assert [v.policy for v in found(proxy, serving).violations] == ["endpoints-tls12"]
    assert found(proxy, redirecting).violations == []
    assert found(proxy).violations == []  # a URL map outside the stack is not guessed at


def test_vpc_link_integrations_may_use_plain_http_inside_the_vpc():
    link = resource("aws:apigatewayv2/integration:Integration", "private", {
        "apiId": "a", "integrationType": "HTTP_PROXY", "connectionType": "VPC_LINK", "integrationUri": "http://internal-nlb:8080"})
    assert found(link).violations == []
