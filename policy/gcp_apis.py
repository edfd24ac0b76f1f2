"""Which Google API each pulumi-gcp resource is created through, and which API each Google
service agent belongs to: the catalogue gcp_deployability's ordering rules read.

How it was built. pulumi-gcp 10.2.0 registers 1,495 resource types in 142 modules
(`gcp:<module>/<type>:<Type>`, the `resource_modules` of pulumi_gcp/__init__.py); a module is one
product of terraform-provider-google, which pulumi-gcp bridges, and the API a product calls is
the host of its default base path (google/transport/config.go, `DefaultBasePaths`):
`gcp:pubsub/` -> pubsub.googleapis.com, `gcp:cloudrun/` and `gcp:cloudrunv2/` -> run,
`gcp:serviceaccount/` -> iam, `gcp:kms/` -> cloudkms. `MODULES` names every module: a bare name is
a module named for its API, `module=api` one that is not, `module=` one that is exempt.
`TYPES` refines a module where types go through another API (`gcp:pubsub/lite*` -> pubsublite,
`gcp:bigquery/reservation*` -> bigqueryreservation) or through several (a gen 2 function is
built by Cloud Build into Artifact Registry and runs on Cloud Run; API Gateway creates a managed
service through Service Management and Service Control). The newest modules, whose products the
provider's base paths did not list yet (agenticapplications, agentidentity, agentregistry,
cloudsupport, hypercomputecluster, licensemanager, lustre, modelarmor, vectorsearch), are taken as
named for their API. tests/test_gcp_api_catalogue.py holds the catalogue to the installed SDK.

Exempt: what goes through the bootstrap APIs, which a stack cannot enable for itself (enabling an
API is a Service Usage call, and project, folder, organization IAM, tags and liens are Cloud
Resource Manager ones): `projects/*IAM*`, `projects/service` itself, `serviceusage/`, `folder/`,
`organizations/`, `resourcemanager/`, `tags/`. `projects/serviceIdentity` goes through Service
Usage, but the agent it requests is given its role only once its own API is on (IAM service
agents docs), so it waits for the API it names.

Service agents (`service-<project number>@<domain>.iam.gserviceaccount.com`), by API: Google's
service agents reference (https://cloud.google.com/iam/docs/service-agents) as
cloud-foundation-fabric carries it (modules/project/service-agents.yaml). `REQUESTED_AGENTS` are
the agents Google creates only on request (`projects.ServiceIdentity`, `gcloud beta services
identity create`), not when their API is enabled: fabric's `jit` marks (its 2024 list) and the
Firestore, Workflows and Eventarc agents their CMEK pages say to create. Every other agent
appears with its API (the Cloud Functions and Cloud Run agents among them).
"""

from __future__ import annotations

from typing import Any

#: APIs a stack cannot enable for itself; nothing waits for them.
BOOTSTRAP = frozenset({"cloudresourcemanager", "serviceusage"})

