"""What a rendered stack costs a month at rest and per million requests, counted from its resources
times the price table kept in pricing/<cloud>.yaml (each price with its source and the date read).

What exists and how it is set (keys, alarms, warm instances, memory) is read from the render; what
one request does is read from the architecture (components/architecture.py): a route's path is
every block reachable from it through the arrows a request follows (invoke, consume, send, start),
each taken once; what the render cannot say (how long a function runs, how large an item is) is
in pricing/assumptions.yaml and printed as an assumption. Each cloud's package says how its
resources meet its prices (`components/<cloud>/cost.py`); free tiers are listed, never deducted.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import Any, Iterable

import yaml

from .architecture import YAML_LOADER, Architecture, Stack

PRICING_DIR = FilePath(__file__).resolve().parent.parent / "pricing"
SECONDS_A_MONTH = 730 * 3600  # the 730-hour month the three clouds' calculators use
MILLION = 1_000_000
#: The arrows a request follows, from a route onwards.
PATH_VERBS = ("invoke", "consume", "send", "start")
#: How a path is walked, printed under every estimate: the render holds no traffic, so each arrow counts once.
PATH_NOTE = ("a request takes every arrow of its route's path once (each function reached runs once); a workflow "
             "takes its happy path where the render holds its definition (Step Functions, Workflows: the first choice, "
             "no retry, no catch), else every task once (Durable Functions: an upper bound); a secret is read once per "
             "instance and cached (not counted)")
#: Neutral categories, in the order of a table.
CATEGORIES = ("warm instances", "keys", "secrets", "alarms and dashboards", "API calls", "function invocations",
              "queue", "tables", "workflow")


class PricingError(ValueError):
    """A price table is missing or malformed (named in the message)."""


@dataclass(frozen=True)
class Price:
    key: str
    usd: float
    per: float
    unit: str
    source: str
    read: str
    assumption: str = ""

    def of(self, quantity: float) -> float:
        return quantity * self.usd / self.per


@dataclass
class PriceTable:
    cloud: str
    region: str
    prices: dict[str, Price]
    free_tiers: list[str]
    path: FilePath

    @classmethod
    def load(cls, cloud: str, directory: FilePath = PRICING_DIR) -> "PriceTable":
        path = directory / f"{cloud}.yaml"
        try:
            data = yaml.load(path.read_text(), Loader=YAML_LOADER)
            prices = {key: Price(key=key, usd=float(p["usd"]), per=float(p["per"]), unit=str(p["unit"]),
                                 source=str(p["source"]), read=str(p["read"]), assumption=str(p.get("assumption") or ""))
                      for key, p in data["prices"].items()}
            tiers = [t if isinstance(t, str) else "; ".join(f"{k}: {v}" for k, v in t.items()) for t in data.get("free_tiers") or []]
            return cls(cloud=data["cloud"], region=data["region"], prices=prices, free_tiers=tiers, path=path)
        except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as err:
            raise PricingError(f"{path}: not a price table ({err}); allowed: the shape of pricing/aws.yaml") from err

    def __getitem__(self, key: str) -> Price:
        if key not in self.prices:
            raise PricingError(f"{self.path}: no price {key!r}; the {self.cloud} cost model needs it")
        return self.prices[key]


def assumptions(directory: FilePath = PRICING_DIR) -> dict[str, float]:
    path = directory / "assumptions.yaml"
    try:
        return {k: float(v) for k, v in yaml.load(path.read_text(), Loader=YAML_LOADER).items()}
    except (OSError, yaml.YAMLError, AttributeError, TypeError, ValueError) as err:
        raise PricingError(f"{path}: not a table of assumptions ({err})") from err


@dataclass
class Line:
    """One priced quantity: a month's at rest, or one request's on a path."""

    category: str
    what: str
    quantity: float
    unit: str
    price: Price
    assumed: tuple[str, ...] = ()  # the assumptions (pricing/assumptions.yaml keys) the quantity rests on

    @property
    def usd(self) -> float:
        return self.price.of(self.quantity)


def per_resource(stack: Any, prices: PriceTable, rows: Iterable[tuple[str, str, str, str]]) -> list[Line]:
    """A month at rest of each (type, category, what, price key) the stack holds: one line per type present."""
    lines = []
    for typ, category, what, price in rows:
        count = len(stack.of_type(typ))
        if count:
            lines.append(Line(category, what, count, "each", prices[price]))
    return lines


def table_lines(arch: Architecture, path: RequestPath, read: tuple[float, str, Price, tuple[str, ...]],
                write: tuple[float, str, Price, tuple[str, ...]]) -> list[Line]:
    """The path's table reads and writes, each (quantity, unit, price, assumptions) as the cloud bills them."""
    lines = []
    for pairs, verb, (quantity, unit, price, assumed) in ((path.reads, "reads", read), (path.writes, "writes", write)):
        for function, table in pairs:
            lines.append(Line("tables", f"{arch.blocks[function].name} {verb} {arch.blocks[table].name}", quantity, unit,
                              price, assumed))
    return lines


