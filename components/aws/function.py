"""Lambda: one function, its own role and its own encrypted log group.

python3.13 on arm64 (about 20% cheaper than x86), X-Ray active, JSON logs into the
function's log group, environment encrypted with the service key. `warm_instances`
publishes a version behind a `live` alias with provisioned concurrency; every trigger then
invokes the alias.

Every function runs the same entrypoint, `runtime.aws.entry.handler` (functions/runtime/aws/),
which dispatches on the event's shape to the portable handler named by `ANYCLOUD_HANDLER`.
The asset holds only the service's runtime code: boto3 comes with the Lambda runtime, and
Powertools for AWS Lambda (with its extras: pydantic v2, aws-xray-sdk) from its public layer,
pinned below.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ..packaging import function_archive
from ..spec import FunctionSpec
from .context import AwsContext
from .iam import statement
from .identity import LOG_WRITE, TRACE_WRITE, Identity, role
from .logs import log_group

RUNTIME = "python3.13"
ARCHITECTURE = "arm64"
LIVE_ALIAS = "live"
#: The Lambda handler of every function; `ANYCLOUD_HANDLER` says which portable handler it runs.
ENTRYPOINT = "runtime.aws.entry.handler"

#: Powertools for AWS Lambda (Python) v3, from its public layer, resolved at deploy time from
#: the public SSM parameter Powertools publishes per release,
#: `/aws/service/powertools/python/<arch>/<runtime>/<version>` (its install guide, "Using SSM
#: Parameter Store"), so the layer is exactly the release the tests run against: the pin of
#: `aws-lambda-powertools` in requirements-dev.txt (a test keeps the two equal). A hard-coded
#: layer number drifts: layer 27 is release 3.23.0, not the 3.37.0 the tests ran against
#: (aws-powertools/powertools-lambda-python#7689). The layer is `aws-lambda-powertools[all]`
#: less what the runtime already has (boto3, botocore, jmespath...), so it also brings
#: pydantic v2 (the orders models) and aws-xray-sdk (Tracer): the asset needs neither.
POWERTOOLS_VERSION = "3.37.0"


def powertools_parameter() -> str:
    return f"/aws/service/powertools/python/{ARCHITECTURE}/{RUNTIME}/{POWERTOOLS_VERSION}"


@dataclass
class FunctionHandle:
    spec: FunctionSpec
    function: aws.lambda_.Function
    identity: Identity
    logs: aws.cloudwatch.LogGroup
    alias: aws.lambda_.Alias | None

    @property
    def target_arn(self) -> pulumi.Output[str]:
        """What triggers invoke: the alias when warm instances are configured."""
        return self.alias.arn if self.alias else self.function.arn

    @property
    def qualifier(self) -> pulumi.Output[str] | None:
        return self.alias.name if self.alias else None


def powertools_layer_arn(ctx: AwsContext) -> pulumi.Output[str]:
    """The pinned Powertools release's layer in the stack's region (one lookup per render)."""
    return ctx.once(("powertools",), lambda: ctx.invoke("aws:ssm/getParameter:getParameter", {"name": powertools_parameter()})["value"])


def create_function(
    ctx: AwsContext,
    spec: FunctionSpec,
    environment: dict[str, pulumi.Input[str]],
    parent: pulumi.Resource,
) -> FunctionHandle:
    identity = role(ctx, spec.name, "lambda.amazonaws.com", parent, f"anycloud {ctx.prefix}: function {spec.name}")
    logs = log_group(ctx, "functions", spec.name, parent)
    identity.allow(
        statement("WriteOwnLogs", LOG_WRITE, [logs.arn.apply(lambda arn: f"{arn}:log-stream:*")]),
        statement("WriteTraces", TRACE_WRITE, "*"),
    )
    function = aws.lambda_.Function(
        spec.name,
        name=ctx.physical(spec.name),
        description=f"anycloud {ctx.prefix}: {spec.handler}",
        role=identity.role.arn,
        runtime=RUNTIME,
        architectures=[ARCHITECTURE],
        handler=ENTRYPOINT,
        code=function_archive(cloud="aws"),
        layers=[powertools_layer_arn(ctx)],
        memory_size=spec.memory_mb,
        timeout=spec.timeout_s,
        reserved_concurrent_executions=spec.reserved_concurrency,
        publish=spec.warm_instances > 0,
        tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active"),
        logging_config=aws.lambda_.FunctionLoggingConfigArgs(
            log_format="JSON",
            log_group=logs.name,
            application_log_level="INFO",
            system_log_level="WARN",
        ),
        kms_key_arn=ctx.key.arn if ctx.key else None,
        environment=aws.lambda_.FunctionEnvironmentArgs(variables=environment),
        opts=ctx.opts(parent, depends_on=[logs, identity.policy]),
    )
    alias = None
    if spec.warm_instances:
        alias = aws.lambda_.Alias(
            f"{spec.name}-live", name=LIVE_ALIAS, function_name=function.name, function_version=function.version, opts=ctx.opts(function)
        )
        aws.lambda_.ProvisionedConcurrencyConfig(
            f"{spec.name}-warm",
            function_name=function.name,
            qualifier=alias.name,
            provisioned_concurrent_executions=spec.warm_instances,
            opts=ctx.opts(alias),
        )
    return FunctionHandle(spec=spec, function=function, identity=identity, logs=logs, alias=alias)
