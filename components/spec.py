"""The cloud-neutral service model.

A service is declared once with these immutable pydantic models and rendered onto any cloud.
Validation happens on construction, so a bad declaration fails before Pulumi registers
anything; every error names the field path, the bad value and what is allowed. Limits are
the intersection of what AWS, GCP and Azure accept, so a service that validates here renders
on every cloud. Nothing in this module knows a cloud.
"""

from __future__ import annotations

import re
from collections import Counter
from types import MappingProxyType
from typing import Annotated, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, StringConstraints, field_validator, model_validator

# Lowercase letters, digits and single hyphens; starts with a letter, ends with a letter or
# digit. 3-30 characters fits every cloud once prefixed (GCP service accounts allow 30, Azure
# Function App names 60 including the service prefix).
NAME_PATTERN = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN, min_length=3, max_length=30)]
# Step names are local to a workflow and never become cloud resource names.
StepName = Annotated[str, StringConstraints(pattern=NAME_PATTERN, min_length=1, max_length=64)]
# Firestore database ids need at least 4 characters.
TableName = Annotated[str, StringConstraints(pattern=NAME_PATTERN, min_length=4, max_length=30)]
# The service name prefixes every physical name, so it is shorter.
ServiceName = Annotated[str, StringConstraints(pattern=NAME_PATTERN, min_length=3, max_length=16)]
Attribute = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
# Dotted path into the workflow state, e.g. "order.total".
StatePath = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")]
# Error names a task may raise (TaskError("PaymentDeclined", ...)), or "all".
ErrorName = Annotated[str, StringConstraints(pattern=r"^(all|[A-Z][A-Za-z0-9]{0,63})$")]
# What a Fail step raises: a real name, never "all".
RaisedError = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Za-z0-9]{0,63}$")]
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{0,63}$")]
# Prefixes the platforms own; a user variable there could shadow the wiring.
RESERVED_ENV_PREFIXES = ("ANYCLOUD_", "AWS_", "GOOGLE_", "FUNCTION_", "AZURE_", "WEBSITE_", "POWERTOOLS_", "LAMBDA_", "_")

HANDLER_PATTERN = r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*:[a-z_][a-z0-9_]*$"
ROUTE_PATH_PATTERN = r"^/([a-z0-9-]+|\{[a-z_][a-z0-9_]*\})(/([a-z0-9-]+|\{[a-z_][a-z0-9_]*\}))*$"
ISSUER_PATTERN = r"^https://[^\s*]+$"

#: Verbs each resource kind accepts in a function's `uses`.
VERBS: dict[str, tuple[str, ...]] = {
    "table": ("read", "write"),
    "queue": ("send",),
    "workflow": ("start",),
    "secret": ("read",),
}


def frozen_map(key: object, value: object) -> object:
    """A dict field that cannot be changed after validation (models are frozen all the way down)."""
    return Annotated[
        dict[key, value],  # type: ignore[valid-type]
        AfterValidator(MappingProxyType),
        PlainSerializer(dict, return_type=dict[key, value]),  # type: ignore[valid-type]
    ]


