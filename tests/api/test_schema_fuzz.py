"""Schemathesis against the app's own OpenAPI schema: no generated request gets a 5xx.

Auth is disabled here (the auth matrix has its own tests) so generated requests reach the handlers.
A bounded number of examples per operation keeps it under a minute.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from api.main import create_app
from tests.api.postgres_server import postgres_server
from tests.api.service_helpers import settings_for
from tests.conftest import write_mini_scenario

MAX_EXAMPLES = 12


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def fuzz_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    root = write_mini_scenario(tmp_path_factory.mktemp("fuzz-ws") / "mini")
    with ExitStack() as stack:
        extra: dict[str, Any] = {}
        if request.param == "postgres":
            url = stack.enter_context(postgres_server())
            if url is None:
                pytest.skip("no Postgres server binaries usable on this machine")
            extra["app_db_url"] = url
        app = create_app(settings_for(root, tmp_path_factory.mktemp("fuzz-state"), auth_disabled=True, workers=1,
                                      rate_limit_per_minute=100_000, **extra))
        with TestClient(app):  # runs the lifespan: migrations, warm workspace, worker pool
            yield app


@pytest.fixture(scope="module")
def api_schema(fuzz_app: FastAPI) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)


def test_no_server_errors(api_schema: Any) -> None:
    """Every operation, up to MAX_EXAMPLES generated requests each (positive and negative data)."""
    failures: list[str] = []
    seen: Counter[int] = Counter()
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 20
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                  derandomize=True, database=None)
        def run(case: Any) -> None:
            response = case.call()
            seen[response.status_code // 100 * 100] += 1
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: "
                                f"{response.text[:300]}")

        run()
    assert not failures, "\n".join(failures[:20])
    assert seen[200] > 50 and seen[400] > 100, seen  # it reached handlers and was refused with 4xx too