#: Every pulumi-gcp 10.2 module: `module` (its API has its name), `module=api`, or `module=` (exempt).
MODULES = """
accesscontextmanager activedirectory=managedidentities agenticapplications agentidentity agentregistry alloydb
apigateway apigee apihub appengine apphub applicationintegration=integrations artifactregistry assuredworkloads
backupdisasterrecovery=backupdr beyondcorp biglake bigquery bigqueryanalyticshub=analyticshub bigquerydatapolicy
bigtable=bigtableadmin billing=cloudbilling binaryauthorization blockchainnodeengine certificateauthority=privateca
certificatemanager ces chronicle cloudasset cloudbuild cloudbuildv2=cloudbuild clouddeploy clouddomains=domains
cloudfunctions cloudfunctionsv2=cloudfunctions cloudidentity cloudids=ids cloudquota=cloudquotas cloudrun=run
cloudrunv2=run cloudscheduler cloudsecuritycompliance cloudsupport cloudtasks colab=aiplatform composer compute
configdeployment=config contactcenterinsights container containeranalysis databasemigrationservice=datamigration
datacatalog dataflow dataform datafusion datalineage dataloss=dlp dataplex dataproc datastream deploymentmanager
developerconnect diagflow=dialogflow discoveryengine dns documentai edgecontainer edgenetwork endpoints=servicemanagement
essentialcontacts eventarc filestore=file firebase firebaserules firestore folder= gemini=cloudaicompanion gkebackup
gkehub gkeonprem healthcare hypercomputecluster iam iap identityplatform=identitytoolkit
integrationconnectors=connectors kms=cloudkms licensemanager logging looker lustre managedkafka memcache memorystore
migrationcenter modelarmor monitoring netapp networkconnectivity networkmanagement networksecurity networkservices
observability oracledatabase organizations= orgpolicy osconfig oslogin parallelstore parametermanager
privilegedaccessmanager projects= pubsub recaptcha=recaptchaenterprise redis resourcemanager= runtimeconfig
saasruntime=saasservicemgmt secretmanager securesourcemanager securitycenter securityposture serviceaccount=iam
servicedirectory servicenetworking serviceusage= siteverification sourcerepo spanner sql=sqladmin storage tags= tpu
transcoder vectorsearch vertex=aiplatform vmwareengine vpcaccess workbench=notebooks workflows workstations
"""

#: `module/typePrefix` -> the APIs of the types it starts (longest prefix wins).
TYPES: dict[str, tuple[str, ...]] = {
    "apigateway/api:": ("apigateway", "servicemanagement", "servicecontrol"),
    "apigateway/apiConfig:": ("apigateway", "servicemanagement", "servicecontrol"),
    "apigateway/gateway:": ("apigateway", "servicemanagement", "servicecontrol"),
    "bigquery/appProfile": ("bigtableadmin",),
    "bigquery/biReservation": ("bigqueryreservation",),
    "bigquery/capacityCommitment": ("bigqueryreservation",),
    "bigquery/connection": ("bigqueryconnection",),
    "bigquery/dataTransfer": ("bigquerydatatransfer",),
    "bigquery/datapolicyv2": ("bigquerydatapolicy",),
    "bigquery/reservation": ("bigqueryreservation",),
    "billing/budget": ("billingbudgets",),
    "cloudfunctions/function:": ("cloudfunctions", "cloudbuild"),
    "cloudfunctionsv2/function:": ("cloudfunctions", "cloudbuild", "artifactregistry", "run"),
    "container/attachedCluster": ("gkemulticloud",),
    "container/aws": ("gkemulticloud",),
    "container/azure": ("gkemulticloud",),
    "container/registry": ("containerregistry",),
    "dataproc/gdc": ("dataprocgdc",),
    "dataproc/metastore": ("metastore",),
    "firebase/appCheck": ("firebaseappcheck",),
    "firebase/appHosting": ("firebaseapphosting",),
    "firebase/dataConnect": ("firebasedataconnect",),
    "firebase/databaseInstance": ("firebasedatabase",),
    "firebase/extensionsInstance": ("firebaseextensions",),
    "firebase/hosting": ("firebasehosting",),
    "firebase/storage": ("firebasestorage",),
    "folder/accessApprovalSettings": ("accessapproval",),
    "organizations/accessApprovalSettings": ("accessapproval",),
    "organizations/iAMCustomRole": ("iam",),
    "projects/accessApprovalSettings": ("accessapproval",),
    "projects/apiKey": ("apikeys",),
    "projects/defaultServiceAccounts": ("iam",),
    "projects/iAMCustomRole": ("iam",),
    "projects/usageExportBucket": ("compute",),
    "pubsub/lite": ("pubsublite",),
    "securitycenter/management": ("securitycentermanagement",),
    "storage/batchOperations": ("storagebatchoperations",),
    "storage/insights": ("storageinsights",),
    "storage/transfer": ("storagetransfer",),
}
#: `gcp:projects/serviceIdentity`: the API whose agent it requests, from its `service` input.
SERVICE_IDENTITY = "gcp:projects/serviceIdentity:ServiceIdentity"
SERVICE = "gcp:projects/service:Service"


