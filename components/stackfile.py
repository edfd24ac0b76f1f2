"""Read a stack's config the way the Pulumi CLI hands it to the program.

Project defaults from Pulumi.yaml, overlaid with Pulumi.<stack>.yaml; structured values
become JSON strings, scalars strings, and `secure:` values secrets. Secrets are never
decrypted here: the offline check renders them as the placeholder Pulumi itself shows; the
ciphertexts and the stack's secrets provider are kept for `anycloud dev`
(components/pulumi_secrets.py opens them when the developer gives the passphrase).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SECRET_PLACEHOLDER = "[secret]"


class _Yaml12(yaml.SafeLoader):
    """YAML 1.2 booleans (only true/false), as Pulumi's YAML reader: `no` and `yes` stay text."""


_Yaml12.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _first in "tTfF":
    _Yaml12.add_implicit_resolver(
        "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list(_first)
    )


def _construct(node: yaml.Node) -> Any:
    return _Yaml12("").construct_document(node)


class StackFileError(ValueError):
    """A stack or project file that cannot be read; the message is one line."""


@dataclass
class StackConfig:
    project: str
    stack: str
    config: dict[str, str]
    secret_keys: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    file_name: str = ""
    secure: dict[str, str] = field(default_factory=dict)  # key -> the `secure:` ciphertext
    encryption_salt: str | None = None  # the passphrase provider's state (`encryptionsalt`)
    secrets_provider: str | None = None  # `secretsprovider`, when not the passphrase


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _read_yaml(path: Path) -> dict[str, Any]:
    """The file's top-level mapping; a scalar directly under `config:` keeps its literal text,
    as Pulumi hands it to the program (`010` stays "010"), structured values keep their types."""
    if not path.is_file():
        raise StackFileError(f"{path.name}: no such file in {path.parent.name or '.'}")
    try:
        root = yaml.compose(path.read_text(), Loader=_Yaml12)
        if root is None:
            return {}
        if not isinstance(root, yaml.MappingNode):
            raise StackFileError(f"{path.name}: expected a mapping at the top level")
        data: dict[str, Any] = {}
        for key, value in root.value:
            if key.value == "config" and isinstance(value, yaml.MappingNode):
                data["config"] = {
                    k.value: v.value if isinstance(v, yaml.ScalarNode) and v.tag != "tag:yaml.org,2002:null" else _construct(v)
                    for k, v in value.value
                }
            else:
                data[key.value] = _construct(value)
        return data
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise StackFileError(f"{path.name}:{where} is not valid YAML") from None


def load_stack(project_dir: Path, stack: str) -> StackConfig:
    """The config `pulumi up -s STACK` would give the program, without decrypting secrets."""
    project_file = _read_yaml(project_dir / "Pulumi.yaml")
    project = project_file.get("name", "project")
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, decl in (project_file.get("config") or {}).items():
        full = key if ":" in key else f"{project}:{key}"
        if isinstance(decl, dict) and "default" in decl:
            config[full] = _text(decl["default"])
        elif not isinstance(decl, dict):
            config[full] = _text(decl)
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        found = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml"))
        raise StackFileError(f"--stack {stack}: no {path.name} in {project_dir.name or '.'}; allowed: "
                             f"{', '.join(found) or 'none yet'} (a stack is its file: copy Pulumi.dev.yaml to "
                             f"{path.name} and edit it)")
    stack_file = _read_yaml(path)
    secure: dict[str, str] = {}
    for key, value in (stack_file.get("config") or {}).items():
        full = key if ":" in key else f"{project}:{key}"
        if value is None:  # `key:` with no value is unset, as `pulumi config rm` leaves it
            config.pop(full, None)
        elif isinstance(value, dict) and set(value) == {"secure"}:
            config[full] = SECRET_PLACEHOLDER
            secret_keys.append(full)
            secure[full] = str(value["secure"])
        else:
            config[full] = _text(value)
    return StackConfig(project=project, stack=stack, config=config, secret_keys=secret_keys, file_name=path.name,
                       secure=secure, encryption_salt=stack_file.get("encryptionsalt"),
                       secrets_provider=stack_file.get("secretsprovider"))
