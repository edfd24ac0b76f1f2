"""AWS properties whose change makes the provider delete the resource and create a new one, for the
types anycloud renders that hold data or identity (components/compare.py reads it).

pulumi-aws is bridged from the Terraform AWS provider, whose schema marks them ForceNew; the Python
SDK does not carry that mark, so the catalogue names each type's documentation page ("Forces new
resource"). A property that names the resource (its value is part of the ARN) is caught without an
entry by compare's naming rule.
"""

DOCS = "https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/"

#: type token -> (replacement-forcing engine-level properties, the page documenting them)
REPLACED_BY = {
    "aws:dynamodb/table:Table": (("name", "hashKey", "rangeKey", "localSecondaryIndexes"), DOCS + "dynamodb_table"),
    "aws:sqs/queue:Queue": (("name", "namePrefix", "fifoQueue"), DOCS + "sqs_queue"),
    "aws:kms/key:Key": (("customerMasterKeySpec", "keyUsage", "multiRegion"), DOCS + "kms_key"),
    "aws:secretsmanager/secret:Secret": (("name", "namePrefix"), DOCS + "secretsmanager_secret"),
    "aws:lambda/function:Function": (("name",), DOCS + "lambda_function"),
    "aws:iam/role:Role": (("name", "namePrefix", "path"), DOCS + "iam_role"),
    "aws:sfn/stateMachine:StateMachine": (("name", "namePrefix", "type"), DOCS + "sfn_state_machine"),
    "aws:apigatewayv2/api:Api": (("protocolType",), DOCS + "apigatewayv2_api"),
    "aws:cloudwatch/logGroup:LogGroup": (("name", "namePrefix", "logGroupClass"), DOCS + "cloudwatch_log_group"),
    "aws:sns/topic:Topic": (("name", "namePrefix", "fifoTopic"), DOCS + "sns_topic"),
}