def _modules(text: str) -> dict[str, tuple[str, ...]]:
    out = {}
    for entry in text.split():
        module, _, api = entry.partition("=")
        out[module] = () if entry.endswith("=") else (api or module,)
    return out


MODULE_APIS = _modules(MODULES)


def short(service: Any) -> str | None:
    """'pubsub' for 'pubsub.googleapis.com' (or 'pubsub'); None for anything else."""
    return service.removesuffix(".googleapis.com") if isinstance(service, str) and service else None


def apis_of(resource_type: str, service: Any = None) -> tuple[str, ...]:
    """The APIs (short names) a resource of `resource_type` is created through, bootstrap APIs
    left out; () for what is exempt or not a pulumi-gcp type. `service` is a ServiceIdentity's
    known `service` input."""
    if resource_type == SERVICE_IDENTITY:
        found = short(service)
        return (found,) if found and found not in BOOTSTRAP else ()
    if not resource_type.startswith("gcp:"):
        return ()
    path = resource_type[len("gcp:"):]
    prefixes = [p for p in TYPES if path.startswith(p)]
    apis = TYPES[max(prefixes, key=len)] if prefixes else MODULE_APIS.get(path.split("/", 1)[0], ())
    return tuple(a for a in apis if a not in BOOTSTRAP)


