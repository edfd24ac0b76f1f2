"""The example rendered: `example_dev`, `example_gcp_dev`, `example_azure_dev` and
`example_azure_prod` are app.py's service on those configs (the framework's fixtures render the
reference test service)."""

from __future__ import annotations

import pytest

from app import SERVICE
from components.mock_engine import Rendering, render
from components.program import run
from tests.conftest import AZURE_DEV, AZURE_PROD, DEV, GCP_DEV


def render_example(config: dict[str, str], stack: str = "dev") -> Rendering:
    return render(lambda: run(SERVICE), config, ["anycloud:paymentApiKey"], project="anycloud", stack=stack)


@pytest.fixture(scope="session")
def example_dev() -> Rendering:
    return render_example(DEV)


@pytest.fixture(scope="session")
def example_gcp_dev() -> Rendering:
    return render_example(GCP_DEV)


@pytest.fixture(scope="session")
def example_azure_dev() -> Rendering:
    return render_example(AZURE_DEV)


@pytest.fixture(scope="session")
def example_azure_prod() -> Rendering:
    return render_example(AZURE_PROD, "prod")
