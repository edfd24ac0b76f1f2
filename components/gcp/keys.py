"""The service's Cloud KMS key and the Google service agents that encrypt with it.

One key ring and one key per service, in the service's region (every CMEK resource must be in
the key's location), rotated every 90 days. Each Google service that stores the service's data
does so as its own service agent, and each agent gets `cryptoKeyEncrypterDecrypter` on this key
only: Pub/Sub (topics), Firestore (databases), Cloud Storage (the source bucket), Artifact
Registry (function images), Cloud Functions, Cloud Run and Eventarc (every function, per the
Cloud Functions CMEK page), Secret Manager (secret versions) and Workflows. Agents that exist
only once requested are materialised with `ServiceIdentity` after their API is enabled; every
CMEK resource waits for the grants.

Key rings and keys cannot be deleted in GCP (destroy only drops their versions, and the data
with them), so the key is protected in prod and Pulumi autonames both per stack.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from .context import GcpContext

ROTATION = "7776000s"  # 90 days
ENCRYPTER_DECRYPTER = "roles/cloudkms.cryptoKeyEncrypterDecrypter"

#: APIs the rendered service uses; enabled (never disabled on destroy) so agents and resources exist.
#: The bootstrap APIs (context.BOOTSTRAP_APIS) must already be on.
APIS = (
    "apigateway", "artifactregistry", "cloudbuild", "cloudfunctions", "cloudkms", "cloudtasks", "eventarc", "firestore",
    "iam", "logging", "monitoring", "pubsub", "run", "secretmanager", "servicecontrol", "servicemanagement",
    "storage", "workflowexecutions", "workflows",
)
#: The service agents that encrypt with the key, by API (the Cloud Functions CMEK page lists the
#: Functions, Run, Artifact Registry, Storage and Eventarc agents for every function).
KEY_AGENTS = ("pubsub", "firestore", "secretmanager", "workflows", "artifactregistry", "eventarc", "cloudfunctions",
              "run", "storage")


def enable_apis(ctx: GcpContext) -> dict[str, gcp.projects.Service]:
    """Each API's Service (enabling goes through Service Usage, a bootstrap API), kept in ctx.apis."""
    ctx.apis.update({
        api: gcp.projects.Service(f"api-{api}", service=f"{api}.googleapis.com", disable_on_destroy=False,
                                  opts=ctx.opts(ctx.parent, api="serviceusage"))
        for api in APIS
    })
    return ctx.apis


def service_key(ctx: GcpContext) -> gcp.kms.CryptoKey | None:
    """The key, with every agent's grant recorded in ctx.key_grants; None without customer keys.
    Each grant waits for its agent (its ServiceIdentity, or the API that creates it)."""
    if not ctx.settings.customer_managed_keys:
        return None
    ring = gcp.kms.KeyRing("key-ring", location=ctx.region, opts=ctx.opts(ctx.parent, api="cloudkms", protect=True))
    key = gcp.kms.CryptoKey(
        "key",
        key_ring=ring.id,
        rotation_period=ROTATION,
        purpose="ENCRYPT_DECRYPT",
        destroy_scheduled_duration="2592000s" if ctx.settings.prod else "86400s",
        opts=ctx.opts(ring, api="cloudkms", protect=True),
    )
    for api in KEY_AGENTS:
        member, agent = ctx.service_agent(api)
        ctx.key_grants.append(
            gcp.kms.CryptoKeyIAMMember(f"key-{api}-agent", crypto_key_id=key.id, role=ENCRYPTER_DECRYPTER, member=member,
                                       opts=ctx.opts(key, api="cloudkms", depends_on=[agent]))
        )
    return key
