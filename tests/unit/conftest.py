"""The unit tier: the whole app on in-memory parts and a fake endpoint, no server of any kind (seconds).

Every test under tests/unit is marked `unit` (`make test-fast` runs only these)."""

from __future__ import annotations

import pytest

from tests.support import AppFactory, FakeEndpoint


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/unit/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.unit)


@pytest.fixture
def endpoint():
    return FakeEndpoint()


@pytest.fixture
def unit_app(tmp_path, endpoint):
    """`unit_app(**settings_and_outside_systems)`: the app on local storage under tmp_path, in-process state,
    queue and limits, and the fake endpoint; no job workers unless `worker_threads` is given."""
    factory = AppFactory({"storage_dir": str(tmp_path / "storage"), "worker_threads": 0})

    def build(**kwargs):
        kwargs.setdefault("endpoint", endpoint)
        return factory(**kwargs)

    yield build
    factory.close()
