"""Regenerate policy/aws_resource_policy_types.py: which pulumi-aws resource types carry a
resource-based policy document, and at which property path.

    python scripts/aws_resource_policy_types.py          # rewrite the module from the installed SDK
    python scripts/aws_resource_policy_types.py --check  # exit 1 if the module differs from the SDK

How the SDK tells. pulumi_aws/__init__.py lists every resource type (`resource_modules`: token,
class, module); each class's `_internal_init` names its inputs (the engine's names are their
camelCase) and types them, and nested inputs are `*Args` classes of the module's `_inputs.py`.
A resource-based policy document is an input that is a JSON string (or the SDK's
`iam.PolicyDocument`), named as the provider names such documents - `policy`, `policy_document`,
`access_policy`, `access_policies`, `resource_policy`, `repository_policy`,
`delivery_destination_policy` - at the top level or inside nested inputs (a multi-region access
point's `details.policy`). Names with any other qualifier (`delivery_policy`, `lifecycle_policy`,
`redrive_policy`, `assume_role_policy`, `session_policy`, ...) are other documents.

Where the schema cannot tell, `NOT_GRANTS` says why a document so named is not a grant to callers
of the resource (the `iam` module's identity and trust policies, which policy/identity.py reads;
endpoint and session policies, which only narrow what a principal already has; documents in other
grammars). The generated module lists the rest; a new pulumi-aws release is taken in by running
this script and reviewing the diff (tests/test_aws_resource_policy_catalogue.py fails until then).
"""

from __future__ import annotations

import argparse
import ast
import datetime
import importlib.metadata
import importlib.util
import json
import re
import sys
from functools import lru_cache
from pathlib import Path

OUTPUT = Path(__file__).resolve().parent.parent / "policy" / "aws_resource_policy_types.py"
DOCUMENT_NAMES = re.compile(
    r"^(?:(?:access|resource|repository|delivery_destination)_)?(?:policy|policies|policy_document)$")
#: Documents named like resource policies that grant nothing to the resource's callers.
NOT_GRANTS: dict[str, str] = {
    "aws:iam/": "identity-based and trust policies: policy/identity.py reads them",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "a VPC endpoint policy narrows what passes through the endpoint; Principal \"*\" is its usual form",
    "aws:ec2/vpcEndpointPolicy:VpcEndpointPolicy": "a VPC endpoint policy (as above)",
    "aws:transfer/user:User": "a session policy scoping down the user's role",
    "aws:transfer/access:Access": "a session policy scoping down the access's role",
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": "a session policy scoping down the association's role",
    "aws:iot/policy:Policy": "an IoT policy, attached to certificates and identities, has no Principal",
    "aws:iot/policyAttachment:PolicyAttachment": "the name of an IoT policy",
    "aws:sns/dataProtectionPolicy:DataProtectionPolicy": "a data protection (masking) document",
    "aws:cloudwatch/logDataProtectionPolicy:LogDataProtectionPolicy": "a data protection (masking) document",
    "aws:cloudwatch/logAccountPolicy:LogAccountPolicy": "an account-level data protection, subscription or index document",
    "aws:cloudwatch/logIndexPolicy:LogIndexPolicy": "field indexes of a log group",
    "aws:opensearch/serverlessLifecyclePolicy:ServerlessLifecyclePolicy": "data retention rules",
    "aws:opensearch/serverlessSecurityPolicy:ServerlessSecurityPolicy": "encryption or network rules in OpenSearch Serverless grammar",
    "aws:opensearch/serverlessAccessPolicy:ServerlessAccessPolicy": "data access rules in OpenSearch Serverless grammar (a list of Rules/Principal, not IAM statements)",
    "aws:ses/receiptFilter:ReceiptFilter": "'Block' or 'Allow' for an IP filter",
    "aws:networkmanager/coreNetworkPolicyAttachment:CoreNetworkPolicyAttachment": "a Cloud WAN network policy",
    "aws:verifiedaccess/endpoint:Endpoint": "a Cedar policy of Verified Access",
    "aws:verifiedaccess/group:Group": "a Cedar policy of Verified Access",
}


def sdk_root() -> Path:
    spec = importlib.util.find_spec("pulumi_aws")
    if spec is None or spec.origin is None:
        sys.exit("pulumi_aws is not installed: pip install -e '.[aws]'")
    return Path(spec.origin).parent


def resource_types(root: Path) -> list[tuple[str, str, Path]]:
    """(type token, class name, module file) of every resource the SDK registers."""
    text = (root / "__init__.py").read_text()
    modules = json.loads(re.search(r'resource_modules="""(.*?)"""', text, re.S).group(1))
    out = []
    for module in modules:
        folder = root.joinpath(*module["fqn"].split(".")[1:])
        stem = re.sub(r"(?<!^)(?=[A-Z])", "_", module["mod"].split("/", 1)[1]).lower()
        for token, cls in module["classes"].items():
            out.append((token, cls, folder / f"{stem}.py"))
    return sorted(out)


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


