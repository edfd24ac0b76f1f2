"""Identity-based access only: no local (key) auth on data stores and app services, no shared keys.

A key (an account key, a SAS key, an access key, an admin password, an HMAC secret) is a
long-lived secret that works beside Entra ID or IAM, outside their conditions, logs and
revocation. Every switch the provider SDKs have for it is in the settings catalogue
(policy/settings/local_auth.py); so are the places an app's settings and connection strings are
written (the site, its slots, and the WebAppApplicationSettings / WebAppConnectionStrings
resources that replace them), where a key-based connection string is the same secret in plain
configuration.
"""

from __future__ import annotations

import re

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from .common import get, named, resource_policy, shown
from .settings import label, places, same, set_values
from .settings import local_auth as catalogue

#: Connection strings that carry a key: Storage (AccountKey, SharedAccessSignature, SAS URLs),
#: Cosmos DB (AccountKey), Service Bus and Event Hubs (SharedAccessKey).
KEYED = re.compile(r"(?:^|[;?&\s])(AccountKey|SharedAccessSignature|SharedAccessKey|sig)\s*=\s*[^;&\s]", re.IGNORECASE)

#: What stays usable while a switch is left on, by its property name.
_KEEPS = {
    "disableLocalAuth": "keys and connection strings",
    "allowSharedKeyAccess": "account keys, connection strings and account SAS",
    "disableAccessKeyAuthentication": "access keys",
    "passwordAuth": "database passwords",
    "localAuth": "access tokens",
    "azureADOnlyAuthentication": "SQL logins and passwords",
    "adminUserEnabled": "the registry's admin user and password",
    "hasSharedKey": "the local user's shared key (SFTP password)",
}

#: Where a type's keys say more than its switch's name.
_KEEPS_BY_TYPE = {
    "azure-native:applicationinsights:Component": "instrumentation keys (anyone holding the connection string may "
                                                  "send telemetry)",
}

GCS_HMAC_KEY = "gcp:storage/hmacKey:HmacKey"


def _check_local_auth(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props, typ = args.props, args.resource_type
    what = named(args, label(typ))
    for path, required, unset_ok in catalogue.SWITCHES.get(typ, ()):
        for where, value in places(props, path):
            if (value is None and unset_ok) or (value is not None and same(value, required)):
                continue
            keeps = _KEEPS_BY_TYPE.get(typ) or _KEEPS[path.rsplit(".", 1)[-1]]
            report(f"{what}: {where} is {shown(value)}, so {keeps} still work alongside Entra ID; required: "
                   f"{where} {shown(required)} (managed identities with role assignments only).")
    for path in catalogue.SETTING_PLACES.get(typ, ()):
        for where, value in set_values(props, path, skip_unknown=True):
            if isinstance(value, str) and (match := KEYED.search(value)):
                report(f"{what}: key-based connection string in {where} ({match.group(1)}=...): a long-lived secret "
                       "in plain configuration; required: identity-based connections (<CONNECTION>__accountName / "
                       "__queueServiceUri / __fullyQualifiedNamespace with __credential managedidentity and "
                       "__clientId), or a Key Vault reference.")


def _check_hmac_keys(args: ResourceValidationArgs, report: ReportViolation) -> None:
    state = get(args.props, "state")
    if not same(state, "INACTIVE"):
        report(f"{named(args, 'Cloud Storage HMAC key')} for {shown(get(args.props, 'serviceAccountEmail'))}: state is "
               f"{shown(state)} (ACTIVE when unset), so its secret signs Cloud Storage requests outside IAM's "
               "short-lived credentials; required: no HMAC key (the JSON API with the service account's own "
               "credentials), or state 'INACTIVE' while one is retired.")


POLICIES = [
    resource_policy(
        "azure-local-auth-disabled",
        "Azure data stores and services accept Entra ID only: every local-auth switch the provider SDK has is off "
        "(disableLocalAuth on Cosmos DB, Service Bus, Event Hubs, Event Grid, App Configuration, Application Insights, "
        "Log Analytics, Cognitive Services, SignalR, Web PubSub, Search, IoT Hub, ...; Storage allowSharedKeyAccess; "
        "Redis disableAccessKeyAuthentication; PostgreSQL passwordAuth; SQL azureADOnlyAuthentication; no registry "
        "admin user or storage local user with a shared key); and no app (site, slot, WebAppApplicationSettings, "
        "WebAppConnectionStrings, Container App or job) carries a key-based connection string (AccountKey=, "
        "SharedAccessSignature=, SharedAccessKey=, SAS sig=). Catalogue: policy/settings/local_auth.py, derived from "
        "the provider SDK. Source: https://learn.microsoft.com/azure/storage/common/shared-key-authorization-prevent, "
        "https://learn.microsoft.com/azure/service-bus-messaging/disable-local-authentication, "
        "https://learn.microsoft.com/azure/azure-functions/functions-reference#connecting-to-host-storage-with-an-identity.",
        sorted({*catalogue.SWITCHES, *catalogue.SETTING_PLACES}),
        _check_local_auth,
        remediation="set the switch the message names (disableLocalAuth true, allowSharedKeyAccess false, "
                    "disableAccessKeyAuthentication true, passwordAuth 'Disabled', azureADOnlyAuthentication true, "
                    "adminUserEnabled false), and connect apps with managed identities (identity-based app settings) "
                    "and role assignments.",
        severity=Severity.HIGH,
    ),
    resource_policy(
        "gcp-storage-no-hmac-keys",
        "No active Cloud Storage HMAC key: an HMAC key is a shared secret that signs requests for its service account "
        "(the XML API's interoperability access), long-lived and outside IAM's short-lived credentials, the Cloud "
        "Storage counterpart of Azure's shared keys. Source: https://cloud.google.com/storage/docs/authentication/hmackeys.",
        [GCS_HMAC_KEY],
        _check_hmac_keys,
        remediation="delete the storage.HmacKey and call Cloud Storage with the service account's own credentials "
                    "(JSON API, or the XML API with OAuth tokens); set state 'INACTIVE' while a client is moved off it.",
        severity=Severity.HIGH,
    ),
]