@dataclass
class RequestPath:
    """What one request on a route reaches: functions invoked, table reads and writes, messages, workflows."""

    route: str
    functions: list[str] = field(default_factory=list)
    reads: list[tuple[str, str]] = field(default_factory=list)
    writes: list[tuple[str, str]] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    workflows: list[str] = field(default_factory=list)


def without(path: RequestPath, functions: set[str]) -> RequestPath:
    """The path less some functions (tasks a workflow's happy path does not call) and their reads and writes."""
    return RequestPath(path.route, [f for f in path.functions if f not in functions],
                       [r for r in path.reads if r[0] not in functions], [w for w in path.writes if w[0] not in functions],
                       list(path.messages), list(path.workflows))


def request_path(arch: Architecture, route: str) -> RequestPath:
    """Every block a request on `route` reaches through invoke, consume, send and start arrows, once
    each, and through a table's change stream to its consumer when a function on the path writes it."""
    path, seen, todo = RequestPath(route), {route}, [route]
    while todo:
        source = todo.pop(0)
        for arrow in arch.arrows:
            through_stream = arrow.verb == "write" and arch.blocks[arrow.target].kind == "table"
            if arrow.source != source or not (arrow.verb in PATH_VERBS or through_stream) or arrow.target in seen:
                continue
            seen.add(arrow.target)
            todo.append(arrow.target)
            kind = arch.blocks[arrow.target].kind
            if kind == "function":
                path.functions.append(arrow.target)
            elif kind == "queue":
                path.messages.append(arrow.target)
            elif kind == "workflow":
                path.workflows.append(arrow.target)
    for arrow in arch.arrows:
        if arrow.source in path.functions and arrow.verb in ("read", "write") and arch.blocks[arrow.target].kind == "table":
            (path.reads if arrow.verb == "read" else path.writes).append((arrow.source, arrow.target))
    return path


@dataclass
class Estimate:
    cloud: str
    stack_region: str
    prices: PriceTable
    at_rest: list[Line]
    routes: dict[str, list[Line]]
    assumed: dict[str, float]

    @property
    def at_rest_usd(self) -> float:
        return sum(line.usd for line in self.at_rest)

    def per_million(self, route: str) -> float:
        return sum(line.usd for line in self.routes[route]) * MILLION

    def busiest(self) -> str | None:
        """The route whose request costs most (the default path of --requests-per-month)."""
        return max(self.routes, key=self.per_million) if self.routes else None

    def monthly(self, requests: int, route: str | None) -> float:
        route = route or self.busiest()
        return self.at_rest_usd + (self.per_million(route) * requests / MILLION if route else 0.0)

    def lines(self) -> Iterable[Line]:
        yield from self.at_rest
        for lines in self.routes.values():
            yield from lines

    def assumptions_used(self) -> list[str]:
        """The price assumptions and request assumptions under these figures, one line each."""
        notes = {f"{l.price.key}: {l.price.assumption}" for l in self.lines() if l.price.assumption}
        keys = {k for l in self.lines() for k in l.assumed}
        notes |= {f"{k} = {self.assumed[k]:g} (pricing/assumptions.yaml)" for k in keys if k in self.assumed}
        return sorted(notes) + ([f"path: {PATH_NOTE}"] if self.routes else [])


def estimate(resources: Iterable[dict[str, Any]], directory: FilePath = PRICING_DIR) -> Estimate:
    """The cost of a stack's resources: at rest a month, and per request on each route's path."""
    stack = Stack(resources)
    from .architecture import read

    arch = read(stack.resources)
    model = importlib.import_module(f"components.{stack.cloud}.cost")
    prices, assumed = PriceTable.load(stack.cloud, directory), assumptions(directory)
    routes = {r.name: model.per_request(stack, arch, request_path(arch, r.key), prices, assumed)
              for r in arch.of_kind("route")}
    return Estimate(cloud=stack.cloud, stack_region=model.region(stack), prices=prices,
                    at_rest=model.at_rest(stack, arch, prices), routes=routes, assumed=assumed)


# ------------------------------------------------------------------------ output


def _usd(value: float) -> str:
    return f"{value:,.2f}" if value >= 0.01 or value == 0 else f"{value:,.4f}"