@lru_cache(maxsize=None)
def args_classes(inputs: Path) -> dict[str, list[tuple[str, ast.expr | None]]]:
    """The `*Args` classes of an `_inputs.py`: name -> [(argument, annotation)] of their __init__."""
    if not inputs.exists():
        return {}
    out = {}
    for node in ast.parse(inputs.read_text()).body:
        if isinstance(node, ast.ClassDef) and node.name.endswith("Args"):
            init = next((f for f in node.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"), None)
            if init is not None:
                out[node.name] = [(a.arg, a.annotation) for a in init.args.args[1:] + init.args.kwonlyargs]
    return out


def resource_inputs(path: Path, cls: str) -> list[tuple[str, ast.expr | None]]:
    """The inputs of a resource class: the arguments of its `_internal_init`."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ClassDef) and node.name == cls:
            for f in node.body:
                if isinstance(f, ast.FunctionDef) and f.name == "_internal_init":
                    return [(a.arg, a.annotation) for a in f.args.args[3:] if a.arg != "__props__"]
    return []


def is_document(annotation: ast.expr | None) -> bool:
    """A JSON string or an `iam.PolicyDocument`, not a list, map, flag or configuration block."""
    text = ast.unparse(annotation) if annotation is not None else ""
    if "Sequence[" in text or "Mapping[" in text or "bool" in text:
        return False
    nested = re.findall(r"'(\w+Args)'", text)
    return "_builtins.str" in text and all(n.startswith("PolicyDocument") for n in nested)


def document_paths(inputs: list[tuple[str, ast.expr | None]], classes: dict, prefix: str = "", depth: int = 0) -> list[str]:
    paths = []
    for name, annotation in inputs:
        if DOCUMENT_NAMES.match(name) and is_document(annotation):
            paths.append(prefix + camel(name))
            continue
        if depth >= 3 or annotation is None:
            continue
        text = ast.unparse(annotation)
        step = f"{prefix}{camel(name)}{'[]' if 'Sequence[' in text else ''}."
        for nested in sorted(set(re.findall(r"'(\w+Args)'", text))):
            if nested in classes and not nested.startswith("PolicyDocument"):
                paths += document_paths(classes[nested], classes, step, depth + 1)
    return paths


def excluded(token: str) -> str | None:
    return next((why for key, why in NOT_GRANTS.items() if token == key or (key.endswith("/") and token.startswith(key))), None)


#: An argument named like a document, as the SDK declares it (a cheap test before parsing a file).
DECLARED = re.compile(r"\b(?:(?:access|resource|repository|delivery_destination)_)?(?:policy|policies|policy_document): ")


@lru_cache(maxsize=None)
def declares_documents(path: Path) -> bool:
    return path.exists() and DECLARED.search(path.read_text()) is not None


def catalogue(root: Path) -> dict[str, tuple[str, ...]]:
    found: dict[str, tuple[str, ...]] = {}
    for token, cls, path in resource_types(root):
        if excluded(token) or not (declares_documents(path) or declares_documents(path.parent / "_inputs.py")):
            continue
        paths = document_paths(resource_inputs(path, cls), args_classes(path.parent / "_inputs.py"))
        if paths:
            found[token] = tuple(sorted(set(paths)))
    return found


def render(found: dict[str, tuple[str, ...]], version: str, date: str) -> str:
    rows = "\n".join(f"    {token!r}: {paths!r}," for token, paths in sorted(found.items()))
    return f'''"""Generated by scripts/aws_resource_policy_types.py from pulumi-aws {version} on {date}; do not edit.

Every pulumi-aws resource type with a resource-based policy document among its inputs, and the
camelCase property path(s) of that document (a dotted path goes through nested inputs; `name[]`
steps into each item of a list). How the SDK is read, and the documents left out on purpose, are
in the script's docstring. Regenerate after upgrading pulumi-aws:
`python scripts/aws_resource_policy_types.py`.
"""

PULUMI_AWS_VERSION = {version!r}
GENERATED = {date!r}

DOCUMENTS: dict[str, tuple[str, ...]] = {{
{rows}
}}
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the module differs from the installed SDK")
    args = parser.parse_args()
    version = importlib.metadata.version("pulumi_aws")
    found = catalogue(sdk_root())
    if args.check:
        namespace: dict = {}
        exec(OUTPUT.read_text(), namespace)  # noqa: S102 - our own generated module
        same = namespace["DOCUMENTS"] == found and namespace["PULUMI_AWS_VERSION"] == version
        print("up to date" if same else f"{OUTPUT.name} differs from pulumi-aws {version}: regenerate it")
        sys.exit(0 if same else 1)
    OUTPUT.write_text(render(found, version, datetime.date.today().isoformat()))
    print(f"{OUTPUT}: {len(found)} resource types from pulumi-aws {version}")


if __name__ == "__main__":
    main()