#: API -> the e-mail domains of its service agents (`service-N@<domain>.iam.gserviceaccount.com`).
AGENT_DOMAINS = {
    "adsdatahub": "gcp-sa-adsdatahub",
    "aiplatform": "gcp-ri-aiplatform gcp-sa-aiplatform gcp-sa-aiplatform-cc gcp-sa-aiplatform-ft "
                  "gcp-sa-aiplatform-is gcp-sa-aiplatform-pie gcp-sa-aiplatform-re gcp-sa-aiplatform-vm "
                  "gcp-sa-vertex-agent gcp-sa-vertex-bp gcp-sa-vertex-es gcp-sa-vertex-eval gcp-sa-vertex-ex "
                  "gcp-sa-vertex-ex-cc gcp-sa-vertex-logging gcp-sa-vertex-mm gcp-sa-vertex-moss-ft "
                  "gcp-sa-vertex-nb gcp-sa-vertex-op gcp-sa-vertex-rag gcp-sa-vertex-sandbox "
                  "gcp-sa-vertex-shtune gcp-sa-vertex-telemetry gcp-sa-vertex-tune gcp-sa-vertex-vtc",
    "alloydb": "gcp-sa-alloydb",
    "anthos": "gcp-sa-anthos",
    "anthosaudit": "gcp-sa-anthosaudit",
    "anthosconfigmanagement": "gcp-sa-anthosconfigmanagement",
    "anthosidentityservice": "gcp-sa-anthosidentityservice",
    "anthospolicycontroller": "gcp-sa-anthospolicycontroller",
    "apigateway": "gcp-sa-apigateway gcp-sa-apigateway-mgmt",
    "apigee": "gcp-sa-apigee",
    "apigeeregistry": "gcp-sa-apigeeregistry",
    "apihub": "gcp-sa-apihub",
    "apikeys": "gcp-sa-apikeys",
    "apim": "gcp-sa-apim",
    "appdevelopmentexperience": "gcp-sa-appdevexperience",
    "appengineflex": "gae-api-prod",
    "appenginestandard": "gcp-gae-service",
    "apphub": "gcp-sa-apphub",
    "appoptimize": "gcp-sa-appoptimize",
    "artifactregistry": "gcp-sa-artifactregistry",
    "assuredworkloads": "gcp-sa-assuredworkloads",
    "auditmanager": "gcp-sa-audit-manager",
    "automl": "gcp-sa-automl",
    "backupdr": "gcp-sa-backupdr gcp-sa-backupdr-run",
    "baremetalsolution": "gcp-sa-bms",
    "batch": "gcp-sa-cloudbatch",
    "bigquery": "gcp-sa-bigqueryri gcp-sa-bigqueryspark gcp-sa-bigquerytardis gcp-sa-connectedsheets "
                "gcp-sa-prod-bigqueryomni",
    "bigqueryconnection": "gcp-sa-bigqueryconnection",
    "bigquerydatatransfer": "gcp-sa-bigquerydatatransfer",
    "bigquerymigration": "gcp-sa-bqms",
    "bigtableadmin": "gcp-sa-bigtable",
    "binaryauthorization": "gcp-sa-binaryauthorization",
    "blockchainnodeengine": "gcp-sa-bne",
    "certificatemanager": "gcp-sa-certificatemanager",
    "ces": "gcp-sa-ces",
    "chronicle": "gcp-sa-chronicle",
    "cloudaicompanion": "gcp-sa-cloudaicompanion",
    "cloudasset": "gcp-sa-cloudasset",
    "cloudbuild": "gcp-sa-cloudbuild",
    "clouddeploy": "gcp-sa-clouddeploy",
    "cloudfunctions": "gcf-admin-robot",
    "cloudkms": "gcp-sa-cloudkms gcp-sa-ekms",
    "cloudoptimization": "gcp-sa-cloudoptim",
    "cloudscheduler": "gcp-sa-cloudscheduler",
    "cloudsecuritycompliance": "gcp-sa-csc-hpsa",
    "cloudtasks": "gcp-sa-cloudtasks",
    "cloudtrace": "gcp-sa-cloud-trace",
    "composer": "cloudcomposer-accounts",
    "compute": "compute-system gcp-sa-compute-usage",
    "config": "gcp-sa-config",
    "configdelivery": "gcp-sa-configdelivery",
    "connectgateway": "gcp-sa-anthossupport",
    "connectors": "gcp-sa-connectors",
    "contactcenteraiplatform": "gcp-sa-ccaip",
    "contactcenterinsights": "gcp-ri-contactcenterinsights gcp-sa-ccai-cmek gcp-sa-ccinsights-cmek "
                             "gcp-sa-contactcenterinsights",
    "container": "container-engine-robot gcp-sa-gkenode",
    "containeranalysis": "container-analysis",
    "containerregistry": "containerregistry",
    "containerscanning": "gcp-sa-containerscanning",
    "containersecurity": "gcp-sa-containersec",
    "containerthreatdetection": "gcp-sa-ktd-control gcp-sa-ktd-hpsa",
    "contentwarehouse": "gcp-sa-cloud-cw gcp-sa-cloud-cw-cmek",
    "dataconnectors": "gcp-sa-dataconnectors",
    "dataflow": "dataflow-service-producer-prod",
    "dataform": "gcp-sa-dataform",
    "datafusion": "gcp-sa-datafusion",
    "datalabeling": "gcp-sa-datalabeling",
    "datamigration": "gcp-sa-datamigration",
    "datapipelines": "gcp-sa-datapipelines",
    "dataplex": "gcp-sa-dataplex",
    "dataproc": "dataproc-accounts",
    "dataprocrm": "gcp-sa-dataprocrmnode",
    "datastream": "gcp-sa-datastream",
    "datastudio": "gcp-sa-datastudio gcp-sa-datastudio-cmek",
    "designcenter": "gcp-sa-designcenter",
    "developerconnect": "gcp-sa-devconnect",
    "dialogflow": "gcp-sa-dialogflow gcp-sa-dialogflow-cmek",
    "discoveryengine": "gcp-sa-discoveryengine",
    "dlp": "dlp-api",
    "dns": "gcp-sa-dns",
    "documentai": "gcp-sa-prod-dai-core",
    "edgecontainer": "gcp-sa-edgecontainer gcp-sa-edgecontainercluster gcp-sa-edgecontainergcr",
    "endpoints": "gcp-sa-endpoints",
    "enterpriseknowledgegraph": "gcp-sa-cloud-ekg",
    "eventarc": "gcp-sa-eventarc",
    "file": "cloud-filer",
    "firebase": "gcp-sa-firebase",
    "firebaseappcheck": "gcp-sa-firebaseappcheck",
    "firebaseapphosting": "gcp-sa-firebaseapphosting",
    "firebasecrashlytics": "gcp-sa-crashlytics",
    "firebasedatabase": "gcp-sa-firebasedatabase",
    "firebasedataconnect": "gcp-sa-firebasedataconnect",
    "firebaseextensions": "gcp-sa-firebasemods",
    "firebaseml": "gcp-sa-firebaseml",
    "firebaserules": "firebase-rules",
    "firebasestorage": "gcp-sa-firebasestorage",
    "firebasevertexai": "gcp-sa-firebasevertexai",
    "firestore": "gcp-sa-firestore gcp-sa-fs-spanner",
    "firewallinsights": "gcp-sa-firewallinsights",
    "geminicodeassistmanagement": "gcp-sa-geminicodeassistmp",
    "geminidataanalytics": "gcp-sa-geminidataanalytics",
    "generativelanguage": "gcp-sa-generativelanguage",
    "gkebackup": "gcp-sa-gkebackup",
    "gkedataplanev2": "gcp-sa-gkedataplanev2",
    "gkehub": "gcp-sa-gkehub",
    "gkemulticloud": "gcp-sa-gkemulticloud gcp-sa-gkemulticloudcontainer gcp-sa-gkemulticloudcpmachine "
                     "gcp-sa-gkemulticloudnpmachine",
    "gkeonprem": "gcp-sa-gkeonprem",
    "gsuiteaddons": "gcp-sa-gsuiteaddons",
    "healthcare": "gcp-sa-healthcare",
    "hypercomputecluster": "gcp-sa-diagon gcp-sa-hypercomputecluster",
    "iam": "gcp-ri-identitypool",
    "iap": "gcp-sa-iap",
    "identitytoolkit": "gcp-sa-identitytoolkit",
    "integrations": "gcp-sa-integrations",
    "krmapihosting": "gcp-sa-krmapihosting gcp-sa-krmapihosting-dataplane",
    "livestream": "gcp-sa-livestream",
    "logging": "gcp-sa-logging",
    "looker": "gcp-sa-looker",
    "lustre": "gcp-sa-lustre",
    "managedflink": "gcp-sa-managedflink",
    "managedidentities": "gcp-sa-mi",
    "managedkafka": "gcp-sa-managedkafka",
    "memcache": "cloud-memcache-sa",
    "memorystore": "gcp-sa-memorystore",
    "meshconfig": "gcp-sa-meshconfig gcp-sa-meshcontrolplane gcp-sa-meshdataplane gcp-sa-servicemesh",
    "metastore": "gcp-sa-metastore",
    "migrationcenter": "gcp-sa-migcenter",
    "ml": "cloud-ml",
    "modelarmor": "gcp-sa-modelarmor",
    "monitoring": "gcp-sa-monitoring gcp-sa-monitoring-notification",
    "multiclusteringress": "gcp-sa-multiclusteringress",
    "multiclustermetering": "gcp-sa-mcmetering",
    "multiclusterservicediscovery": "gcp-sa-mcsd",
    "netapp": "gcp-sa-netapp",
    "networkconnectivity": "gcp-sa-networkconnectivity",
    "networkmanagement": "gcp-sa-networkmanagement",
    "networksecurity": "gcp-sa-networksecurity gcp-sa-ns-authz",
    "networkservices": "gcp-sa-agentgateway gcp-sa-dep gcp-sa-networkactions gcp-sa-securewebproxy",
    "notebooks": "gcp-sa-notebooks gcp-sa-notebooks-vm",
    "notebooksecurityscanner": "gcp-sa-notebooksecurityscanner gcp-sa-nss-hpsa",
    "observability": "gcp-sa-observability",
    "ondemandscanning": "gcp-sa-ondemandscanning",
    "oracledatabase": "gcp-sa-oci",
    "osconfig": "gcp-sa-osconfig gcp-sa-osconfig-rollout",
    "parallelstore": "gcp-sa-parallelstore",
    "parametermanager": "gcp-sa-pm",
    "privateca": "gcp-sa-privateca",
    "privilegedaccessmanager": "gcp-sa-pam",
    "progressiverollout": "gcp-sa-progrollout",
    "pubsub": "gcp-sa-pubsub",
    "pubsublite": "gcp-sa-pubsublite",
    "rapidmigrationassessment": "gcp-sa-rma",
    "recommendationengine": "gcp-sa-recommendationengine",
    "redis": "cloud-redis",
    "remotebuildexecution": "gcp-sa-rbe gcp-sa-remotebuild remotebuildexecution",
    "retail": "gcp-sa-retail",
    "routeoptimization": "gcp-sa-routeoptim",
    "run": "gcp-sa-run-ai serverless-robot-prod",
    "runapps": "gcp-sa-runapps",
    "saasservicemgmt": "gcp-sa-saasservicemgmt",
    "sasportal": "gcp-sa-spectrumsas",
    "secretmanager": "gcp-sa-secretmanager",
    "securesourcemanager": "gcp-sa-sourcemanager",
    "securitycenter": "gcp-sa-ivs gcp-sa-scc-notification gcp-sa-scc-vmtd gcp-sa-securitycenter",
    "serviceconsumermanagement": "service-consumer-management",
    "servicedirectory": "gcp-sa-servicedirectory",
    "servicenetworking": "service-networking",
    "spanner": "gcp-sa-global-spanner gcp-sa-spanner",
    "speech": "gcp-sa-speech",
    "sqladmin": "gcp-sa-cloud-sql",
    "storage": "gcp-sa-autoannotate gcp-sa-storage-search gs-project-accounts",
    "storageinsights": "gcp-sa-storageinsights",
    "stream": "gcp-sa-stream",
    "tpu": "cloud-tpu gcp-sa-tpu",
    "transcoder": "gcp-sa-transcoder",
    "transferappliance": "gcp-sa-transferappliance",
    "translate": "gcp-sa-translation",
    "vectorsearch": "gcp-sa-vectorsearch gcp-sa-vs-cmek",
    "visionai": "gcp-sa-visionai",
    "vmmigration": "gcp-sa-vmmigration",
    "vmwareengine": "gcp-sa-vmwareengine",
    "vpcaccess": "gcp-sa-vpcaccess",
    "websecurityscanner": "gcp-sa-websecurityscanner",
    "workflows": "gcp-sa-workflows",
    "workloadmanager": "gcp-sa-workloadmanager",
    "workstations": "gcp-sa-workstations gcp-sa-workstationsvm",
}
#: Agents Google creates only on request (ServiceIdentity), not when their API is enabled.
REQUESTED_AGENTS = frozenset({
    "gcp-sa-aiplatform", "gcp-sa-apigee", "gcp-sa-artifactregistry", "gcp-sa-bigtable", "gcp-sa-cloudasset",
    "gcp-sa-cloudbuild", "gcp-sa-connectors", "gcp-sa-dataform", "gcp-sa-dataplex", "dlp-api", "gcp-sa-gkehub",
    "gcp-sa-iap", "gcp-sa-meshconfig", "gcp-sa-multiclusteringress", "gcp-sa-networksecurity", "gcp-sa-notebooks",
    "gcp-sa-pubsub", "gcp-sa-secretmanager", "gcp-sa-cloud-sql", "gcp-sa-firestore", "gcp-sa-workflows",
    "gcp-sa-eventarc",
})
AGENT_APIS = {domain: api for api, domains in AGENT_DOMAINS.items() for domain in domains.split()}
