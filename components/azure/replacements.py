"""Azure properties whose change makes a new resource, for the types anycloud renders that hold data
or identity (components/compare.py reads it).

An Azure resource is its ARM id: a change to any input that is a segment of the id (its name, its
resource group, its parent's name) addresses another resource, so Pulumi replaces it; compare's
naming rule catches those without an entry. The catalogue adds what ARM refuses to update in place.
"""

#: type token -> (replacement-forcing engine-level properties, the page documenting them)
REPLACED_BY = {
    "azure-native:cosmosdb:SqlResourceSqlContainer": (
        ("resource.partitionKey",), "https://learn.microsoft.com/azure/cosmos-db/change-partition-key"),
    "azure-native:storage:StorageAccount": (
        ("location", "kind", "encryption.requireInfrastructureEncryption"),
        "https://learn.microsoft.com/azure/storage/common/infrastructure-encryption-enable"),
    "azure-native:keyvault:Vault": (("location",), "https://learn.microsoft.com/azure/key-vault/general/move-region"),
    "azure-native:cosmosdb:DatabaseAccount": (("location", "kind"),
                                              "https://learn.microsoft.com/azure/cosmos-db/how-to-move-regions"),
}
