"""Cloud Functions gen2: one function per declared function, its own service account.

The service's source (the runtime under functions/) is uploaded once to a CMEK bucket with
uniform access and public access prevention enforced; its object name carries the archive's
content hash, so a code change redeploys and nothing else does. Images are built by a
dedicated build account into a CMEK Artifact Registry repository, and the function itself is
CMEK-encrypted.

Building. Cloud Functions copies the source into its own `gcf-v2-sources-<number>-<region>`
bucket (`...-<key hash>` with CMEK), which exists only after the first deploy, and the build
fetches it from there as the build account (terraform-provider-google#20571, magic-modules#11324).
So the build account holds `roles/storage.objectViewer` at project level, narrowed by an IAM
condition to those buckets: Cloud Storage evaluates `resource.name` as `projects/_/buckets/B`
for bucket-level checks (`storage.objects.list`) and `projects/_/buckets/B/objects/O` for
objects (https://cloud.google.com/iam/docs/conditions-resource-attributes#resource-name), so one
prefix covers both. It also reads our own source bucket, writes images and logs. Every function
waits for those grants and for `BUILD_GRANTS_SETTLE` after them, as the provider's
`cloudfunctions2_basic_builder` example does: IAM changes take effect within minutes, and a
build that starts before them fails (https://cloud.google.com/iam/docs/access-change-propagation).

Every function runs the one GCP entrypoint (`ENTRYPOINT`, the GCP adapter in
functions/runtime/gcp/) and learns from `ANYCLOUD_HANDLER` and `ANYCLOUD_TRIGGERS` what to run.

Ingress: a route function must accept API Gateway, which is not internal traffic, so it
allows all ingress and relies on IAM (only the gateway's account may invoke it); queue
consumers, workflow tasks and workflow starters take internal traffic only and IAM on top:
Pub/Sub push and Workflows in the same project, calling the default run.app URL, count as
internal (https://cloud.google.com/run/docs/securing/ingress, "Internal").
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

import pulumiverse_time as time

from ..packaging import archive_digest, cloud_archive
from ..spec import FunctionSpec
from .context import GcpContext
from .identity import Identity, service_account

RUNTIME = "python313"
#: The functions-framework target every function runs (defined by the GCP adapter's main.py).
ENTRYPOINT = "handle"
#: Where gen2 builds fetch the source from: Cloud Functions' own buckets, by name prefix.
SOURCE_BUCKETS = 'resource.name.startsWith("projects/_/buckets/gcf-v2-sources-")'
#: How long functions wait after the build account's grants (the provider's example waits 60 s).
BUILD_GRANTS_SETTLE = "60s"
#: The APIs a gen2 function is created through: Cloud Functions builds it with Cloud Build into
#: Artifact Registry and runs it on Cloud Run (https://cloud.google.com/functions/docs/create-deploy-gcloud).
FUNCTION_APIS = ("cloudfunctions", "cloudbuild", "artifactregistry", "run")


@dataclass
class Source:
    bucket: gcp.storage.Bucket
    archive: gcp.storage.BucketObject
    repository: gcp.artifactregistry.Repository
    builder: Identity
    #: What every function waits for: the build account's grants, and the settling time after them.
    ready: list[pulumi.Resource]


@dataclass(frozen=True)
class Shape:
    """What a deployed function is: a declared function, or one the platform adds (a workflow's starter)."""
    name: str
    purpose: str
    memory_mb: int = 256
    timeout_s: int = 60
    warm_instances: int = 0
    max_instances: int = 100

    @classmethod
    def of(cls, spec: FunctionSpec) -> Shape:
        return cls(name=spec.name, purpose=spec.handler, memory_mb=spec.memory_mb, timeout_s=spec.timeout_s,
                   warm_instances=spec.warm_instances, max_instances=spec.reserved_concurrency or 100)


@dataclass
class FunctionHandle:
    shape: Shape
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
        force_destroy=not ctx.settings.guarded,
        opts=ctx.opts(parent, api="storage", cmek=True),
    )
    archive = gcp.storage.BucketObject(
        "source-archive",
        bucket=bucket.name,
        name=f"functions-{archive_digest(cloud_archive('gcp'))[:16]}.zip",
        source=cloud_archive("gcp"),
        opts=ctx.opts(bucket, api="storage"),
    )
    repository = gcp.artifactregistry.Repository(
        "images",
        location=ctx.region,
        repository_id=ctx.physical("images"),
        format="DOCKER",
        kms_key_name=ctx.key_name,
        description=f"anycloud {ctx.prefix}: function images",
        opts=ctx.opts(parent, api="artifactregistry", cmek=True),
    )
    grants = [
        gcp.storage.BucketIAMMember("build-reads-source", bucket=bucket.name, role="roles/storage.objectViewer",
                                    member=builder.member, opts=ctx.opts(bucket, api="storage")),
        gcp.projects.IAMMember("build-reads-function-sources", project=ctx.project, role="roles/storage.objectViewer",
                               member=builder.member, condition=gcp.projects.IAMMemberConditionArgs(
                                   title="function sources", expression=SOURCE_BUCKETS,
                                   description="only Cloud Functions' gcf-v2-sources-* buckets"),
                               opts=ctx.opts(parent, api="cloudresourcemanager")),
        gcp.artifactregistry.RepositoryIamMember("build-writes-images", repository=repository.name, location=ctx.region,
                                                 role="roles/artifactregistry.writer", member=builder.member,
                                                 opts=ctx.opts(repository, api="artifactregistry")),
        gcp.projects.IAMMember("build-writes-logs", project=ctx.project, role="roles/logging.logWriter",
                               member=builder.member, opts=ctx.opts(parent, api="cloudresourcemanager")),
    ]
    settled = time.Sleep("build-grants-settle", create_duration=BUILD_GRANTS_SETTLE,
                         opts=pulumi.ResourceOptions(parent=parent, depends_on=grants))
    return Source(bucket=bucket, archive=archive, repository=repository, builder=builder, ready=[*grants, settled])


def create_function(ctx: GcpContext, spec: Shape, source: Source, environment: dict[str, pulumi.Input[str]],
                    internal_only: bool, parent: pulumi.Resource) -> FunctionHandle:
    identity = service_account(ctx, spec.name, f"function {spec.name}", parent)
    function = gcp.cloudfunctionsv2.Function(
        spec.name,
        name=ctx.physical(spec.name),
        location=ctx.region,
        description=f"anycloud {ctx.prefix}: {spec.purpose}",
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
            max_instance_count=spec.max_instances,
            ingress_settings="ALLOW_INTERNAL_ONLY" if internal_only else "ALLOW_ALL",
            all_traffic_on_latest_revision=True,
            # GCF adds LOG_EXECUTION_ID itself; declaring it avoids a perpetual diff.
            environment_variables={**environment, "LOG_EXECUTION_ID": "true"},
        ),
        opts=ctx.opts(parent, api=FUNCTION_APIS, cmek=True, depends_on=source.ready),
    )
    return FunctionHandle(shape=spec, function=function, identity=identity)
