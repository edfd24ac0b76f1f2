"""The cost (components/cost.py and each cloud's cost model): every figure is a quantity counted
from the render times a price of pricing/<cloud>.yaml; changing a price changes the figure by
exactly that much, and changing the render (a grant, a warm instance) changes what is counted.

The reference test service (tests/services) on the three clouds, prod.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
import yaml

from components.cost import MILLION, PRICING_DIR, SECONDS_A_MONTH, PricingError, estimate, side_by_side, text
from components.export import to_export
from tests.test_check_cli import PROD_STACK, check, project

#: at-rest price -> the resource type whose count it multiplies, per cloud.
COUNTED = {
    "aws": {"key_month": "aws:kms/key:Key", "secret_month": "aws:secretsmanager/secret:Secret",
            "alarm_month": "aws:cloudwatch/metricAlarm:MetricAlarm", "dashboard_month": "aws:cloudwatch/dashboard:Dashboard"},
    "gcp": {"key_version_month": "gcp:kms/cryptoKey:CryptoKey"},
    "azure": {"key_month": "azure-native:keyvault:Key", "metric_alert_month": "azure-native:monitor:MetricAlert",
              "log_alert_month": "azure-native:monitor:ScheduledQueryRule"},
}


@pytest.fixture(scope="module")
def stacks(prod, gcp_prod, azure_prod):
    return {c: to_export(r)["deployment"]["resources"] for c, r in (("aws", prod), ("gcp", gcp_prod), ("azure", azure_prod))}


def table(cloud: str, directory: Path = PRICING_DIR) -> dict:
    return yaml.safe_load((directory / f"{cloud}.yaml").read_text())["prices"]


@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure"])
def test_every_figure_is_its_quantity_times_its_price_in_the_table(stacks, cloud):
    est, prices = estimate(stacks[cloud]), table(cloud)
    assert est.at_rest and est.routes
    for line in est.lines():
        price = prices[line.price.key]
        assert price["source"].startswith("https://") and price["read"]
        assert line.usd == pytest.approx(line.quantity * price["usd"] / price["per"])
    for key, typ in COUNTED[cloud].items():
        (line,) = [l for l in est.at_rest if l.price.key == key]
        assert line.quantity == sum(1 for r in stacks[cloud] if r["type"] == typ)
    assert est.at_rest_usd == pytest.approx(sum(l.usd for l in est.at_rest))


@pytest.mark.parametrize("cloud, key, quantity", [
    ("aws", "provisioned_gb_second_arm", 2 * 0.5 * SECONDS_A_MONTH),   # create-order: 2 x 512 MB provisioned
    ("gcp", "idle_gib_second", 2 * 0.5 * SECONDS_A_MONTH),             # 2 minimum instances of 512 MiB
    ("azure", "always_ready_gb_second", 2 * 0.5 * SECONDS_A_MONTH),    # 2 always ready of 512 MB
])
def test_warm_instances_are_priced_from_the_render(stacks, cloud, key, quantity):
    (line,) = [l for l in estimate(stacks[cloud]).at_rest if l.price.key == key]
    assert line.category == "warm instances" and line.quantity == pytest.approx(quantity)


def test_changing_a_price_changes_the_figure_by_exactly_that(stacks, tmp_path):
    shutil.copytree(PRICING_DIR, tmp_path, dirs_exist_ok=True)
    before = estimate(stacks["aws"], tmp_path)
    data = yaml.safe_load((tmp_path / "aws.yaml").read_text())
    data["prices"]["key_month"]["usd"] += 2.5
    data["prices"]["api_request"]["usd"] *= 2
    (tmp_path / "aws.yaml").write_text(yaml.safe_dump(data))
    after = estimate(stacks["aws"], tmp_path)
    assert after.at_rest_usd - before.at_rest_usd == pytest.approx(2.5)  # one key
    for route in before.routes:  # one API call a request
        assert after.per_million(route) - before.per_million(route) == pytest.approx(data["prices"]["api_request"]["usd"] / 2)


def test_a_price_missing_from_the_table_is_named(stacks, tmp_path):
    shutil.copytree(PRICING_DIR, tmp_path, dirs_exist_ok=True)
    data = yaml.safe_load((tmp_path / "gcp.yaml").read_text())
    del data["prices"]["table_write"]
    (tmp_path / "gcp.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(PricingError, match="no price 'table_write'"):
        estimate(stacks["gcp"], tmp_path)


@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure"])
def test_a_routes_path_follows_its_grants(stacks, cloud):
    est = estimate(stacks[cloud])
    invoked = {l.what.split(":")[0] for l in est.routes["POST /orders"] if l.category == "function invocations"}
    assert {"create-order", "process-order", "reserve-stock", "charge-payment", "ship", "notify", "mark-completed"} <= invoked
    if cloud in ("aws", "gcp"):  # the happy path of the rendered definition: no failure branch
        assert not invoked & {"release-stock", "mark-failed"}
    assert {l.category for l in est.routes["POST /orders"]} >= {"API calls", "queue", "tables", "workflow"}
    health = est.routes["GET /health"]
    assert {l.what.split(":")[0] for l in health if l.category == "function invocations"} == {"health"}
    assert est.per_million("POST /orders") > est.per_million("GET /orders/{order_id}") > 0


def test_dropping_the_consumers_grant_cuts_the_path_there(stacks):
    resources = copy.deepcopy(stacks["aws"])
    for r in resources:
        if r["urn"].endswith("::process-order-policy"):
            document = json.loads(r["inputs"]["policy"])
            document["Statement"] = [s for s in document["Statement"] if s["Sid"] != "ConsumeOrders"]
            r["inputs"]["policy"] = json.dumps(document)
    before, after = estimate(stacks["aws"]), estimate(resources)
    invoked = {l.what.split(":")[0] for l in after.routes["POST /orders"] if l.category == "function invocations"}
    assert invoked == {"create-order"}
    assert after.per_million("POST /orders") < before.per_million("POST /orders")
    assert after.at_rest_usd == before.at_rest_usd


def test_no_warm_instances_no_warm_cost(stacks):
    resources = [r for r in stacks["aws"] if r["type"] != "aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig"]
    assert not [l for l in estimate(resources).at_rest if l.category == "warm instances"]


def test_tables_mark_assumptions_and_list_free_tiers_apart(stacks):
    ests = {c: estimate(s) for c, s in stacks.items()}
    out = text(ests["aws"], 1_000_000)
    assert "* rests on an assumption:" in out and "function_duration_ms = 100 (pricing/assumptions.yaml)" in out
    assert "Free tiers (not deducted above):" in out and "note: this stack deploys to eu-west-1" in out
    assert f"{ests['aws'].monthly(1_000_000, None):,.2f} USD a month" in out
    both = side_by_side(ests, 1_000_000)
    assert both.splitlines()[3].split() == ["aws", "gcp", "azure"]
    total = next(l for l in both.splitlines() if l.strip().startswith("total") and "per million" not in l)
    assert total.split()[1:] == [f"{ests[c].at_rest_usd:,.2f}" for c in ("aws", "gcp", "azure")]
    assert ests["aws"].monthly(MILLION, "GET /health") == pytest.approx(ests["aws"].at_rest_usd + ests["aws"].per_million("GET /health"))


def test_check_cost_text_json_and_all_clouds(tmp_path):
    directory = project(tmp_path, "prod", PROD_STACK)
    code, out, err = check("--stack", "prod", "--cost", "--requests-per-month", "2000", "--dir", str(directory))
    assert code == 0 and "total at rest" in out and "With 2,000 requests a month on POST /orders" in out, err
    code, out, err = check("--stack", "prod", "--cost", "--format", "json", "--dir", str(directory))
    data = json.loads(out)
    assert code == 0 and set(data) == {"aws"} and data["aws"]["at_rest"]["usd"] > 0
    assert all(line["source"].startswith("https://") for line in data["aws"]["at_rest"]["lines"])
    code, out, err = check("--stack", "prod", "--cost", "--cloud", "all", "--dir", str(directory))
    assert code == 0 and out.splitlines()[3].split() == ["aws", "gcp", "azure"], err
    code, out, err = check("--stack", "prod", "--cost", "--route", "GET /nowhere", "--dir", str(directory))
    assert code == 2 and "--route 'GET /nowhere': not a route of the stack; allowed:" in err
