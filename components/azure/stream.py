"""A table's change stream on Azure: the Cosmos DB change feed trigger on the consumer's app.

The trigger. The consumer's Function App registers one Cosmos DB trigger (the Azure adapter's
``changes``, functions/runtime/azure/changes.py) on the table's container; these app settings
configure it: its identity-based connection (`<connection>__accountEndpoint`, `__credential`
managedidentity, `__clientId` the app's user-assigned identity; the lease connection defaults to
it), the database, container and lease container (binding expressions), the batch size (the
trigger's ``maxItemsPerInvocation``), ``max_receives`` and the stream's dead-letter queue. It
reads the change feed in latest-version mode, the only mode the trigger reads, which holds no
deletes (https://learn.microsoft.com/azure/cosmos-db/nosql/change-feed-modes): a stream asking
for ``deletes`` is refused before anything is registered (`check`).

The lease container. The trigger keeps its checkpoints in a container of the same database,
``<table>_leases`` (an underscore, which no table name has), partitioned by ``/id`` as the
trigger requires, with no expiry. The renderer makes it: with Entra ID, creating a container is a
management operation the trigger's identity cannot do (``createLeaseContainerIfNotExists`` would
keep the trigger from starting; the trigger's configuration reference). It lives on the service's
Cosmos DB account, so the service key encrypts it, and under the database's CanNotDelete lock in
prod: losing it restarts the stream from the beginning (at least once, but everything again).

Identity. The consumer holds Cosmos DB Built-in Data Reader on the monitored container (the
change feed, items and the container's metadata; none if it declared read or write on the table,
which covers it), Built-in Data Contributor on its lease container (leases are read, created,
replaced and deleted), both scoped to the one container, and Storage Queue Data Message Sender on
its dead-letter queue. The Functions docs name Data Contributor for the trigger
(https://learn.microsoft.com/azure/azure-functions/functions-bindings-cosmosdb-v2#grant-permission-to-the-identity)
because one container serves both there; here the writes are needed on the leases only. The app
waits for these grants, so its trigger starts with them.

Dead letters. The trigger checkpoints whatever the invocation's outcome, so the adapter retries
without limit and, after ``max_receives`` deliveries of a change, writes it to
``<table>-changes-poison``, a Storage queue on the service's data account (customer-managed key,
as every queue there), never expiring, and alerted on (observability.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from .. import wiring
from ..spec import Access, SpecError, TableSpec
from .arm import Arm
from .context import AzureContext
from .identity import QUEUE_SENDER, Identity, assign
from .storage import Account
from .table import DATABASE, Tables, table_grant

#: The app settings the Azure adapter reads (functions/runtime/azure/changes.py names them too).
CONNECTION = "ANYCLOUD_CHANGES_ACCOUNT"
DATABASE_SETTING, CONTAINER_SETTING, LEASES_SETTING = ("ANYCLOUD_CHANGES_DATABASE", "ANYCLOUD_CHANGES_CONTAINER",
                                                       "ANYCLOUD_CHANGES_LEASES")
TABLE_SETTING, BATCH_SETTING, RECEIVES_SETTING = ("ANYCLOUD_CHANGES_TABLE", "ANYCLOUD_CHANGES_BATCH_SIZE",
                                                  "ANYCLOUD_CHANGES_MAX_RECEIVES")
#: The stream's dead-letter queue (policy/streams.py checks what this setting claims).
DEAD_LETTERS_SETTING = "ANYCLOUD_CHANGES_DEAD_LETTERS"
POISON_SUFFIX = "-poison"


def check(spec: TableSpec) -> None:
    """Refuse what the Cosmos DB trigger cannot deliver, before any resource is registered."""
    if spec.stream is not None and spec.stream.deletes:
        raise SpecError(f"tables.{spec.name}.stream.deletes: True is not allowed on Azure; allowed: False (the Cosmos "
                        "DB trigger reads the latest-version change feed, which has no deletes)")


def leases_name(table: str) -> str:
    return f"{table}_leases"


@dataclass
class StreamStores:
    """What exists before the consumer does (its settings name them)."""

    leases: str
    dead_letters: Arm
    account: Account

    @property
    def dead_letters_url(self) -> pulumi.Output[str]:
        return pulumi.Output.all(self.account.queue_endpoint, self.dead_letters.name).apply(
            lambda v: f"{v[0].rstrip('/')}/{v[1]}")


def create_stores(ctx: AzureContext, tables: Tables, spec: TableSpec, data: Account,
                  parent: pulumi.Resource) -> StreamStores:
    """The lease container (registered with the tables' containers, so grants on it are made like
    a table's) and the dead-letter queue."""
    leases = leases_name(spec.name)
    tables.containers[leases] = Arm("azure-native:cosmosdb:SqlResourceSqlContainer", f"{spec.name}-leases", {
        "accountName": tables.account.name,
        "databaseName": DATABASE,
        "containerName": leases,
        "resourceGroupName": ctx.group_name,
        "resource": {"id": leases, "partitionKey": {"paths": ["/id"], "kind": "Hash", "version": 2}},
        "tags": ctx.tags,
    }, ctx.opts(parent, protect=True, depends_on=[tables.database]))
    dead_letters = Arm("azure-native:storage:Queue", f"{spec.name}-changes-poison", {
        "queueName": f"{ctx.physical(f'{spec.name}-changes', 63 - len(POISON_SUFFIX))}{POISON_SUFFIX}",
        "accountName": data.name, "resourceGroupName": ctx.group_name,
        "metadata": {"anycloud_service": ctx.spec.name, "anycloud_stream": spec.name},
    }, ctx.opts(parent, protect=True))
    return StreamStores(leases=leases, dead_letters=dead_letters, account=data)


def consumer_settings(tables: Tables, spec: TableSpec, stores: StreamStores, identity: Identity) -> dict:
    """The trigger's connection and names, and what the adapter reads."""
    stream = spec.stream
    return {
        f"{CONNECTION}__accountEndpoint": tables.account.documentEndpoint,
        f"{CONNECTION}__credential": "managedidentity",
        f"{CONNECTION}__clientId": identity.client_id,
        DATABASE_SETTING: DATABASE,
        CONTAINER_SETTING: spec.name,
        LEASES_SETTING: stores.leases,
        TABLE_SETTING: spec.name,
        wiring.table_keys_var(spec.name): wiring.table_keys(spec),
        BATCH_SETTING: str(stream.batch_size),
        RECEIVES_SETTING: str(stream.max_receives),
        DEAD_LETTERS_SETTING: stores.dead_letters_url,
    }


def grants(ctx: AzureContext, tables: Tables, spec: TableSpec, stores: StreamStores, consumer: str,
           identity: Identity, uses: tuple[Access, ...], parent: pulumi.Resource) -> list[pulumi.Resource]:
    """Read on the table's container (unless a declared grant covers it), write on the leases,
    send on the dead-letter queue."""
    name = f"{spec.name}-changes-{consumer}"
    made = [table_grant(ctx, f"{name}-leases", identity, tables, stores.leases, "write", parent),
            assign(ctx, f"{name}-dead-letters", identity, QUEUE_SENDER,
                   stores.account.queue_scope(stores.dead_letters.name), parent)]
    if not any(a.kind == "table" and a.resource == spec.name for a in uses):
        made.append(table_grant(ctx, f"{name}-reads", identity, tables, spec.name, "read", parent))
    return made


def consumed(ctx: AzureContext, function: str) -> TableSpec | None:
    """The table whose stream `function` consumes (at most one: components/spec.py)."""
    return next((t for t in ctx.spec.tables if t.stream is not None and t.stream.consumer == function), None)

