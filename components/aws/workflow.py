"""Step Functions: a STANDARD state machine compiled from the neutral workflow.

Its role may invoke only the workflow's task functions; logs go to an encrypted log group
(execution data only outside prod), X-Ray tracing is on, and the definition and execution
history are encrypted with the service key.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from policy.aws_actions import STEP_FUNCTIONS_LOG_DELIVERY

from ..spec import WorkflowSpec
from ..workflow.asl import compile_asl
from .context import AwsContext
from .function import FunctionHandle
from .iam import statement
from .identity import TRACE_WRITE, role
from .keys import LOG_DELIVERY_CONTEXT, STATES_CONTEXT, log_delivery_source
from .logs import log_group

#: What Step Functions needs of its role to deliver logs to CloudWatch Logs (its "Logging using
#: CloudWatch Logs" page); none of them can be scoped to a resource, so Resource "*". The policy
#: pack allows exactly these on "*", and logs:PutResourcePolicy to the roles Step Functions assumes.
LOG_DELIVERY = list(STEP_FUNCTIONS_LOG_DELIVERY)


def state_machine_arn(ctx: AwsContext, name: str) -> pulumi.Output[str]:
    """Known before the state machine exists, so starters can be wired without a cycle."""
    return ctx.arn("states", f"stateMachine:{ctx.physical(name)}")


def _key_statements(ctx: AwsContext, arn: pulumi.Output[str]) -> list[dict]:
    """The execution role's own use of the service key, as Step Functions documents it: data keys
    for the machine's executions (bound to its ARN) and for its log delivery. No kms:ViaService:
    the role calls KMS itself, and that condition would stop its executions."""
    if ctx.key is None:
        return []
    source = pulumi.Output.all(ctx.partition, ctx.region, ctx.account).apply(lambda v: log_delivery_source(*v))
    return [
        statement("UseServiceKey", ["kms:Decrypt", "kms:GenerateDataKey"], [ctx.key.arn], {"StringEquals": {STATES_CONTEXT: arn}}),
        statement("EncryptLogDelivery", ["kms:GenerateDataKey"], [ctx.key.arn], {"StringEquals": {LOG_DELIVERY_CONTEXT: source}}),
    ]


def create_workflow(
    ctx: AwsContext, spec: WorkflowSpec, functions: dict[str, FunctionHandle], parent: pulumi.Resource
) -> aws.sfn.StateMachine:
    tasks = spec.task_functions()
    arn = state_machine_arn(ctx, spec.name)
    identity = role(ctx, spec.name, "states.amazonaws.com", parent, f"anycloud {ctx.prefix}: workflow {spec.name}")
    identity.allow(
        statement("InvokeTaskFunctions", ["lambda:InvokeFunction"], [functions[t].target_arn for t in tasks]),
        statement("DeliverLogs", LOG_DELIVERY, "*"),
        statement("WriteTraces", TRACE_WRITE + ["xray:GetSamplingRules", "xray:GetSamplingTargets"], "*"),
        *_key_statements(ctx, arn),
    )
    policy = identity.seal()
    logs = log_group(ctx, "workflows", spec.name, parent)
    definition = pulumi.Output.all(*[functions[t].target_arn for t in tasks]).apply(
        lambda arns: json.dumps(compile_asl(spec, dict(zip(tasks, arns))), sort_keys=True)
    )
    encryption = (
        aws.sfn.StateMachineEncryptionConfigurationArgs(
            type="CUSTOMER_MANAGED_KMS_KEY", kms_key_id=ctx.key.arn, kms_data_key_reuse_period_seconds=300
        )
        if ctx.key
        else aws.sfn.StateMachineEncryptionConfigurationArgs(type="AWS_OWNED_KEY")
    )
    return aws.sfn.StateMachine(
        spec.name,
        name=ctx.physical(spec.name),
        type="STANDARD",
        role_arn=identity.role.arn,
        definition=definition,
        logging_configuration=aws.sfn.StateMachineLoggingConfigurationArgs(
            level="ERROR" if ctx.settings.prod else "ALL",
            include_execution_data=not ctx.settings.prod,
            log_destination=logs.arn.apply(lambda a: f"{a}:*"),
        ),
        tracing_configuration=aws.sfn.StateMachineTracingConfigurationArgs(enabled=True),
        encryption_configuration=encryption,
        opts=ctx.opts(parent, depends_on=[policy]),
    )
