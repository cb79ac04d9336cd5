"""Shared SQL-guard corpus: the schema, the PII list and the hostile / legit query files.

Used by tests/tools/test_sql_guard.py and bench/bench_guard.py so both run the same queries.

File format (``*.sql`` beside this file): each case starts with a header line
``-- @case <id> [<expected rule>]`` and runs until the next header. Everything else, including
other comments and semicolons, is part of the query text (hostile cases use both on purpose), except
``-- =====`` section separators.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

HERE = Path(__file__).parent

SCHEMA: dict[str, dict[str, str]] = {
    "consent_events": {
        "event_time": "TIMESTAMP",
        "user_id": "VARCHAR",
        "device_id": "VARCHAR",
        "ip_address": "VARCHAR",
        "platform": "VARCHAR",
        "region": "VARCHAR",
        "app_version": "VARCHAR",
        "choice": "VARCHAR",
    },
    "deployments": {
        "deploy_id": "VARCHAR",
        "deployed_at": "TIMESTAMP",
        "platform": "VARCHAR",
        "region": "VARCHAR",
        "summary": "VARCHAR",
    },
    "experiment_assignments": {
        "experiment_id": "VARCHAR",
        "user_id": "VARCHAR",
        "arm": "VARCHAR",
        "assigned_at": "TIMESTAMP",
    },
}

PII: dict[str, list[str]] = {
    "consent_events": ["device_id", "ip_address"],
    "experiment_assignments": ["user_id"],
}

MAX_ROWS = 10_000

# Deterministic small warehouse for running the legit corpus on DuckDB (600 events, 6 deploys,
# 120 assignments). Pure SQL so it needs no data files.
DUCKDB_SETUP = """
CREATE TABLE consent_events AS
SELECT TIMESTAMP '2026-03-10 00:00:00' + to_minutes(i * 17) AS event_time,
       'u' || (i % 97) AS user_id,
       'd' || (i % 131) AS device_id,
       '10.0.' || (i % 7) || '.' || (i % 251) AS ip_address,
       (['android', 'ios', 'web'])[1 + i % 3] AS platform,
       (['EU', 'US', 'APAC'])[1 + (i // 3) % 3] AS region,
       (['31.1.4', '31.2.0', '32.0.1'])[1 + (i // 7) % 3] AS app_version,
       CASE WHEN (i * 7919) % 10 < 2 THEN 'reject_all'
            WHEN (i * 7919) % 10 < 7 THEN 'accept_all'
            ELSE 'custom' END AS choice
FROM range(600) AS t(i);
CREATE TABLE deployments AS
SELECT * FROM (VALUES
  ('deploy-1040', TIMESTAMP '2026-03-10 06:00:00', 'android', 'EU', 'consent sdk bump'),
  ('deploy-1041', TIMESTAMP '2026-03-10 20:30:00', 'ios', NULL, 'copy change on banner'),
  ('deploy-1042', TIMESTAMP '2026-03-11 09:15:00', '*', 'US', 'cdn config'),
  ('deploy-1043', TIMESTAMP '2026-03-12 02:00:00', 'android', '*', 'reject button moved'),
  ('deploy-1044', TIMESTAMP '2026-03-13 11:45:00', 'web', 'APAC', 'tracker allow-list'),
  ('deploy-1045', TIMESTAMP '2026-03-14 08:00:00', NULL, NULL, 'logging change')
) AS v(deploy_id, deployed_at, platform, region, summary);
CREATE TABLE experiment_assignments AS
SELECT CASE WHEN i < 60 THEN 'exp-banner' ELSE 'exp-copy' END AS experiment_id,
       'u' || (i % 97) AS user_id,
       CASE WHEN i % 2 = 0 THEN 'control' ELSE 'treatment' END AS arm,
       TIMESTAMP '2026-03-10 00:00:00' + to_minutes(i * 41) AS assigned_at
FROM range(120) AS t(i);
"""


class Case(NamedTuple):
    """One corpus query: its id, its SQL text and, for hostile cases, the rule it must fail."""

    id: str
    sql: str
    rule: str | None


_HEADER = re.compile(r"^-- @case (?P<id>[A-Za-z0-9_]+)(?: (?P<rule>[a-z_]+))?\s*$")
_SECTION = re.compile(r"^-- ={3,}")  # "-- ===== rule =====" separators belong to no case


def load_cases(name: str) -> list[Case]:
    """Read ``<name>.sql`` beside this file into cases, in file order; ids must be unique."""
    cases: list[Case] = []
    current: tuple[str, str | None] | None = None
    lines: list[str] = []

    def flush() -> None:
        if current is not None:
            text = "\n".join(lines).strip("\n")
            cases.append(Case(id=current[0], sql=text, rule=current[1]))

    for line in (HERE / f"{name}.sql").read_text(encoding="utf-8").splitlines():
        match = _HEADER.match(line)
        if match:
            flush()
            current = (match.group("id"), match.group("rule"))
            lines = []
        elif current is not None and not _SECTION.match(line):
            lines.append(line)
    flush()
    ids = [c.id for c in cases]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"{name}.sql: duplicate case ids {duplicates}")
    return cases


def hostile_cases() -> list[Case]:
    """Queries the guard must refuse, each with the rule it must report."""
    return load_cases("hostile")


def legit_cases() -> list[Case]:
    """Realistic analytic queries the guard must accept unchanged in meaning."""
    return load_cases("legit")