def _quantity(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 or value == int(value) else f"{value:,.4g}"


def text(est: Estimate, requests: int | None = None, route: str | None = None) -> str:
    """One cloud's table: each line with its quantity and figure; * marks a figure resting on an assumption."""
    prices = est.prices
    out = [f"Cost on {est.cloud} at {prices.region} list prices ({prices.path.parent.name}/{prices.path.name}), USD"]
    if est.stack_region and est.stack_region != prices.region:
        out.append(f"note: this stack deploys to {est.stack_region}; its prices there may differ from {prices.region}'s")
    width = max([len(l.what) for l in est.lines()] + [30])

    def row(line: Line, scale: float) -> str:
        mark = " *" if line.price.assumption or line.assumed else ""
        return f"  {line.what:<{width}}  {_quantity(line.quantity * scale):>14} {line.unit:<12} {_usd(line.usd * scale):>10}{mark}"

    out.append(f"\nAt rest, a month{'':<{width - 14}}  {'quantity':>14} {'':<12} {'USD':>10}")
    out += [row(line, 1) for line in est.at_rest]
    out.append(f"  {'total at rest':<{width}}  {'':>14} {'':<12} {_usd(est.at_rest_usd):>10}")
    for name, lines in est.routes.items():
        out.append(f"\nPer million requests on {name}{'':<{max(0, width - 22 - len(name))}}  {'quantity':>14} {'':<12} {'USD':>10}")
        out += [row(line, MILLION) for line in lines]
        out.append(f"  {'total per million':<{width}}  {'':>14} {'':<12} {_usd(est.per_million(name)):>10}")
    if requests is not None:
        chosen = route or est.busiest()
        out.append(f"\nWith {requests:,} requests a month on {chosen}: {_usd(est.monthly(requests, chosen))} USD a month "
                   "(before free tiers)")
    out.append("\n* rests on an assumption:")
    out += [f"  {note}" for note in est.assumptions_used()]
    out.append("Free tiers (not deducted above):")
    out += [f"  {tier}" for tier in prices.free_tiers]
    out.append(f"Sources: every price's source URL and date read are in {prices.path.parent.name}/{prices.path.name}.")
    return "\n".join(out) + "\n"


def by_category(lines: Iterable[Line], scale: float = 1) -> dict[str, float]:
    totals: dict[str, float] = {}
    for line in lines:
        totals[line.category] = totals.get(line.category, 0.0) + line.usd * scale
    return totals


def side_by_side(estimates: dict[str, Estimate], requests: int | None = None, route: str | None = None) -> str:
    """The same stack on each cloud: at rest by category, and per million requests by category."""
    clouds = list(estimates)
    routes = list(next(iter(estimates.values())).routes) if estimates else []
    chosen = route or max(routes, key=lambda r: sum(e.per_million(r) for e in estimates.values() if r in e.routes),
                          default=None)
    others = [f"total per million on {r}" for r in routes if r != chosen]
    width = max([34, *(len(o) for o in others)])

    def row(label: str, values: Iterable[str]) -> str:
        return f"  {label:<{width}}" + "".join(f"{v:>12}" for v in values)

    head = row("", clouds)
    out = ["Cost of the same stack on " + ", ".join(f"{c} ({e.prices.region})" for c, e in estimates.items())
           + ", USD at list prices", "", "At rest, a month", head]
    rest = {c: by_category(e.at_rest) for c, e in estimates.items()}
    out += [row(k, (_usd(rest[c].get(k, 0.0)) for c in clouds)) for k in CATEGORIES if any(k in rest[c] for c in clouds)]
    out.append(row("total", (_usd(estimates[c].at_rest_usd) for c in clouds)))
    if chosen:
        out += ["", f"Per million requests on {chosen}", head]
        per = {c: by_category(e.routes.get(chosen, []), MILLION) for c, e in estimates.items()}
        out += [row(k, (_usd(per[c].get(k, 0.0)) for c in clouds)) for k in CATEGORIES if any(k in per[c] for c in clouds)]
        out.append(row("total", (_usd(estimates[c].per_million(chosen)) for c in clouds)))
        for other, label in zip((r for r in routes if r != chosen), others):
            out.append(row(label, (_usd(estimates[c].per_million(other)) if other in estimates[c].routes else "-"
                                   for c in clouds)))
        if requests is not None:
            out += ["", f"With {requests:,} requests a month on {chosen} (before free tiers)",
                    row("a month", (_usd(estimates[c].monthly(requests, chosen)) for c in clouds))]
    out += ["", "Figures resting on assumptions (each cloud's table: anycloud check --cost --cloud <cloud>):"]
    out += [f"  {c}: {len(e.assumptions_used())} assumptions; free tiers not deducted; sources in pricing/{c}.yaml"
            for c, e in estimates.items()]
    return "\n".join(out) + "\n"


def as_json(estimates: dict[str, Estimate], requests: int | None = None, route: str | None = None) -> dict[str, Any]:
    def line(l: Line, scale: float) -> dict[str, Any]:
        return {"category": l.category, "what": l.what, "quantity": l.quantity * scale, "unit": l.unit,
                "usd": round(l.usd * scale, 6), "price": l.price.key, "price_usd": l.price.usd, "price_per": l.price.per,
                "source": l.price.source, "read": l.price.read, "assumption": l.price.assumption or None,
                "assumed": list(l.assumed)}

    return {cloud: {
        "region": e.prices.region, "stack_region": e.stack_region, "currency": "USD",
        "at_rest": {"lines": [line(l, 1) for l in e.at_rest], "usd": round(e.at_rest_usd, 6)},
        "per_million_requests": {r: {"lines": [line(l, MILLION) for l in ls], "usd": round(e.per_million(r), 6)}
                                 for r, ls in e.routes.items()},
        **({"monthly": {"requests": requests, "route": route or e.busiest(), "usd": round(e.monthly(requests, route), 6)}}
           if requests is not None else {}),
        "assumptions": e.assumptions_used(), "free_tiers": e.prices.free_tiers,
    } for cloud, e in estimates.items()}
