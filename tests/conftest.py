"""The mocks harness: render the program with stack config under the recording mock engine.

`render(...)` runs the real program (components.program.run) inside `pulumi.runtime.test`
with `preview=False`, so every Output resolves before it returns; tests then assert on the
recorded resource inputs, as the engine would receive them (camelCase names).
The service rendered is the framework's reference test service (tests/services), never the
example in app.py: the example's own tests are in tests/example.
Renders of the test services are cached per config: a render takes about a second.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pulumi
import pytest

# pytest imports this file as `conftest`, test modules as `tests.conftest`: the same module either
# way, or each name would keep its own render cache and render every config twice.
sys.modules.setdefault("tests.conftest", sys.modules[__name__])

# functions/ is the root of the function asset, as /var/task is on Lambda.
FUNCTIONS = Path(__file__).resolve().parent.parent / "functions"
sys.path.insert(0, str(FUNCTIONS))

from components.mock_engine import Recorded, Rendering, configure, render
from components.program import run
from tests.services import FUNCTIONS as SERVICE_FUNCTIONS
from tests.services import REFERENCE, SERVICES

# The test services' handlers, importable the way an adapter imports a handler.
sys.path.insert(1, str(SERVICE_FUNCTIONS))

SECRET_VALUE = "test-payment-key"
BASE = {"anycloud:cloud": "aws", "aws:region": "eu-west-1", "anycloud:paymentApiKey": SECRET_VALUE}
PROD = {
    **BASE,
    "anycloud:environment": "prod",
    "anycloud:allowedOrigins": json.dumps(["https://shop.example.com"]),
    "anycloud:apiAuth": json.dumps({"issuer": "https://auth.example.com/", "audience": ["orders-api"]}),
    "anycloud:alertEmail": "oncall@example.com",
    "anycloud:logRetentionDays": "365",
    "anycloud:functions": json.dumps({"create-order": {"warmInstances": 2}}),
}
DEV = {**BASE, "anycloud:environment": "dev", "anycloud:allowedOrigins": json.dumps(["http://localhost:3000"])}

GCP_BASE = {"anycloud:cloud": "gcp", "gcp:region": "europe-west1", "anycloud:paymentApiKey": SECRET_VALUE}
GCP_PROD = {**PROD, **GCP_BASE}
GCP_DEV = {**DEV, **GCP_BASE}

AZURE_BASE = {"anycloud:cloud": "azure", "azure-native:location": "westeurope", "anycloud:paymentApiKey": SECRET_VALUE}
AZURE_PROD = {**PROD, **AZURE_BASE}
AZURE_DEV = {**DEV, **AZURE_BASE, "anycloud:alertEmail": "dev-alerts@example.com"}

_cache: dict[str, Rendering] = {}


def program(spec=REFERENCE):
    """The Pulumi program for a test service: its handlers resolve under tests/services/functions."""
    return lambda: run(spec, SERVICE_FUNCTIONS)


def refused_before_registering(config: dict[str, str], error: type[Exception], spec=REFERENCE) -> Exception:
    """The error the program raises for `config` and `spec`, asserting that it registered nothing."""
    monitor = configure(config, ["anycloud:paymentApiKey"], "anycloud", "test")
    raised: list[Exception] = []

    @pulumi.runtime.test
    def body():
        with pytest.raises(error) as info:
            program(spec)()
        raised.append(info.value)

    body()
    assert monitor.recorded == []
    (found,) = raised
    return found


def render_config(config: dict[str, str], stack: str = "test", spec=REFERENCE) -> Rendering:
    """`spec` rendered with `config`; cached when it is one of the test services as declared."""
    key = json.dumps([config, stack, spec.name], sort_keys=True)
    if key in _cache and SERVICES.get(spec.name) is spec:
        return _cache[key]
    rendering = render(program(spec), config, ["anycloud:paymentApiKey"], project="anycloud", stack=stack)
    if SERVICES.get(spec.name) is spec:
        _cache[key] = rendering
    return rendering


@pytest.fixture(scope="session")
def dev() -> Rendering:
    return render_config(DEV, "dev")


@pytest.fixture(scope="session")
def prod() -> Rendering:
    return render_config(PROD, "prod")


@pytest.fixture(scope="session")
def gcp_prod() -> Rendering:
    return render_config(GCP_PROD, "prod")


@pytest.fixture(scope="session")
def gcp_dev() -> Rendering:
    return render_config(GCP_DEV, "dev")


@pytest.fixture(scope="session")
def azure_prod() -> Rendering:
    return render_config(AZURE_PROD, "prod")


@pytest.fixture(scope="session")
def azure_dev() -> Rendering:
    return render_config(AZURE_DEV, "dev")


@pytest.fixture(scope="session")
def no_cmk() -> Rendering:
    return render_config({**DEV, "anycloud:customerManagedKeys": "false"}, "dev")


def policy_of(resource: Recorded, prop: str = "policy") -> dict[str, Any]:
    return json.loads(resource.inputs[prop])
