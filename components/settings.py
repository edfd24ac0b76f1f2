"""Stack config -> typed Settings, read once, with one-line errors.

Every `anycloud:*` key is declared in Pulumi.yaml with its type, default and description;
this module is the runtime side of that declaration. A bad value raises SettingsError naming
the key, the value and what is allowed, before any resource is registered.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .spec import ApiSpec, FunctionSpec, JwtAuth, ServiceSpec, describe_error

if TYPE_CHECKING:  # imported where it is used: `anycloud dev` reads settings without the Pulumi SDK
    import pulumi

NAMESPACE = "anycloud"
CLOUDS = ("aws", "gcp", "azure")
ENVIRONMENTS = ("dev", "prod")
EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
ORIGIN = re.compile(r"^https://[a-z0-9.-]+(:\d{1,5})?$|^http://(localhost|127\.0\.0\.1)(:\d{1,5})?$")
#: Per-function overrides: config name -> FunctionSpec field.
FUNCTION_OVERRIDES = {"memoryMb": "memory_mb", "timeoutSeconds": "timeout_s", "warmInstances": "warm_instances"}
#: Every `anycloud:*` key this module reads (Pulumi.yaml declares the same; config_keys.py refuses others).
KEYS = ("cloud", "environment", "allowedOrigins", "alertEmail", "logRetentionDays", "customerManagedKeys", "apiAuth",
        "functions", "replacesCloud", "decommission")


class SettingsError(ValueError):
    """A stack config value that cannot be used; the message is one line naming the key."""


class ConfigReader(Protocol):
    """What the readers below ask of the config: `pulumi.Config(NAMESPACE)` under the engine, or
    `anycloud dev`'s view of the stack file (components/dev/project.py)."""

    def get(self, key: str) -> str | None: ...


class Settings(BaseModel):
    """The typed stack config; build it with `load_settings`."""

    model_config = ConfigDict(frozen=True)

    project: str
    stack: str
    cloud: Literal["aws", "gcp", "azure"]
    environment: Literal["dev", "prod"] = "dev"
    allowed_origins: tuple[str, ...] = ()
    alert_email: str | None = None
    log_retention_days: int = Field(30, ge=1, le=3653)
    customer_managed_keys: bool = True
    api_auth: JwtAuth | None = None
    function_overrides: dict[str, dict[str, int]] = Field(default_factory=dict)
    secret_keys: tuple[str, ...] = ()
    #: The cloud this stack deliberately leaves (deployed.py): its resources are deleted by the next up.
    replaces_cloud: Literal["aws", "gcp", "azure"] | None = None

    #: Set for the last `up` before a prod stack is destroyed: protection off, nothing else changed.
    decommission: bool = False

    @property
    def prod(self) -> bool:
        return self.environment == "prod"

    @property
    def guarded(self) -> bool:
        """What keeps prod data from being deleted (Pulumi `protect`, the clouds' deletion protection,
        delete locks) is on: prod, unless the stack is being decommissioned."""
        return self.prod and not self.decommission

    def secret(self, config_key: str) -> pulumi.Output[str]:
        """The secret config value, always wrapped as a Pulumi secret."""
        import pulumi

        return pulumi.Output.secret(pulumi.Config(NAMESPACE).require(config_key))


def _fail(key: str, value: Any, allowed: str) -> SettingsError:
    shown = value if isinstance(value, str) else json.dumps(value)
    return SettingsError(f"{NAMESPACE}:{key}: {shown!r} is not allowed; allowed: {allowed}")


def _choice(cfg: ConfigReader, key: str, choices: tuple[str, ...], default: str | None) -> str:
    value = cfg.get(key)
    if value is None:
        if default is None:
            raise SettingsError(
                f"{NAMESPACE}:{key} is not set; allowed: {', '.join(choices)} "
                f"(pulumi config set {NAMESPACE}:{key} {choices[0]})"
            )
        return default
    if value not in choices:
        raise _fail(key, value, ", ".join(choices))
    return value


def _object(cfg: ConfigReader, key: str, allowed: str) -> Any:
    raw = cfg.get(key)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        raise _fail(key, raw, allowed) from None


def _int(cfg: ConfigReader, key: str, default: int, low: int, high: int) -> int:
    raw = cfg.get(key)
    if raw is None:
        return default
    if not re.fullmatch(r"\d+", raw.strip()) or not low <= int(raw) <= high:
        raise _fail(key, raw, f"a whole number from {low} to {high}")
    return int(raw)


def _bool(cfg: ConfigReader, key: str, default: bool) -> bool:
    raw = cfg.get(key)
    if raw is None:
        return default
    if raw.strip().lower() not in ("true", "false"):
        raise _fail(key, raw, "true or false")
    return raw.strip().lower() == "true"


def _origins(cfg: ConfigReader, environment: str) -> tuple[str, ...]:
    allowed = 'a list of origins like ["https://app.example.com"]'
    value = _object(cfg, "allowedOrigins", allowed)
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail("allowedOrigins", value, allowed)
    for origin in value:
        if origin == "*":
            if environment == "prod":
                raise _fail("allowedOrigins", origin, "explicit https origins in prod; '*' lets any site call the API")
        elif not ORIGIN.match(origin):
            raise _fail("allowedOrigins", origin, "https://host[:port] (http only for localhost), or '*' outside prod")
    return tuple(value)


