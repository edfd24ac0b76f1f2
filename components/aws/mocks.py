"""What AWS would answer: realistic ids, names, ARNs and URLs for mocked resources."""

from __future__ import annotations

import hashlib
from typing import Any

ACCOUNT = "123456789012"
POWERTOOLS_PARAMETERS = "/aws/service/powertools/python/"
#: The layer number the parameter names in this mock region (a real region answers its own).
POWERTOOLS_LAYER_NUMBER = 41
#: A DynamoDB stream's label: when it was enabled, ISO 8601 with milliseconds.
STREAM_LABEL = "2026-01-01T00:00:00.000"


def _suffix(name: str, n: int = 7) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:n]


def _region(config: dict[str, str]) -> str:
    return config.get("aws:region", "us-east-1")


def invoke(token: str, args: dict[str, Any], config: dict[str, str]) -> dict[str, Any] | None:
    region = _region(config)
    if token == "aws:index/getCallerIdentity:getCallerIdentity":
        return {"accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/deployer", "userId": "AIDAEXAMPLE", "id": ACCOUNT}
    if token == "aws:index/getRegion:getRegion":
        return {"name": region, "region": region, "id": region, "endpoint": f"ec2.{region}.amazonaws.com", "description": region}
    if token == "aws:ssm/getParameter:getParameter" and args["name"].startswith(POWERTOOLS_PARAMETERS):
        # Powertools' public parameter: /aws/service/powertools/python/<arch>/<runtime>/<version>
        arch, runtime = args["name"].split("/")[5:7]
        layer = f"arn:aws:lambda:{region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-{runtime.replace('.', '')}-{arch}:{POWERTOOLS_LAYER_NUMBER}"
        return {"name": args["name"], "value": layer, "insecureValue": layer, "type": "String", "version": 1,
                "arn": f"arn:aws:ssm:{region}::parameter{args['name']}", "id": args["name"], "withDecryption": True}
    if token == "aws:index/getPartition:getPartition":
        return {"partition": "aws", "dnsSuffix": "amazonaws.com", "reverseDnsPrefix": "com.amazonaws", "id": "aws"}
    return None


def resource(typ: str, name: str, inputs: dict[str, Any], config: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """(id, outputs) for an AWS resource type; outputs extend the inputs as the provider would."""
    region = _region(config)
    out = dict(inputs)
    physical = inputs.get("name") or f"{name}-{_suffix(name)}"
    arn = lambda service, res, reg=region: f"arn:aws:{service}:{reg}:{ACCOUNT}:{res}"  # noqa: E731
    rid = physical
    if typ == "aws:kms/key:Key":
        rid = f"{_suffix(name, 8)}-{_suffix(name + 'a', 4)}-{_suffix(name + 'b', 4)}-{_suffix(name + 'c', 4)}-{_suffix(name + 'd', 12)}"
        out.update(keyId=rid, arn=arn("kms", f"key/{rid}"))
    elif typ == "aws:iam/role:Role":
        out.update(name=physical, arn=f"arn:aws:iam::{ACCOUNT}:role/{physical}", uniqueId=f"AROA{_suffix(name, 17).upper()}")
    elif typ == "aws:lambda/function:Function":
        fn_arn = arn("lambda", f"function:{physical}")
        out.update(name=physical, arn=fn_arn, qualifiedArn=f"{fn_arn}:1", version="1",
                   invokeArn=f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{fn_arn}/invocations")
    elif typ == "aws:lambda/alias:Alias":
        fn_arn = arn("lambda", f"function:{inputs.get('functionName')}:{inputs.get('name')}")
        out.update(arn=fn_arn, invokeArn=f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{fn_arn}/invocations")
    elif typ == "aws:cloudwatch/logGroup:LogGroup":
        out.update(name=physical, arn=arn("logs", f"log-group:{physical}"))
    elif typ == "aws:sqs/queue:Queue":
        url = f"https://sqs.{region}.amazonaws.com/{ACCOUNT}/{physical}"
        rid = url
        out.update(name=physical, arn=arn("sqs", physical), url=url)
    elif typ == "aws:dynamodb/table:Table":
        out.update(name=physical, arn=arn("dynamodb", f"table/{physical}"))
        if inputs.get("streamEnabled"):  # the label is the stream's creation time, as AWS names it
            out.update(streamLabel=STREAM_LABEL, streamArn=arn("dynamodb", f"table/{physical}/stream/{STREAM_LABEL}"))
    elif typ == "aws:secretsmanager/secret:Secret":
        physical = f"{inputs.get('namePrefix', '')}{_suffix(name, 6)}" if "namePrefix" in inputs else physical
        rid = arn("secretsmanager", f"secret:{physical}-{_suffix(physical, 6)}")
        out.update(name=physical, arn=rid)
    elif typ == "aws:sfn/stateMachine:StateMachine":
        rid = arn("states", f"stateMachine:{physical}")
        out.update(name=physical, arn=rid)
    elif typ == "aws:apigatewayv2/api:Api":
        rid = _suffix(name, 10)
        out.update(apiEndpoint=f"https://{rid}.execute-api.{region}.amazonaws.com", executionArn=arn("execute-api", rid),
                   arn=f"arn:aws:apigateway:{region}::/apis/{rid}")
    elif typ == "aws:apigatewayv2/stage:Stage":
        api_id = inputs.get("apiId")
        stage = "" if inputs.get("name") == "$default" else inputs.get("name")
        out.update(invokeUrl=f"https://{api_id}.execute-api.{region}.amazonaws.com/{stage}",
                   arn=f"arn:aws:apigateway:{region}::/apis/{api_id}/stages/{inputs.get('name')}")
    elif typ in ("aws:apigatewayv2/integration:Integration", "aws:apigatewayv2/route:Route", "aws:apigatewayv2/authorizer:Authorizer"):
        rid = _suffix(name, 7)
    elif typ == "aws:sns/topic:Topic":
        rid = arn("sns", physical)
        out.update(name=physical, arn=rid)
    elif typ == "aws:cloudwatch/metricAlarm:MetricAlarm":
        out.update(arn=arn("cloudwatch", f"alarm:{physical}"))
    elif typ == "aws:sns/topicSubscription:TopicSubscription":
        rid = f"{inputs.get('topic')}:{_suffix(name, 8)}"
        out.update(arn=rid)
    return rid, out
