"""What `anycloud dev` and `anycloud invoke` run: the service declaration and the stack's config,
read and checked as `anycloud check` reads them, without the Pulumi SDK.

The same files (`--dir`, `--service module:ATTRIBUTE`, `--functions`, `Pulumi.yaml` overlaid
with `Pulumi.<stack>.yaml` by components/stackfile.py) and the same checks, so a stack that
`check` refuses is refused here with the same line: unknown config keys and a stack named for
another environment (components/config_keys.py), every `anycloud:*` value
(components/settings.read_settings), the per-function overrides, every handler resolved from
its source (components/handlers.py). A declared secret missing from the stack file stands in
as `check` does; its value comes from components/dev/secrets.py.

`load(fresh=True)` imports the declaration again (the reload after an edit): the declaration's
module and the project's modules it may import are dropped from `sys.modules` first.
"""

from __future__ import annotations

import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from components.config_keys import PROVIDERS, check_environment, check_keys
from components.declaration import PROJECT_DIR, load_service
from components.handlers import check_handlers
from components.settings import NAMESPACE, Settings, SettingsError, apply_overrides, effective_auth, effective_origins, read_settings
from components.spec import JwtAuth, ServiceSpec, SpecError, describe_error
from components.stackfile import SECRET_PLACEHOLDER, StackConfig, StackFileError, load_stack

#: The folder of the local stores, under the project (gitignored: components/dev/store.py).
STORE_DIR = ".anycloud"
#: Packages of the framework itself: never re-imported, whatever folder they are in.
FRAMEWORK = ("components", "policy", "runtime")


class DevError(Exception):
    """Input `anycloud dev` can't run; the message is one line naming what to fix."""


#: Everything that is one line naming what to fix, however it was found.
BAD_INPUT = (DevError, SettingsError, SpecError, StackFileError)


@dataclass(frozen=True)
class Loaded:
    """One reading of the declaration and the stack: what the service runs until the next."""

    spec: ServiceSpec
    settings: Settings
    stack: StackConfig

    @property
    def auth(self) -> JwtAuth | None:
        """The JWT the non-public routes require, as deployed (None: they are open, as on a dev stack)."""
        return effective_auth(self.spec.api, self.settings) if self.spec.api else None

    @property
    def origins(self) -> tuple[str, ...]:
        return effective_origins(self.spec.api, self.settings) if self.spec.api else ()


class _Config:
    """The stack's `anycloud:*` values as settings.read_settings reads them (pulumi.Config's `get`)."""

    def __init__(self, config: dict[str, str]):
        self._config = config

    def get(self, key: str) -> str | None:
        return self._config.get(f"{NAMESPACE}:{key}")


