"""The anycloud CrossGuard policy pack: encryption and least privilege on AWS, GCP and Azure.

Policies live in modules by concern; `POLICIES` is the whole pack, in a stable order. The
same objects run under `pulumi preview --policy-pack policy` (see __main__.py) and offline
(policy/offline.py, used by `python -m components check`).
"""

from . import (
    alerts,
    audit_logging,
    azure_deployability,
    azure_operations,
    coverage,
    dead_letter_alarms,
    dead_letters,
    deployability,
    encryption,
    endpoints,
    entra_apps,
    exposure,
    gcp_deployability,
    identity,
    insecure_transport,
    local_auth,
    network,
    observability,
    privileges,
    resilience,
    resource_policies,
    streams,
    secret_recovery,
    secrets_plaintext,
    transport,
)

POLICIES = [
    *encryption.POLICIES,
    *transport.POLICIES,
    *insecure_transport.POLICIES,
    *endpoints.POLICIES,
    *network.POLICIES,
    *identity.POLICIES,
    *privileges.POLICIES,
    *entra_apps.POLICIES,
    *local_auth.POLICIES,
    *exposure.POLICIES,
    *resource_policies.POLICIES,
    *resilience.POLICIES,
    *dead_letters.POLICIES,
    *dead_letter_alarms.POLICIES,
    *alerts.POLICIES,
    *streams.POLICIES,
    *observability.POLICIES,
    *audit_logging.POLICIES,
    *secret_recovery.POLICIES,
    *secrets_plaintext.POLICIES,
    *deployability.POLICIES,
    *gcp_deployability.POLICIES,
    *azure_deployability.POLICIES,
    *azure_operations.POLICIES,
    *coverage.POLICIES,  # last: it reports what the others do not read
]
