"""GCP properties whose change makes the provider delete the resource and create a new one, for the
types anycloud renders that hold data or identity (components/compare.py reads it).

pulumi-gcp is bridged from the Terraform Google provider, whose schema marks them ForceNew; the
Python SDK does not carry that mark, so the catalogue names each type's documentation page. A
property that names the resource (its value is part of the resource's id) is caught without an
entry by compare's naming rule.
"""

DOCS = "https://registry.terraform.io/providers/hashicorp/google/latest/docs/resources/"

#: type token -> (replacement-forcing engine-level properties, the page documenting them)
REPLACED_BY = {
    "gcp:firestore/database:Database": (("name", "locationId", "cmekConfig", "databaseEdition"), DOCS + "firestore_database"),
    "gcp:pubsub/topic:Topic": (("name",), DOCS + "pubsub_topic"),
    "gcp:pubsub/subscription:Subscription": (("name", "topic"), DOCS + "pubsub_subscription"),
    "gcp:secretmanager/secret:Secret": (("secretId", "replication"), DOCS + "secret_manager_secret"),
    "gcp:kms/cryptoKey:CryptoKey": (("name", "keyRing", "purpose", "importOnly"), DOCS + "kms_crypto_key"),
    "gcp:kms/keyRing:KeyRing": (("name", "location"), DOCS + "kms_key_ring"),
    "gcp:cloudfunctionsv2/function:Function": (("name", "location", "kmsKeyName"), DOCS + "cloudfunctions2_function"),
    "gcp:workflows/workflow:Workflow": (("name", "region", "cryptoKeyName"), DOCS + "workflows_workflow"),
    "gcp:serviceaccount/account:Account": (("accountId",), DOCS + "google_service_account"),
    "gcp:storage/bucket:Bucket": (("name", "location"), DOCS + "storage_bucket"),
    "gcp:apigateway/apiConfig:ApiConfig": (("api", "apiConfigId", "apiConfigIdPrefix", "openapiDocuments", "gatewayConfig"),
                                           DOCS + "api_gateway_api_config"),
    "gcp:artifactregistry/repository:Repository": (("repositoryId", "location", "format", "kmsKeyName"),
                                                   DOCS + "artifact_registry_repository"),
}
