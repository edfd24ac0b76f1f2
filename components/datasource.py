"""Calling a provider's data source by its token, as the provider's typed function would.

The typed functions (`aws.ssm.get_parameter_output`, `gcp.organizations.get_project_output`)
live in provider submodules that load every resource of their service, tens of milliseconds
each, on every `pulumi up` and offline check. Calling the same token with the provider's own
invoke defaults (its plugin version) is the same request without that import.
"""

from __future__ import annotations

import pulumi


def invoke(token: str, args: dict, parent: pulumi.Resource, defaults: pulumi.InvokeOptions) -> pulumi.Output[dict]:
    opts = pulumi.InvokeOutputOptions.merge(defaults, pulumi.InvokeOutputOptions(parent=parent))
    return pulumi.runtime.invoke_output(token, args, opts=opts)
