"""Refresh a price table (pricing/<cloud>.yaml) from its provider's public price endpoint.

    python pricing/refresh.py aws [--region eu-west-1] [--only KEY ...] [--dry-run]
    python pricing/refresh.py azure
    GOOGLE_BILLING_API_KEY=... python pricing/refresh.py gcp

Each price's `refresh` entry names its product there: AWS's Price List Bulk API offer file and
usage type (public, no credentials), the Azure Retail Prices API's service, product, SKU and meter
(public), the Cloud Billing Catalog API's service and SKU description (an API key). A refreshed
price gets the figure of the first paid tier, the endpoint it came from and today's date, and
loses its `assumption`. A price the endpoint does not have is an error naming it (no figure of
another region is kept by mistake). The file is edited line by line, so its comments stay.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import urllib.parse
import urllib.request
from datetime import date
from pathlib import Path
from typing import Any, Callable

import yaml

HERE = Path(__file__).resolve().parent
Fetch = Callable[[str], Any]

AWS_OFFER = "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/{offer}/current/{region}/index.json"
AZURE_PRICES = "https://prices.azure.com/api/retail/prices"
GCP_SERVICES = "https://cloudbilling.googleapis.com/v1/services"


class RefreshError(RuntimeError):
    pass


def fetch_json(url: str) -> Any:
    """GET a JSON document (the endpoints are public; GCP's takes its key in the URL)."""
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": "application/json"}), timeout=60) as answer:
        return json.load(answer)


# ------------------------------------------------------------------------ AWS


def _aws_price(offer: dict[str, Any], usagetype: str) -> float:
    """USD per unit of the product whose usage type is `usagetype` (after the region's prefix, if
    any), at the first paid tier of its on-demand terms."""
    pattern = re.compile(rf"(?:[A-Z0-9]+-)?{re.escape(usagetype)}")
    skus = [sku for sku, p in (offer.get("products") or {}).items()
            if pattern.fullmatch(str((p.get("attributes") or {}).get("usagetype", "")))]
    rates = []
    for sku in skus:
        for term in ((offer.get("terms") or {}).get("OnDemand") or {}).get(sku, {}).values():
            for dimension in (term.get("priceDimensions") or {}).values():
                usd = float((dimension.get("pricePerUnit") or {}).get("USD", 0))
                if usd > 0:
                    rates.append((float(dimension.get("beginRange") or 0), usd))
    if not rates:
        raise RefreshError(f"usage type {usagetype}: not in the offer file")
    return min(rates)[1]


def aws(prices: dict[str, Any], region: str, fetch: Fetch, key: str | None = None) -> dict[str, tuple[float, str]]:
    offers: dict[str, Any] = {}
    found = {}
    for name, price in prices.items():
        where = price.get("refresh") or {}
        url = AWS_OFFER.format(offer=where["offer"], region=region)
        if url not in offers:
            offers[url] = fetch(url)
        found[name] = (_aws_price(offers[url], where["usagetype"]) * float(price["per"]), url)
    return found


# ---------------------------------------------------------------------- Azure


def _units(measure: str) -> float:
    """How many units an Azure `unitOfMeasure` counts: '10K' 10,000, '1M' a million, '1 Hour' 1."""
    match = re.match(r"\s*(\d+(?:\.\d+)?)\s*([KM]?)\b", measure or "1")
    if not match:
        return 1.0
    return float(match.group(1)) * {"": 1, "K": 1_000, "M": 1_000_000}[match.group(2)]


def azure(prices: dict[str, Any], region: str, fetch: Fetch, key: str | None = None) -> dict[str, tuple[float, str]]:
    pages: dict[str, list[dict[str, Any]]] = {}
    found = {}
    for name, price in prices.items():
        where = price.get("refresh") or {}
        query = (f"serviceName eq '{where['serviceName']}' and armRegionName eq '{region}' and priceType eq 'Consumption'")
        url = f"{AZURE_PRICES}?{urllib.parse.urlencode({'$filter': query})}"
        if url not in pages:
            items, next_url = [], url
            while next_url:
                page = fetch(next_url)
                items += page.get("Items") or []
                next_url = page.get("NextPageLink")
            pages[url] = items
        matches = [i for i in pages[url] if all(i.get(k) == where[k] for k in ("productName", "skuName", "meterName") if k in where)
                   and float(i.get("retailPrice") or 0) > 0]
        if not matches:
            raise RefreshError(f"{name}: no paid Azure retail price for {where} in {region}")
        item = min(matches, key=lambda i: float(i.get("tierMinimumUnits") or 0))
        found[name] = (float(item["retailPrice"]) / _units(item.get("unitOfMeasure", "1")) * float(price["per"]), url)
    return found


# ------------------------------------------------------------------------ GCP


def _paged(fetch: Fetch, url: str, field: str) -> list[dict[str, Any]]:
    items, token = [], None
    while True:
        page = fetch(url + (f"&pageToken={token}" if token else ""))
        items += page.get(field) or []
        token = page.get("nextPageToken")
        if not token:
            return items


def gcp(prices: dict[str, Any], region: str, fetch: Fetch, key: str | None = None) -> dict[str, tuple[float, str]]:
    if not key:
        raise RefreshError("the Cloud Billing Catalog API needs an API key: set GOOGLE_BILLING_API_KEY")
    services = {s.get("displayName"): s["name"] for s in _paged(fetch, f"{GCP_SERVICES}?key={key}", "services")}
    skus: dict[str, list[dict[str, Any]]] = {}
    found = {}
    for name, price in prices.items():
        where = price.get("refresh") or {}
        service = services.get(where["service"])
        if service is None:
            raise RefreshError(f"{name}: no service {where['service']!r} in the Cloud Billing Catalog")
        if service not in skus:
            skus[service] = _paged(fetch, f"https://cloudbilling.googleapis.com/v1/{service}/skus?key={key}&currencyCode=USD", "skus")
        matches = [s for s in skus[service] if s.get("description") == where["sku"]
                   and (region in (s.get("serviceRegions") or []) or "global" in (s.get("serviceRegions") or []))]
        rates = [r for s in matches for info in s.get("pricingInfo") or []
                 for r in ((info.get("pricingExpression") or {}).get("tieredRates") or [])]
        paid = [r for r in rates if int((r.get("unitPrice") or {}).get("units") or 0) or (r.get("unitPrice") or {}).get("nanos")]
        if not paid:
            raise RefreshError(f"{name}: no paid SKU {where['sku']!r} of {where['service']} in {region}")
        rate = min(paid, key=lambda r: float(r.get("startUsageAmount") or 0))["unitPrice"]
        usd = int(rate.get("units") or 0) + int(rate.get("nanos") or 0) / 1e9
        found[name] = (usd * float(price["per"]), f"https://cloudbilling.googleapis.com/v1/{service}/skus")
    return found


READERS = {"aws": aws, "azure": azure, "gcp": gcp}


# ---------------------------------------------------------------- the file


def apply(text: str, found: dict[str, tuple[float, str]], today: str, region: str | None = None) -> str:
    """The table's text with each found price's usd, endpoint and date replaced, its assumption dropped."""
    if region:
        text = re.sub(r"(?m)^region: .*$", f"region: {region}", text, count=1)
    for name, (usd, endpoint) in found.items():
        block = re.search(rf"(?m)^  {re.escape(name)}:\n(?:    .*\n)+", text)
        if block is None:
            raise RefreshError(f"price {name}: not in the table")
        lines = [line for line in block.group(0).splitlines(keepends=True)
                 if not line.startswith(("    assumption:", "    endpoint:"))]
        body = "".join(lines)
        figure = f"{usd:.12f}".rstrip("0").rstrip(".")  # plain decimals: YAML reads 3e-05 as a string
        body = re.sub(r"(?m)^    usd: .*$", f"    usd: {figure}", body)
        body = re.sub(r"(?m)^    read: .*$", f"    read: {today}\n    endpoint: {endpoint}", body)
        text = text[:block.start()] + body + text[block.end():]
    return text


def refresh(cloud: str, fetch: Fetch = fetch_json, region: str | None = None, only: list[str] | None = None,
            key: str | None = None, directory: Path = HERE, today: str | None = None) -> str:
    """The refreshed text of pricing/<cloud>.yaml (not written)."""
    path = directory / f"{cloud}.yaml"
    text = path.read_text()
    table = yaml.safe_load(text)
    prices = {k: v for k, v in table["prices"].items() if (not only or k in only) and v.get("refresh")}
    unknown = sorted(set(only or ()) - set(table["prices"]))
    if unknown:
        raise RefreshError(f"--only {', '.join(unknown)}: not prices of {path.name}")
    target = region or table["region"]
    found = READERS[cloud](prices, target, fetch, key)
    return apply(text, found, today or str(date.today()), region if region and region != table["region"] else None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python pricing/refresh.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("cloud", choices=sorted(READERS))
    parser.add_argument("--region", help="another region than the table's (every price is refreshed for it)")
    parser.add_argument("--only", nargs="+", metavar="KEY", help="refresh these prices only")
    parser.add_argument("--dry-run", action="store_true", help="print the refreshed table instead of writing it")
    args = parser.parse_args(argv)
    if args.region and args.only:
        parser.error("--region refreshes every price: a table holds one region")
    try:
        text = refresh(args.cloud, region=args.region, only=args.only, key=os.environ.get("GOOGLE_BILLING_API_KEY"))
    except (RefreshError, OSError, KeyError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.dry_run:
        sys.stdout.write(text)
    else:
        (HERE / f"{args.cloud}.yaml").write_text(text)
        print(f"refreshed pricing/{args.cloud}.yaml")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
