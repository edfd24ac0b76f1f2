"""What Google Cloud would answer: realistic ids, names, e-mails and URLs for mocked resources."""

from __future__ import annotations

import hashlib
from typing import Any

PROJECT_NUMBER = "482915730166"
DEFAULT_PROJECT = "anycloud-orders-4711"
#: Cloud Run's short region codes in run.app hostnames (the ones tests use; others fall back).
REGION_CODES = {"europe-west1": "ew", "us-central1": "uc", "europe-west4": "ez", "us-east1": "ue"}


def _suffix(name: str, n: int = 7) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:n]


def _project(config: dict[str, str]) -> str:
    return config.get("gcp:project", DEFAULT_PROJECT)


def invoke(token: str, args: dict[str, Any], config: dict[str, str]) -> dict[str, Any] | None:
    project = _project(config)
    if token == "gcp:organizations/getProject:getProject":
        return {"projectId": project, "number": PROJECT_NUMBER, "name": project, "id": f"projects/{project}"}
    if token == "gcp:storage/getProjectServiceAccount:getProjectServiceAccount":
        email = f"service-{PROJECT_NUMBER}@gs-project-accounts.iam.gserviceaccount.com"
        return {"emailAddress": email, "member": f"serviceAccount:{email}", "project": project, "id": email}
    return None


def resource(typ: str, name: str, inputs: dict[str, Any], config: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """(id, outputs) for a GCP resource type; outputs extend the inputs as the provider would."""
    project = _project(config)
    out = dict(inputs)
    physical = inputs.get("name") or f"{name}-{_suffix(name)}"
    rid = f"{name}-{_suffix(name, 10)}"
    if typ == "gcp:projects/service:Service":
        rid = f"{project}/{inputs.get('service')}"
    elif typ == "gcp:projects/serviceIdentity:ServiceIdentity":
        api = str(inputs.get("service", "")).split(".")[0]
        email = f"service-{PROJECT_NUMBER}@gcp-sa-{api}.iam.gserviceaccount.com"
        out.update(email=email, member=f"serviceAccount:{email}")
        rid = f"projects/{project}/services/{inputs.get('service')}"
    elif typ == "gcp:kms/keyRing:KeyRing":
        rid = f"projects/{project}/locations/{inputs.get('location')}/keyRings/{physical}"
        out.update(name=physical)
    elif typ == "gcp:kms/cryptoKey:CryptoKey":
        rid = f"{inputs.get('keyRing')}/cryptoKeys/{physical}"
        out.update(name=physical)
    elif typ == "gcp:serviceaccount/account:Account":
        email = f"{inputs.get('accountId')}@{project}.iam.gserviceaccount.com"
        rid = f"projects/{project}/serviceAccounts/{email}"
        out.update(email=email, member=f"serviceAccount:{email}", name=rid, uniqueId=str(int(_suffix(name, 12), 16)))
    elif typ == "gcp:storage/bucket:Bucket":
        rid = physical
        out.update(name=physical, url=f"gs://{physical}", selfLink=f"https://www.googleapis.com/storage/v1/b/{physical}")
    elif typ == "gcp:storage/bucketObject:BucketObject":
        rid = f"{inputs.get('bucket')}-{physical}"
        out.update(generation=int(_suffix(physical, 10), 16), outputName=physical, md5hash=_suffix(physical, 24))
    elif typ == "gcp:artifactregistry/repository:Repository":
        rid = f"projects/{project}/locations/{inputs.get('location')}/repositories/{inputs.get('repositoryId')}"
        out.update(name=inputs.get("repositoryId"))
    elif typ == "gcp:cloudfunctionsv2/function:Function":
        rid = f"projects/{project}/locations/{inputs.get('location')}/functions/{physical}"
        code = REGION_CODES.get(str(inputs.get("location")), "xx")
        service = dict(inputs.get("serviceConfig") or {})
        service.update(uri=f"https://{physical}-{_suffix(physical, 10)}-{code}.a.run.app",
                       service=f"projects/{project}/locations/{inputs.get('location')}/services/{physical}")
        out.update(name=physical, serviceConfig=service, state="ACTIVE",
                   url=f"https://{inputs.get('location')}-{project}.cloudfunctions.net/{physical}")
    elif typ == "gcp:pubsub/topic:Topic":
        rid = f"projects/{project}/topics/{physical}"
        out.update(name=physical)
    elif typ == "gcp:pubsub/subscription:Subscription":
        rid = f"projects/{project}/subscriptions/{physical}"
        out.update(name=physical)
    elif typ == "gcp:firestore/database:Database":
        rid = f"projects/{project}/databases/{physical}"
        out.update(name=physical, uid=_suffix(physical, 32), etag=_suffix(name, 16))
    elif typ == "gcp:workflows/workflow:Workflow":
        rid = f"projects/{project}/locations/{inputs.get('region')}/workflows/{physical}"
        out.update(name=physical, state="ACTIVE", revisionId=f"000001-{_suffix(physical, 3)}")
    elif typ == "gcp:secretmanager/secret:Secret":
        rid = f"projects/{project}/secrets/{inputs.get('secretId')}"
        out.update(name=f"projects/{PROJECT_NUMBER}/secrets/{inputs.get('secretId')}")
    elif typ == "gcp:secretmanager/secretVersion:SecretVersion":
        rid = f"{inputs.get('secret')}/versions/1"
        out.update(name=rid, version="1")
    elif typ == "gcp:apigateway/api:Api":
        rid = f"projects/{project}/locations/global/apis/{inputs.get('apiId')}"
        out.update(name=rid, managedService=f"{inputs.get('apiId')}-{_suffix(name, 13)}.apigateway.{project}.cloud.goog")
    elif typ == "gcp:apigateway/apiConfig:ApiConfig":
        config_id = f"{inputs.get('apiConfigIdPrefix', '')}{_suffix(name, 8)}"
        rid = f"projects/{project}/locations/global/apis/{inputs.get('api')}/configs/{config_id}"
        out.update(name=rid, apiConfigId=config_id, serviceConfigId=f"{config_id}-0")
    elif typ == "gcp:apigateway/gateway:Gateway":
        rid = f"projects/{project}/locations/{inputs.get('region')}/gateways/{inputs.get('gatewayId')}"
        code = REGION_CODES.get(str(inputs.get("region")), "xx")
        out.update(name=rid, defaultHostname=f"{inputs.get('gatewayId')}-{_suffix(name, 8)}.{code}.gateway.dev")
    elif typ in ("gcp:monitoring/notificationChannel:NotificationChannel", "gcp:monitoring/alertPolicy:AlertPolicy"):
        kind = "notificationChannels" if "notification" in typ else "alertPolicies"
        rid = f"projects/{project}/{kind}/{int(_suffix(name, 12), 16)}"
        out.update(name=rid)
    elif typ == "gcp:cloudtasks/queue:Queue":
        rid = f"projects/{project}/locations/{inputs.get('location')}/queues/{physical}"
        out.update(name=physical)
    elif typ == "gcp:eventarc/trigger:Trigger":
        rid = f"projects/{project}/locations/{inputs.get('location')}/triggers/{physical}"
        out.update(name=physical)
    elif typ.endswith(("Member", "IAMMember", "IamMember")):
        out.update(etag=f"BwY{_suffix(name, 9)}")
    return rid, out