@dataclass(frozen=True)
class Project:
    """A project folder, its stack and where its declaration and handlers are."""

    dir: Path = PROJECT_DIR
    stack: str = "dev"
    service: str = "app:SERVICE"
    functions: Path | None = None

    @property
    def functions_dir(self) -> Path:
        return (self.functions or self.dir / "functions").resolve()

    @property
    def store_path(self) -> Path:
        return self.dir.resolve() / STORE_DIR / f"{self.stack}.sqlite"

    @property
    def module(self) -> str:
        return self.service.partition(":")[0]

    def stack_files(self) -> list[Path]:
        return [self.dir.resolve() / "Pulumi.yaml", self.dir.resolve() / f"Pulumi.{self.stack}.yaml"]

    def load(self, *, fresh: bool = False) -> Loaded:
        """Read and check everything; DevError (or the check's own errors) with one line otherwise."""
        stack = load_stack(self.dir, self.stack)
        spec = self._declaration(fresh)
        if not self.functions_dir.is_dir():
            raise SpecError(f"--functions {self.functions or self.dir / 'functions'}: not a directory; allowed: the "
                            "folder the handlers' modules are in (default: <--dir>/functions)")
        config = dict(stack.config)
        stood_in = set()
        for secret in spec.secrets:
            key = f"{NAMESPACE}:{secret.config_key}"
            if key not in config:  # as `check` does: the value itself comes from components/dev/secrets.py
                config[key] = SECRET_PLACEHOLDER
                stood_in.add(key)
        cloud = config.get(f"{NAMESPACE}:cloud")
        check_keys(config, cloud if cloud in PROVIDERS else None, [s.config_key for s in spec.secrets])
        environment = config.get(f"{NAMESPACE}:environment")
        if environment in (None, "dev", "prod"):
            check_environment(self.stack, environment or "dev", explicit=environment is not None)
        secret_keys = set(stack.secret_keys) | stood_in
        settings = read_settings(_Config(config), spec, project=stack.project, stack=self.stack,
                                 is_secret=secret_keys.__contains__)
        spec = apply_overrides(spec, settings)
        check_handlers(spec, self.functions_dir)
        return Loaded(spec, settings, stack)

    def _declaration(self, fresh: bool) -> ServiceSpec:
        if fresh:
            forget_modules(self.declaration_modules())
        try:
            spec = load_service(self.service, self.dir.resolve())
        except ValidationError as err:
            raise DevError(f"--service {self.service}: the declaration is invalid: {describe_error(err)}") from None
        except SpecError:
            raise
        except SyntaxError as err:
            raise DevError(f"--service {self.service}: {shown(err.filename, self.dir.resolve())} line {err.lineno}: "
                           f"{err.msg}; allowed: valid Python") from None
        except ModuleNotFoundError as err:
            raise DevError(f"--service {self.service}: no module {err.name} (looked in {self.dir.resolve()} and on "
                           "the path); allowed: module:ATTRIBUTE of the declared ServiceSpec") from None
        except AttributeError:
            raise DevError(f"--service {self.service}: {self.module} has no {self.service.partition(':')[2] or 'SERVICE'}"
                           "; allowed: module:ATTRIBUTE of the declared ServiceSpec") from None
        except Exception as err:  # the declaration's own code failed: say where
            raise DevError(f"--service {self.service}: importing {self.module} raised {raised(err, self.dir.resolve())}") from None
        if not isinstance(spec, ServiceSpec):
            raise DevError(f"--service {self.service}: is a {type(spec).__name__}, not a ServiceSpec")
        return spec

    def declaration_modules(self) -> list[str]:
        """The declaration's module, its submodules, and the project's own modules outside the
        functions folder and the framework: what an edit of the declaration may have changed."""
        root, functions = self.dir.resolve(), self.functions_dir
        return [name for name, module in list(sys.modules.items())
                if name == self.module or name.startswith(self.module + ".")
                or (imported_from(name, module, root) and not imported_from(name, module, functions))]

    def handler_modules(self) -> list[str]:
        """The handlers' modules (imported from the functions folder; the runtime excepted)."""
        return [name for name, module in list(sys.modules.items()) if imported_from(name, module, self.functions_dir)]


def imported_from(name: str, module: object, root: Path) -> bool:
    """Whether `module` was imported from `root` itself (`root/pkg/...` for `pkg.x`), not from a
    folder below it on the path (a virtualenv in the project holds every library), nor the framework."""
    top = name.split(".")[0]
    path = module_path(module)
    if top in FRAMEWORK or path is None or not path.is_relative_to(root):
        return False
    first = path.relative_to(root).parts[0]
    return first in (top, f"{top}.py") or first.startswith(f"{top}.")


def module_path(module: object) -> Path | None:
    file = getattr(module, "__file__", None)
    try:
        return Path(file).resolve() if file else None
    except (OSError, TypeError):
        return None


def forget_modules(names: list[str]) -> None:
    """Drop `names` from `sys.modules`, so the next import reads their source again."""
    for name in names:
        sys.modules.pop(name, None)


def shown(filename: str | None, root: Path) -> str:
    """`filename` relative to `root` when it is under it."""
    path = Path(filename or "?")
    return str(path.relative_to(root)) if path.is_absolute() and path.is_relative_to(root) else str(path)


def raised(err: BaseException, root: Path) -> str:
    """`Type: text (file line N)` of an exception, at the deepest frame in `root` (the project's code)."""
    where = ""
    for frame in traceback.extract_tb(err.__traceback__):
        path = Path(frame.filename)
        if path.is_absolute() and path.is_relative_to(root):
            where = f" ({path.relative_to(root)} line {frame.lineno})"
    text = str(err).splitlines()[0] if str(err) else ""
    return f"{type(err).__name__}{': ' + text if text else ''}{where}"
