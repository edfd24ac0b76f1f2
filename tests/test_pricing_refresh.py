"""pricing/refresh.py against small sample responses shaped as the three price endpoints document
them (tests/pricing_samples/; nothing is fetched): the figure of the first paid tier lands in the
table with its endpoint and date, the assumption goes, comments stay, and the cost follows."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
import yaml

from components.cost import PRICING_DIR, PriceTable

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = Path(__file__).resolve().parent / "pricing_samples"
spec = importlib.util.spec_from_file_location("pricing_refresh", ROOT / "pricing" / "refresh.py")
refresh_module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(refresh_module)
RefreshError, refresh = refresh_module.RefreshError, refresh_module.refresh


def fetcher(pages: dict[str, str]):
    """A fetch that answers each URL with a sample file, and records what was asked."""
    asked: list[str] = []

    def fetch(url: str):
        asked.append(url)
        for prefix, name in pages.items():
            if url.startswith(prefix):
                return json.loads((SAMPLES / name).read_text())
        raise AssertionError(f"unexpected fetch {url}")

    fetch.asked = asked
    return fetch


@pytest.fixture
def tables(tmp_path) -> Path:
    shutil.copytree(PRICING_DIR, tmp_path, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return tmp_path


def test_aws_takes_the_first_tier_of_the_offer_file(tables):
    fetch = fetcher({"https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AWSLambda/current/us-east-1/index.json":
                     "aws-AWSLambda-us-east-1.json"})
    text = refresh("aws", fetch, only=["function_gb_second_arm", "function_request"], directory=tables, today="2027-01-02")
    prices = yaml.safe_load(text)["prices"]
    assert prices["function_gb_second_arm"]["usd"] == pytest.approx(0.000014)  # the tier from 0, not 7.5 billion
    assert prices["function_request"]["usd"] == pytest.approx(0.25)            # 0.00000025 a request, per million
    for key in ("function_gb_second_arm", "function_request"):
        assert str(prices[key]["read"]) == "2027-01-02" and "assumption" not in prices[key]
        assert prices[key]["endpoint"].endswith("/AWSLambda/current/us-east-1/index.json")
    assert prices["key_month"] == yaml.safe_load((PRICING_DIR / "aws.yaml").read_text())["prices"]["key_month"]
    assert text.startswith("# AWS list prices") and len(fetch.asked) == 1  # comments kept; one offer file fetched once
    (tables / "aws.yaml").write_text(text)
    assert PriceTable.load("aws", tables)["function_request"].usd == pytest.approx(0.25)


def test_azure_follows_the_next_page_and_skips_the_free_tier(tables):
    fetch = fetcher({"https://prices.azure.com/api/retail/prices?page=2": "azure-functions-eastus-2.json",
                     "https://prices.azure.com/api/retail/prices?": "azure-functions-eastus-1.json"})
    text = refresh("azure", fetch, only=["function_gb_second", "function_execution"], directory=tables, today="2027-01-02")
    prices = yaml.safe_load(text)["prices"]
    assert prices["function_gb_second"]["usd"] == pytest.approx(0.00003)
    assert prices["function_execution"]["usd"] == pytest.approx(0.5)  # 0.5 per "1M", per million
    assert "armRegionName+eq+%27eastus%27" in fetch.asked[0] and len(fetch.asked) == 2


def test_gcp_needs_a_key_and_reads_units_and_nanos(tables):
    with pytest.raises(RefreshError, match="GOOGLE_BILLING_API_KEY"):
        refresh("gcp", fetcher({}), only=["function_request"], directory=tables)
    fetch = fetcher({"https://cloudbilling.googleapis.com/v1/services?": "gcp-services.json",
                     "https://cloudbilling.googleapis.com/v1/services/152E-C115-5142/skus?": "gcp-cloud-run-skus.json"})
    text = refresh("gcp", fetch, only=["function_request"], key="test-key", directory=tables, today="2027-01-02")
    assert yaml.safe_load(text)["prices"]["function_request"]["usd"] == pytest.approx(0.45)  # 450 nanos a request
    assert all("key=test-key" in url for url in fetch.asked)


def test_a_price_the_endpoint_lacks_is_an_error_not_a_stale_figure(tables):
    fetch = fetcher({"https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AWSLambda/current/eu-west-1/index.json":
                     "aws-AWSLambda-us-east-1.json"})
    with pytest.raises(RefreshError, match="Lambda-Provisioned-Concurrency-ARM: not in the offer file"):
        refresh("aws", fetch, only=["provisioned_gb_second_arm"], region="eu-west-1", directory=tables)
    with pytest.raises(RefreshError, match="not prices of aws.yaml"):
        refresh("aws", fetch, only=["nothing"], directory=tables)


def test_every_price_says_where_a_refresh_finds_it():
    for cloud in ("aws", "gcp", "azure"):
        prices = yaml.safe_load((PRICING_DIR / f"{cloud}.yaml").read_text())["prices"]
        assert all(p.get("refresh") for p in prices.values()), cloud
