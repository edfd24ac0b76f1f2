"""Cloud Functions gen2: one function per declared function, its own service account.

The service's source (the runtime under functions/) is uploaded once to a CMEK bucket with
uniform access and public access prevention enforced; its object name carries the archive's
content hash, so a code change redeploys and nothing else does. Images are built by a
dedicated build account into a CMEK Artifact Registry repository, and the function itself is
CMEK-encrypted. Every function runs the one GCP entrypoint (`ENTRYPOINT`, the GCP adapter in
functions/runtime/gcp/) and learns from `ANYCLOUD_HANDLER` and `ANYCLOUD_TRIGGERS` what to run.

Ingress: a route function must accept API Gateway, which is not internal traffic, so it
allows all ingress and relies on IAM (only the gateway's account may invoke it); queue
consumers and workflow tasks take internal traffic only (Pub/Sub push and Workflows in the
same project are internal to Cloud Run) and IAM on top.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from ..packaging import archive_digest, cloud_archive
from ..spec import FunctionSpec
from .context import GcpContext
from .identity import Identity, service_account

RUNTIME = "python313"
#: The functions-framework target every function runs (defined by the GCP adapter's main.py).
ENTRYPOINT = "handle"


@dataclass
class Source:
    bucket: gcp.storage.Bucket
    archive: gcp.storage.BucketObject
    repository: gcp.artifactregistry.Repository
    builder: Identity


@dataclass
class FunctionHandle:
    spec: FunctionSpec
    function: gcp.cloudfunctionsv2.Function
    identity: Identity

    @property
    def url(self) -> pulumi.Output[str]:
        """The Cloud Run URL callers use and OIDC tokens name as their audience."""
        return self.function.service_config.uri


def create_source(ctx: GcpContext, parent: pulumi.Resource) -> Source:
    """The bucket, the uploaded archive, the image repository and the account that builds."""
    builder = service_account(ctx, "build", "builds the functions' images", parent)
    bucket = gcp.storage.Bucket(
        "source",
        location=ctx.region,
        uniform_bucket_level_access=True,
        public_access_prevention="enforced",
        encryption=gcp.storage.BucketEncryptionArgs(default_kms_key_name=ctx.key_name) if ctx.key else None,
        versioning=gcp.storage.BucketVersioningArgs(enabled=False),
        force_destroy=not ctx.settings.prod,
        opts=ctx.opts(parent, cmek=True),
    )
    archive = gcp.storage.BucketObject(
        "source-archive",
        bucket=bucket.name,
        name=f"functions-{archive_digest(cloud_archive('gcp'))[:16]}.zip",
        source=cloud_archive("gcp"),
        opts=ctx.opts(bucket),
    )
    repository = gcp.artifactregistry.Repository(
        "images",
        location=ctx.region,
        repository_id=ctx.physical("images"),
        format="DOCKER",
        kms_key_name=ctx.key_name,
        description=f"anycloud {ctx.prefix}: function images",
        opts=ctx.opts(parent, cmek=True),
    )
    gcp.storage.BucketIAMMember("build-reads-source", bucket=bucket.name, role="roles/storage.objectViewer",
                                member=builder.member, opts=ctx.opts(bucket))
    gcp.artifactregistry.RepositoryIamMember("build-writes-images", repository=repository.name, location=ctx.region,
                                             role="roles/artifactregistry.writer", member=builder.member,
                                             opts=ctx.opts(repository))
    gcp.projects.IAMMember("build-writes-logs", project=ctx.project, role="roles/logging.logWriter",
                           member=builder.member, opts=ctx.opts(parent))
    return Source(bucket=bucket, archive=archive, repository=repository, builder=builder)


def create_function(ctx: GcpContext, spec: FunctionSpec, source: Source, environment: dict[str, pulumi.Input[str]],
                    internal_only: bool, parent: pulumi.Resource) -> FunctionHandle:
    identity = service_account(ctx, spec.name, f"function {spec.name}", parent)
    function = gcp.cloudfunctionsv2.Function(
        spec.name,
        name=ctx.physical(spec.name),
        location=ctx.region,
        description=f"anycloud {ctx.prefix}: {spec.handler}",
        kms_key_name=ctx.key_name,
        build_config=gcp.cloudfunctionsv2.FunctionBuildConfigArgs(
            runtime=RUNTIME,
            entry_point=ENTRYPOINT,
            source=gcp.cloudfunctionsv2.FunctionBuildConfigSourceArgs(
                storage_source=gcp.cloudfunctionsv2.FunctionBuildConfigSourceStorageSourceArgs(
                    bucket=source.bucket.name, object=source.archive.name, generation=source.archive.generation,
                ),
            ),
            docker_repository=source.repository.id,
            service_account=source.builder.account.id,
        ),
        service_config=gcp.cloudfunctionsv2.FunctionServiceConfigArgs(
            service_account_email=identity.email,
            available_memory=f"{spec.memory_mb}M",
            timeout_seconds=spec.timeout_s,
            min_instance_count=spec.warm_instances,
            max_instance_count=spec.reserved_concurrency or 100,
            ingress_settings="ALLOW_INTERNAL_ONLY" if internal_only else "ALLOW_ALL",
            all_traffic_on_latest_revision=True,
            # GCF adds LOG_EXECUTION_ID itself; declaring it avoids a perpetual diff.
            environment_variables={**environment, "LOG_EXECUTION_ID": "true"},
        ),
        opts=ctx.opts(parent, cmek=True),
    )
    return FunctionHandle(spec=spec, function=function, identity=identity)