def _api_auth(cfg: ConfigReader) -> JwtAuth | None:
    allowed = '{"issuer": "https://...", "audience": ["..."]}'
    value = _object(cfg, "apiAuth", allowed)
    if value is None:
        return None
    if isinstance(value, dict) and isinstance(value.get("audience"), str):
        value = {**value, "audience": [value["audience"]]}
    try:
        return JwtAuth.model_validate(value)
    except ValidationError as err:
        raise SettingsError(f"{NAMESPACE}:apiAuth: {describe_error(err)}; allowed: {allowed}") from None


def _function_overrides(cfg: ConfigReader, spec: ServiceSpec) -> dict[str, dict[str, int]]:
    allowed = '{"<function>": {"memoryMb": 512, "timeoutSeconds": 10, "warmInstances": 1}}'
    value = _object(cfg, "functions", allowed)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail("functions", value, allowed)
    declared = [f.name for f in spec.functions]
    overrides: dict[str, dict[str, int]] = {}
    for name, fields in value.items():
        if name not in declared:
            raise _fail(f"functions.{name}", name, f"a declared function: {', '.join(declared)}")
        if not isinstance(fields, dict):
            raise _fail(f"functions.{name}", fields, allowed)
        for field, number in fields.items():
            if field not in FUNCTION_OVERRIDES:
                raise _fail(f"functions.{name}.{field}", field, ", ".join(FUNCTION_OVERRIDES))
            if isinstance(number, bool) or not isinstance(number, int):
                raise _fail(f"functions.{name}.{field}", number, "a whole number")
        overrides[name] = {FUNCTION_OVERRIDES[f]: n for f, n in fields.items()}
    return overrides


def load_settings(spec: ServiceSpec) -> Settings:
    """Read and check every `anycloud:*` key of the current stack."""
    import pulumi

    return read_settings(pulumi.Config(NAMESPACE), spec, project=pulumi.get_project(), stack=pulumi.get_stack(),
                         is_secret=pulumi.runtime.is_config_secret)


def read_settings(cfg: ConfigReader, spec: ServiceSpec, *, project: str, stack: str,
                  is_secret: Callable[[str], bool]) -> Settings:
    """Check every `anycloud:*` key `cfg` holds; `is_secret(full key)` says whether a value was
    given as a secret."""
    cloud = _choice(cfg, "cloud", CLOUDS, None)
    replaces = _choice(cfg, "replacesCloud", CLOUDS, "") or None
    environment = _choice(cfg, "environment", ENVIRONMENTS, "dev")
    email = cfg.get("alertEmail")
    if email is not None and not EMAIL.match(email):
        raise _fail("alertEmail", email, "an e-mail address like oncall@example.com")
    api_auth = _api_auth(cfg)
    origins = _origins(cfg, environment)
    if environment == "prod" and spec.api and not origins and "*" in spec.api.cors_origins:
        raise SettingsError(
            f"{NAMESPACE}:allowedOrigins is not set and api.cors_origins is '*'; prod allows only explicit https origins"
        )
    if environment == "prod" and api_auth is None and spec.api and not spec.api.auth and any(not r.public for r in spec.api.routes):
        raise SettingsError(
            f"{NAMESPACE}:apiAuth: not set; required in prod for the non-public routes; allowed: "
            '{"issuer": "https://...", "audience": ["..."]}'
        )
    for secret in spec.secrets:
        key = f"{NAMESPACE}:{secret.config_key}"
        if cfg.get(secret.config_key) is None:
            raise SettingsError(f"{key} is not set; allowed: a secret value (pulumi config set --secret {key} VALUE)")
        if not is_secret(key):
            raise SettingsError(f"{key} is stored in plain text; allowed: a secret value (pulumi config set --secret {key} VALUE)")
    return Settings(
        project=project,
        stack=stack,
        cloud=cloud,
        environment=environment,
        allowed_origins=origins,
        alert_email=email,
        log_retention_days=_int(cfg, "logRetentionDays", 30, 1, 3653),
        customer_managed_keys=_bool(cfg, "customerManagedKeys", True),
        api_auth=api_auth,
        function_overrides=_function_overrides(cfg, spec),
        secret_keys=tuple(s.config_key for s in spec.secrets),
        replaces_cloud=replaces,
        decommission=_bool(cfg, "decommission", False),
    )


def apply_overrides(spec: ServiceSpec, settings: Settings) -> ServiceSpec:
    """The spec with per-function config overrides applied and re-validated."""
    if not settings.function_overrides:
        return spec
    functions = []
    for fn in spec.functions:
        update = settings.function_overrides.get(fn.name, {})
        try:
            functions.append(FunctionSpec(**{**fn.model_dump(), **update}) if update else fn)
        except ValidationError as err:
            field = err.errors()[0]["loc"][0]
            key = next(k for k, v in FUNCTION_OVERRIDES.items() if v == field)
            raise _fail(f"functions.{fn.name}.{key}", update[field], describe_error(err).split(": ", 1)[1]) from None
    try:
        return ServiceSpec(**{**spec.model_dump(), "functions": [f.model_dump() for f in functions]})
    except ValidationError as err:
        raise SettingsError(f"{NAMESPACE}:functions: {describe_error(err)}") from None


def effective_auth(api: ApiSpec, settings: Settings) -> JwtAuth | None:
    """Stack config wins over the declaration, so one service can use per-stack issuers."""
    return settings.api_auth or api.auth


def effective_origins(api: ApiSpec, settings: Settings) -> tuple[str, ...]:
    return settings.allowed_origins or api.cors_origins