class Model(BaseModel):
    """Immutable, strict base: unknown fields are errors, not silently ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class SpecError(ValueError):
    """A declaration that cannot be rendered; the message names the field and the value."""


# --------------------------------------------------------------------------------- access


class Access(Model):
    """One verb a function may perform on one declared resource."""

    kind: Literal["table", "queue", "workflow", "secret"]
    resource: Name
    verb: str

    @model_validator(mode="after")
    def _verb_fits_kind(self) -> Access:
        allowed = VERBS[self.kind]
        if self.verb not in allowed:
            raise ValueError(f"verb {self.verb!r} is not allowed on a {self.kind}; allowed: {', '.join(allowed)}")
        return self

    @classmethod
    def parse(cls, text: str) -> Access:
        """The plain form: ``"table:orders:read"``."""
        parts = text.split(":")
        if len(parts) != 3:
            raise ValueError(f"access {text!r} must look like 'kind:name:verb', e.g. 'table:orders:read'")
        kind, resource, verb = parts
        return cls(kind=kind, resource=resource, verb=verb)

    def __str__(self) -> str:
        return f"{self.kind}:{self.resource}:{self.verb}"


def _coerce_access(value: object) -> object:
    return Access.parse(value) if isinstance(value, str) else value


# ------------------------------------------------------------------------------ functions


class FunctionSpec(Model):
    """A function: code in functions/ plus the resources it may touch."""

    name: Name
    handler: Annotated[str, StringConstraints(pattern=HANDLER_PATTERN)] = Field(
        description="module:function inside functions/, e.g. orders.api:create_order"
    )
    memory_mb: int = Field(256, ge=128, le=4096)
    # 540 s is the longest event-driven Cloud Function; HTTP routes are further capped below.
    timeout_s: int = Field(10, ge=1, le=540)
    uses: tuple[Access, ...] = ()
    environment: frozen_map(EnvName, str) = Field(default_factory=dict)
    reserved_concurrency: int | None = Field(None, ge=1, le=1000)
    warm_instances: int = Field(0, ge=0, le=100)

    @field_validator("uses", mode="before")
    @classmethod
    def _plain_uses(cls, value: object) -> object:
        return tuple(_coerce_access(v) for v in value) if isinstance(value, (list, tuple)) else value

    @field_validator("environment")
    @classmethod
    def _no_reserved_env(cls, value: dict[str, str]) -> dict[str, str]:
        reserved = [k for k in value if k.startswith(RESERVED_ENV_PREFIXES)]
        if reserved:
            raise ValueError(f"{', '.join(reserved)} use a reserved prefix; not allowed: {', '.join(RESERVED_ENV_PREFIXES)}")
        return value

    @model_validator(mode="after")
    def _no_duplicate_uses(self) -> FunctionSpec:
        dupes = [str(a) for a, n in Counter(self.uses).items() if n > 1]
        if dupes:
            raise ValueError(f"uses: {', '.join(dupes)} declared twice")
        return self


# ------------------------------------------------------------------------------------ api

HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
# API gateways cap integration time: 30 s on AWS HTTP APIs.
ROUTE_TIMEOUT_LIMIT_S = 30


class RouteSpec(Model):
    """One HTTP route; authenticated unless declared public."""

    method: HttpMethod
    path: Annotated[str, StringConstraints(pattern=ROUTE_PATH_PATTERN)]
    function: Name
    public: bool = False

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


class JwtAuth(Model):
    """JWT bearer authentication: tokens must come from `issuer` for `audience`."""

    issuer: Annotated[str, StringConstraints(pattern=ISSUER_PATTERN)]
    audience: tuple[Annotated[str, StringConstraints(min_length=1)], ...] = Field(min_length=1)


class Throttle(Model):
    """Steady-state requests per second and burst for the whole API."""

    rate_limit: int = Field(100, ge=1, le=10000)
    burst_limit: int = Field(200, ge=1, le=5000)


class ApiSpec(Model):
    routes: tuple[RouteSpec, ...] = Field(min_length=1)
    cors_origins: tuple[Annotated[str, StringConstraints(pattern=r"^(\*|https?://[^\s/*]+)$")], ...] = ()
    auth: JwtAuth | None = None
    throttle: Throttle = Throttle()

    @model_validator(mode="after")
    def _unique_routes(self) -> ApiSpec:
        dupes = [k for k, n in Counter(r.key for r in self.routes).items() if n > 1]
        if dupes:
            raise ValueError(f"routes: {', '.join(dupes)} declared twice")
        return self


# ------------------------------------------------------------------------- queues, tables


class QueueSpec(Model):
    """A work queue with a dead-letter queue: after `max_receives` deliveries a message is
    dead-lettered, never dropped."""

    name: Name
    consumer: Name
    batch_size: int = Field(10, ge=1, le=10)
    # Pub/Sub dead-letter policies accept 5-100 delivery attempts.
    max_receives: int = Field(5, ge=5, le=100)
    # SQS keeps messages at most 14 days.
    retention_days: int = Field(4, ge=1, le=14)

    def send(self) -> Access:
        return Access(kind="queue", resource=self.name, verb="send")


class Key(Model):
    name: Attribute
    type: Literal["string", "number"] = "string"


class IndexSpec(Model):
    name: Name
    partition_key: Key
    sort_key: Key | None = None


class StreamSpec(Model):
    """A consumer of a table's changes: the outbox a handler writes to instead of writing and
    then sending. Every item written (inserted or updated), and with `deletes` every item
    deleted, reaches `consumer` at least once, in order per item, as a `Message` whose body is
    ``{"table", "key", "item"}``: the item as it is after the change (None once deleted). The
    state, not the delta: Cosmos DB's change feed (latest-version mode, the one its Functions
    trigger reads) gives the latest state and may fold successive writes of one item into one
    delivery, so a consumer acts on what the item is, and is idempotent per delivery. After
    `max_receives` failed deliveries a change is dead-lettered, never dropped."""

    consumer: Name
    deletes: bool = False
    # DynamoDB Streams and the Cosmos DB trigger batch; a Firestore trigger delivers one change.
    batch_size: int = Field(10, ge=1, le=100)
    max_receives: int = Field(5, ge=2, le=100)


class TableSpec(Model):
    name: TableName
    partition_key: Key
    sort_key: Key | None = None
    indexes: tuple[IndexSpec, ...] = ()
    ttl_attribute: Attribute | None = None
    stream: StreamSpec | None = None

    @model_validator(mode="after")
    def _consistent_keys(self) -> TableSpec:
        dupes = [n for n, c in Counter(i.name for i in self.indexes).items() if c > 1]
        if dupes:
            raise ValueError(f"indexes: {', '.join(dupes)} declared twice")
        types: dict[str, str] = {}
        for key in self.key_attributes_all():
            if types.setdefault(key.name, key.type) != key.type:
                raise ValueError(f"key attribute {key.name!r} is declared both {types[key.name]} and {key.type}")
        if self.ttl_attribute and self.ttl_attribute in types:
            raise ValueError(f"ttl_attribute {self.ttl_attribute!r} is a key attribute; TTL needs its own attribute")
        return self

    def key_attributes_all(self) -> list[Key]:
        keys = [self.partition_key, self.sort_key]
        for index in self.indexes:
            keys += [index.partition_key, index.sort_key]
        return [k for k in keys if k is not None]

    def key_attributes(self) -> list[Key]:
        """Every key attribute of the table and its indexes, once each."""
        return list({k.name: k for k in self.key_attributes_all()}.values())

    def read(self) -> Access:
        return Access(kind="table", resource=self.name, verb="read")

    def write(self) -> Access:
        return Access(kind="table", resource=self.name, verb="write")


class SecretSpec(Model):
    """A secret whose value is a Pulumi secret config value (`pulumi config set --secret`)."""

    name: Name
    config_key: Annotated[str, StringConstraints(pattern=r"^[a-z][A-Za-z0-9]{0,63}$")] = Field(
        description="key in the anycloud config namespace, e.g. paymentApiKey"
    )

    def read(self) -> Access:
        return Access(kind="secret", resource=self.name, verb="read")


# ------------------------------------------------------------------------------ workflows


class Retry(Model):
    """Retry the listed errors; `attempts` counts retries after the first try."""

    errors: tuple[ErrorName, ...] = ("all",)
    attempts: int = Field(3, ge=1, le=10)
    interval_s: int = Field(1, ge=1, le=3600)
    backoff_rate: float = Field(2.0, ge=1.0, le=10.0)
    max_delay_s: int | None = Field(None, ge=1, le=3600)


class Catch(Model):
    errors: tuple[ErrorName, ...] = ("all",)
    next: StepName


class Task(Model):
    """Call a function with the whole state; store its result at `result` (dropped if None)."""

    type: Literal["task"] = "task"
    function: Name
    result: StatePath | None = None
    retry: tuple[Retry, ...] = ()
    catch: tuple[Catch, ...] = ()
    timeout_s: int | None = Field(None, ge=1, le=540)
    next: StepName | None = None


Op = Literal["==", "!=", "<", "<=", ">", ">=", "exists"]


class Rule(Model):
    path: StatePath
    op: Op
    value: str | int | float | bool | None = None
    next: StepName

    @model_validator(mode="after")
    def _value_fits_op(self) -> Rule:
        if self.op == "exists":
            if self.value not in (None, True, False):
                raise ValueError(f"op 'exists' takes value true, false or nothing, not {self.value!r}")
        elif self.op in ("<", "<=", ">", ">=") and (isinstance(self.value, bool) or not isinstance(self.value, (int, float, str))):
            raise ValueError(f"op {self.op!r} compares numbers or strings, not {self.value!r}")
        elif self.value is None:
            raise ValueError(f"op {self.op!r} needs a value")
        return self


class Choice(Model):
    type: Literal["choice"] = "choice"
    rules: tuple[Rule, ...] = Field(min_length=1)
    default: StepName | None = None


class Wait(Model):
    type: Literal["wait"] = "wait"
    seconds: int = Field(ge=1, le=86400)
    next: StepName | None = None


class Succeed(Model):
    type: Literal["succeed"] = "succeed"


class Fail(Model):
    type: Literal["fail"] = "fail"
    error: RaisedError
    cause: str = ""


class Branch(Model):
    """A sub-graph of steps: a parallel branch or a map iterator."""

    start: StepName
    steps: frozen_map(StepName, "Step")

    @model_validator(mode="after")
    def _valid_graph(self) -> Branch:
        check_graph(self.start, self.steps)
        return self


class Parallel(Model):
    """Run branches at once, each on a copy of the state; `result` gets the list of their final states."""

    type: Literal["parallel"] = "parallel"
    branches: tuple[Branch, ...] = Field(min_length=1)
    result: StatePath | None = None
    retry: tuple[Retry, ...] = ()
    catch: tuple[Catch, ...] = ()
    next: StepName | None = None


class Map(Model):
    """Run `iterator` once per element of the list at `items`; each run's state is
    ``{"item": element, "index": i}`` and `result` gets the list of their final states."""

    type: Literal["map"] = "map"
    items: StatePath
    iterator: Branch
    max_concurrency: int = Field(0, ge=0, le=100)
    result: StatePath | None = None
    retry: tuple[Retry, ...] = ()
    catch: tuple[Catch, ...] = ()
    next: StepName | None = None


Step = Annotated[Union[Task, Choice, Parallel, Map, Wait, Succeed, Fail], Field(discriminator="type")]
Branch.model_rebuild()


def successors(step: Step) -> list[str]:
    """The steps control can move to from `step` (within its own graph)."""
    targets: list[str | None] = []
    if isinstance(step, (Task, Parallel, Map)):
        targets += [step.next] + [c.next for c in step.catch]
    elif isinstance(step, Wait):
        targets.append(step.next)
    elif isinstance(step, Choice):
        targets += [r.next for r in step.rules] + [step.default]
    return [t for t in targets if t is not None]


def ends_here(step: Step) -> bool:
    """True when the graph can finish at this step (successfully or not)."""
    if isinstance(step, (Succeed, Fail)):
        return True
    if isinstance(step, Choice):
        return False
    return step.next is None


def check_graph(start: str, steps: dict[str, Step]) -> None:
    """Unknown targets, unreachable steps and steps that can never finish are errors."""
    if start not in steps:
        raise ValueError(f"start {start!r} is not a step; steps: {', '.join(steps) or 'none'}")
    for name, step in steps.items():
        for target in successors(step):
            if target not in steps:
                raise ValueError(f"steps.{name}: next {target!r} is not a step; steps: {', '.join(steps)}")
    reached, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name not in reached:
            reached.add(name)
            todo += successors(steps[name])
    unreachable = [n for n in steps if n not in reached]
    if unreachable:
        raise ValueError(f"steps {', '.join(unreachable)} are unreachable from start {start!r}")
    finishing = {n for n, s in steps.items() if ends_here(s)}
    grew = True
    while grew:
        before = len(finishing)
        finishing |= {n for n, s in steps.items() if any(t in finishing for t in successors(s))}
        grew = len(finishing) != before
    stuck = [n for n in steps if n not in finishing]
    if stuck:
        raise ValueError(f"steps {', '.join(stuck)} never reach an end (succeed, fail or a step without next)")


class WorkflowSpec(Model):
    name: Name
    start: StepName
    steps: frozen_map(StepName, Step) = Field(min_length=1)

    @model_validator(mode="after")
    def _valid_graph(self) -> WorkflowSpec:
        check_graph(self.start, self.steps)
        names = [name for name, _ in self.all_steps()]
        dupes = [n for n, c in Counter(names).items() if c > 1]
        if dupes:
            raise ValueError(f"step names {', '.join(dupes)} are used twice; names must be unique across branches too")
        return self

    def all_steps(self) -> list[tuple[str, Step]]:
        """Every step, including those inside parallel branches and map iterators."""
        found: list[tuple[str, Step]] = []

        def walk(steps: dict[str, Step]) -> None:
            for name, step in steps.items():
                found.append((name, step))
                for branch in step.branches if isinstance(step, Parallel) else (step.iterator,) if isinstance(step, Map) else ():
                    walk(branch.steps)

        walk(self.steps)
        return found

    def start_access(self) -> Access:
        return Access(kind="workflow", resource=self.name, verb="start")

    def task_functions(self) -> list[str]:
        """Every function the workflow calls, including inside branches, once each, in order."""
        return list(dict.fromkeys(s.function for _, s in self.all_steps() if isinstance(s, Task)))


# -------------------------------------------------------------------------------- service


class ServiceSpec(Model):
    """The whole service; cross-references are checked here."""

    name: ServiceName
    functions: tuple[FunctionSpec, ...] = Field(min_length=1)
    api: ApiSpec | None = None
    queues: tuple[QueueSpec, ...] = ()
    tables: tuple[TableSpec, ...] = ()
    workflows: tuple[WorkflowSpec, ...] = ()
    secrets: tuple[SecretSpec, ...] = ()

    @model_validator(mode="after")
    def _cross_references(self) -> ServiceSpec:
        kinds = {
            "function": [f.name for f in self.functions],
            "queue": [q.name for q in self.queues],
            "table": [t.name for t in self.tables],
            "workflow": [w.name for w in self.workflows],
            "secret": [s.name for s in self.secrets],
        }
        for kind, names in kinds.items():
            dupes = [n for n, c in Counter(names).items() if c > 1]
            if dupes:
                raise ValueError(f"{kind}s: {', '.join(dupes)} declared twice")
        config_keys = [s.config_key for s in self.secrets]
        dupes = [k for k, c in Counter(config_keys).items() if c > 1]
        if dupes:
            raise ValueError(f"secrets: config_key {', '.join(dupes)} used twice")

        functions = {f.name: f for f in self.functions}

        def known(kind: str, name: str, where: str) -> None:
            if name not in kinds[kind]:
                raise ValueError(f"{where}: unknown {kind} {name!r}; declared: {', '.join(kinds[kind]) or 'none'}")

        for f in self.functions:
            for access in f.uses:
                known(access.kind, access.resource, f"functions.{f.name}.uses")
        triggered: set[str] = set()
        for route in self.api.routes if self.api else ():
            known("function", route.function, f"api.routes[{route.key}].function")
            timeout = functions[route.function].timeout_s
            if timeout > ROUTE_TIMEOUT_LIMIT_S:
                raise ValueError(
                    f"functions.{route.function}.timeout_s: {timeout} is too long for an HTTP route; "
                    f"allowed: at most {ROUTE_TIMEOUT_LIMIT_S}"
                )
            triggered.add(route.function)
        for queue in self.queues:
            known("function", queue.consumer, f"queues.{queue.name}.consumer")
            triggered.add(queue.consumer)
        sources: dict[str, str] = {q.consumer: f"queue {q.name!r}" for q in self.queues}
        for table in self.tables:
            if table.stream is None:
                continue
            consumer = table.stream.consumer
            known("function", consumer, f"tables.{table.name}.stream.consumer")
            if consumer in sources:
                raise ValueError(f"tables.{table.name}.stream.consumer: {consumer!r} already consumes "
                                 f"{sources[consumer]}; allowed: one queue or table stream per consumer function")
            sources[consumer] = f"the changes of table {table.name!r}"
            triggered.add(consumer)
        for workflow in self.workflows:
            for fn in workflow.task_functions():
                known("function", fn, f"workflows.{workflow.name}.steps")
                triggered.add(fn)
        unused = [f.name for f in self.functions if f.name not in triggered]
        if unused:
            raise ValueError(
                f"functions {', '.join(unused)} are not used by any route, queue, table stream or workflow; "
                "remove them or wire them to a trigger"
            )
        return self

    def function(self, name: str) -> FunctionSpec:
        return next(f for f in self.functions if f.name == name)

    def table(self, name: str) -> TableSpec:
        return next(t for t in self.tables if t.name == name)

    def queue(self, name: str) -> QueueSpec:
        return next(q for q in self.queues if q.name == name)


PATTERN_HELP = {
    NAME_PATTERN: "must be lowercase letters and digits in words joined by single hyphens, starting with a letter",
    r"^[A-Z][A-Z0-9_]{0,63}$": "must be UPPER_SNAKE_CASE",
    HANDLER_PATTERN: "must be module:function inside functions/, e.g. orders.api:create_order",
    ROUTE_PATH_PATTERN: "must be a path like /orders/{order_id}: lowercase segments or {params}",
    ISSUER_PATTERN: "must be an https:// URL",
}


def describe_error(err: Exception) -> str:
    """One line per pydantic error: the field path, the message and the bad input."""
    from pydantic import ValidationError

    if not isinstance(err, ValidationError):
        return str(err)
    lines = []
    errors = err.errors()
    # A collection that is too short only because its one item failed says nothing new.
    failed = [e["loc"] for e in errors if e["type"] != "too_short"]
    errors = [e for e in errors if e["type"] != "too_short" or not any(f[: len(e["loc"])] == e["loc"] for f in failed)]
    for e in errors:
        loc = ".".join(str(p) for p in e["loc"] if not re.fullmatch(r"(task|choice|parallel|map|wait|succeed|fail|function-after)", str(p)))
        msg = e["msg"].removeprefix("Value error, ")
        for pattern, human in PATTERN_HELP.items():
            msg = msg.replace(f"String should match pattern '{pattern}'", human)
        bad = e.get("input")
        shown = "" if isinstance(bad, (dict, list, tuple, BaseModel)) else f" (got {bad!r})"
        lines.append(f"{err.title}.{loc}: {msg}{shown}" if loc else f"{err.title}: {msg}")
    return "; ".join(lines)
