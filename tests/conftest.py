"""Shared fixtures: the spec's example scenario (copied to a temp dir) and a tiny synthetic scenario.

The example lives in ``tests/fixtures/example-scenario`` (a copy of the spec's), so the tests do not depend
on anything outside the repository. Scenario folders are always copied before use: a test may edit its copy.
"""

from __future__ import annotations

import csv
import json
import random
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXAMPLE = FIXTURES / "example-scenario"

MINI_CATALOG = """\
dialect: duckdb
grain: hour
metrics:
  raw_ip_rate:
    description: Share of log rows holding a raw IP.
    table: logs
    timestamp: logged_at
    value: "avg(case when has_raw_ip then 1.0 else 0.0 end)"
    unit: user_id
    affected_when: has_raw_ip
    dimensions: [platform, region]
changes:
  deployments:
    table: deployments
    id: deploy_id
    timestamp: deployed_at
    description: summary
    scope: [platform, region]
pii:
  logs: [user_id, ip_address]
"""

MINI_START = datetime(2026, 3, 10)
MINI_CHANGE_AT = datetime(2026, 3, 12, 14, 0)
MINI_END = datetime(2026, 3, 13, 6, 0)
ROWS_PER_CELL = 20


def copy_scenario(src: Path, dest: Path) -> Path:
    """Copy a scenario folder and make the copy writable (the spec's originals are read-only)."""
    shutil.copytree(src, dest)
    for p in [dest, *dest.rglob("*")]:
        p.chmod(p.stat().st_mode | 0o200)
    return dest


def write_mini_scenario(root: Path, *, seed: int = 7) -> Path:
    """A small scenario: deploy d-2 (web, EU) raises the raw-IP rate from ~2% to ~30% in its scope only.

    Three days of hourly rows, 2 platforms x 2 regions, one decoy deploy elsewhere: cheap to investigate.
    """
    rng = random.Random(seed)
    (root / "data").mkdir(parents=True)
    (root / "catalog.yaml").write_text(MINI_CATALOG)
    rows = []
    t = MINI_START
    uid = 0
    while t < MINI_END:
        for platform in ("web", "ios"):
            for region in ("EU", "NA"):
                for _ in range(ROWS_PER_CELL):
                    uid += 1
                    at = t + timedelta(seconds=rng.randrange(3600))
                    hit = platform == "web" and region == "EU" and at >= MINI_CHANGE_AT
                    p = 0.30 if hit else 0.02
                    rows.append([at.strftime("%Y-%m-%d %H:%M:%S"), f"usr{uid:05d}", f"10.0.{uid % 250}.{uid % 7}",
                                 platform, region, "4.12.1", rng.random() < p])
        t += timedelta(hours=1)
    with (root / "data" / "logs.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["logged_at", "user_id", "ip_address", "platform", "region", "app_version", "has_raw_ip"])
        w.writerows(rows)
    with (root / "data" / "deployments.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["deploy_id", "deployed_at", "platform", "region", "summary"])
        w.writerow(["d-1", "2026-03-11 09:00:00", "ios", "*", "iOS settings screen"])
        at = MINI_CHANGE_AT.strftime("%Y-%m-%dT%H:%M:%SZ")   # ISO with Z: converted like any UTC time
        w.writerow(["d-2", at, "web", "EU", "Web logger: new payload schema"])
    incident = {"id": "INC-MINI", "title": "Raw IPs in web logs", "description": "Privacy scanner alert.",
                "metric": "raw_ip_rate", "detected_at": "2026-03-13T02:00:00Z"}
    (root / "incident.json").write_text(json.dumps(incident))
    (root / "truth.json").write_text(json.dumps({"root_cause": {"kind": "change", "id": "d-2"},
                                                 "segment": {"platform": "web", "region": "EU"}}))
    return root


@pytest.fixture
def example_dir(tmp_path: Path) -> Path:
    """A writable copy of the spec's example scenario (one per test)."""
    return copy_scenario(EXAMPLE, tmp_path / "example")


@pytest.fixture
def mini_dir(tmp_path: Path) -> Path:
    """A writable tiny scenario (see ``write_mini_scenario``)."""
    return write_mini_scenario(tmp_path / "mini")


@pytest.fixture(scope="session")
def mini_ro(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One shared tiny scenario for tests that only read it."""
    return write_mini_scenario(tmp_path_factory.mktemp("mini-ro") / "mini")


_EXIT = {"status": 0}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _EXIT["status"] = int(exitstatus)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Leave without interpreter finalization: DuckDB 2.0's nanobind bindings print pages of "leaked instance"
    noise at exit, burying pytest's summary line. The summary is already printed; the exit status is kept."""
    import os
    import sys

    if os.environ.get("RCA_TEST_FAST_EXIT", "1") == "1":
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_EXIT["status"])
