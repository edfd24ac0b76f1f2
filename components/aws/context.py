"""What every AWS module needs: the account, region and partition, the service key, names."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from ..settings import Settings
from ..spec import ServiceSpec

#: CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)


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
        """Every log group lives under one prefix the key policy names."""
        return f"/anycloud/{self.prefix}/{kind}/{name}"

    @property
    def log_retention(self) -> int:
        """The smallest retention CloudWatch accepts that keeps logs at least as long as asked."""
        return next(d for d in LOG_RETENTION_DAYS if d >= self.settings.log_retention_days)

    def arn(self, service: str, resource: str, region: bool = True) -> pulumi.Output[str]:
        """An ARN in this account: arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE (one Output per ARN)."""
        key = ("arn", service, resource, region)
        if key not in self._outputs:
            self._outputs[key] = pulumi.Output.all(self.partition, self.region, self.account).apply(
                lambda v: f"arn:{v[0]}:{service}:{v[1] if region else ''}:{v[2]}:{resource}"
            )
        return self._outputs[key]

    def service_principal(self, service: str) -> pulumi.Output[str]:
        """`service.REGION.amazonaws.com`, built once per service."""
        key = ("principal", service)
        if key not in self._outputs:
            self._outputs[key] = self.region.apply(lambda r: f"{service}.{r}.amazonaws.com")
        return self._outputs[key]

    def opts(self, parent: pulumi.Resource, **kwargs) -> pulumi.ResourceOptions:
        """Child options; prod protects what holds data (pass protect=True for those)."""
        protect = kwargs.pop("protect", False) and self.settings.prod
        return pulumi.ResourceOptions(parent=parent, protect=protect, **kwargs)
