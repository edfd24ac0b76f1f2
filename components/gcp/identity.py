"""One service account per identity, and the grants it holds, each on exactly one resource.

Functions, the API gateway, each push subscription, each workflow and each workflow's start
trigger get their own account. A grant is an IAM member on the resource itself (topic,
secret, Cloud Run service); Firestore databases have no IAM policy of their own, so a table
grant is a project-level member whose condition names the one database.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from .context import GcpContext

TABLE_ROLES = {"read": "roles/datastore.viewer", "write": "roles/datastore.user"}
PUBLISHER = "roles/pubsub.publisher"
SUBSCRIBER = "roles/pubsub.subscriber"
SECRET_ACCESSOR = "roles/secretmanager.secretAccessor"
RUN_INVOKER = "roles/run.invoker"
TOKEN_CREATOR = "roles/iam.serviceAccountTokenCreator"
LOG_WRITER = "roles/logging.logWriter"
#: Project-wide only: Workflows has no resource-level IAM and no IAM-condition attribute.
WORKFLOWS_INVOKER = "roles/workflows.invoker"


@dataclass
class Identity:
    name: str
    account: gcp.serviceaccount.Account

    @property
    def member(self) -> pulumi.Output[str]:
        return self.account.member

    @property
    def email(self) -> pulumi.Output[str]:
        return self.account.email


def service_account(ctx: GcpContext, name: str, purpose: str, parent: pulumi.Resource) -> Identity:
    account = gcp.serviceaccount.Account(
        f"{name}-sa",
        account_id=ctx.account_id(name),
        display_name=f"anycloud {ctx.prefix}: {purpose}"[:100],
        description=f"anycloud {ctx.prefix}: {purpose}; holds only the grants the service declared",
        opts=ctx.opts(parent, api="iam"),
    )
    return Identity(name=name, account=account)


def invoker(ctx: GcpContext, name: str, function: gcp.cloudfunctionsv2.Function, who: Identity,
            parent: pulumi.Resource) -> gcp.cloudrun.IamMember:
    """`roles/run.invoker` on a gen2 function's Cloud Run service (FunctionIamMember refuses that
    role). The Cloud Run v1 IAM resource addresses the same service by name, and its module
    loads in a third of the time of cloudrunv2's (which the check would pay on every run)."""
    return gcp.cloudrun.IamMember(
        f"{name}-invoker", service=function.name, location=ctx.region, project=ctx.project,
        role=RUN_INVOKER, member=who.member, opts=ctx.opts(parent, api="run"),
    )


def database_condition(ctx: GcpContext, database: gcp.firestore.Database) -> gcp.projects.IAMMemberConditionArgs:
    """The IAM condition that scopes a project-level Datastore role to one Firestore database."""
    name = pulumi.Output.all(ctx.project, database.name).apply(lambda v: f"projects/{v[0]}/databases/{v[1]}")
    return gcp.projects.IAMMemberConditionArgs(
        title="one database",
        description="only this Firestore database",
        expression=name.apply(lambda n: f'resource.name == "{n}"'),
    )


def table_grant(ctx: GcpContext, name: str, who: Identity, database: gcp.firestore.Database, verb: str,
                parent: pulumi.Resource) -> gcp.projects.IAMMember:
    return gcp.projects.IAMMember(
        name, project=ctx.project, role=TABLE_ROLES[verb], member=who.member,
        condition=database_condition(ctx, database), opts=ctx.opts(parent, api="cloudresourcemanager"),
    )
