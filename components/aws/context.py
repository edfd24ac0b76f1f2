"""What every AWS module needs: the account, region and partition, the service key, names."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Callable

import pulumi
import pulumi_aws as aws
from pulumi_aws._utilities import get_invoke_opts_defaults as invoke_defaults

from .. import datasource
from ..settings import Settings
from ..spec import ServiceSpec

#: CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)

#: Step Functions logs and HTTP API access logs are delivered by CloudWatch Logs' vended-log
#: delivery, which adds a statement per log group to the account's log resource policy (at
#: most 5,120 characters, 10 policies per region) unless the group's name starts with
#: `/aws/vendedlogs/`; AWS recommends that prefix
#: (https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html). Lambda writes its own
#: logs with its role and needs no resource policy.
VENDED_LOGS_ROOT = "/aws/vendedlogs"
VENDED_LOG_KINDS = frozenset({"workflows", "api"})


@dataclass
class AwsContext:
    spec: ServiceSpec
    settings: Settings
    parent: pulumi.Resource
    account: pulumi.Output[str]
    region: pulumi.Output[str]
    partition: pulumi.Output[str]
    key: aws.kms.Key | None = None
    _outputs: dict[tuple, pulumi.Output[str]] = field(default_factory=dict, repr=False)

    @classmethod
    def create(cls, spec: ServiceSpec, settings: Settings, parent: pulumi.Resource) -> AwsContext:
        invoke = pulumi.InvokeOptions(parent=parent)
        return cls(
            spec=spec,
            settings=settings,
            parent=parent,
            account=aws.get_caller_identity_output(opts=invoke).account_id,
            region=aws.get_region_output(opts=invoke).region,
            partition=aws.get_partition_output(opts=invoke).partition,
        )

    @property
    def prefix(self) -> str:
        """`service-stack`, short enough that `prefix-name` fits every AWS name limit (64)."""
        full = f"{self.spec.name}-{self.settings.stack}".lower()
        if len(full) <= 30:
            return full
        return f"{full[:23]}-{hashlib.sha256(full.encode()).hexdigest()[:6]}"

    def physical(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def log_group_name(self, kind: str, name: str) -> str:
        """`/anycloud/<prefix>/<kind>/<name>`, or under `/aws/vendedlogs/` for the kinds AWS
        delivers for us; `log_group_prefixes` are what the key policy names."""
        root = VENDED_LOGS_ROOT if kind in VENDED_LOG_KINDS else ""
        return f"{root}/anycloud/{self.prefix}/{kind}/{name}"

    @property
    def log_group_prefixes(self) -> tuple[str, ...]:
        return (f"/anycloud/{self.prefix}/", f"{VENDED_LOGS_ROOT}/anycloud/{self.prefix}/")

    @property
    def log_retention(self) -> int:
        """The smallest retention CloudWatch accepts that keeps logs at least as long as asked."""
        return next(d for d in LOG_RETENTION_DAYS if d >= self.settings.log_retention_days)

    def once(self, key: tuple, make: Callable[[], pulumi.Output[str]]) -> pulumi.Output[str]:
        """One Output per key for the whole render (an ARN, a lookup), built on first use."""
        if key not in self._outputs:
            self._outputs[key] = make()
        return self._outputs[key]

    def invoke(self, token: str, args: dict) -> pulumi.Output[dict]:
        """A pulumi-aws data source by its token (components/datasource.py says why)."""
        return datasource.invoke(token, args, self.parent, invoke_defaults())

    def arn(self, service: str, resource: str, region: bool = True) -> pulumi.Output[str]:
        """An ARN in this account: arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE."""
        return self.once(("arn", service, resource, region), lambda: pulumi.Output.all(self.partition, self.region, self.account).apply(
            lambda v: f"arn:{v[0]}:{service}:{v[1] if region else ''}:{v[2]}:{resource}"
        ))

    def service_principal(self, service: str) -> pulumi.Output[str]:
        """`service.REGION.amazonaws.com`."""
        return self.once(("principal", service), lambda: self.region.apply(lambda r: f"{service}.{r}.amazonaws.com"))

    def opts(self, parent: pulumi.Resource, **kwargs) -> pulumi.ResourceOptions:
        """Child options; prod protects what holds data (pass protect=True for those)."""
        protect = kwargs.pop("protect", False) and self.settings.guarded
        return pulumi.ResourceOptions(parent=parent, protect=protect, **kwargs)
