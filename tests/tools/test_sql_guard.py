"""Tests for tools/sql_guard.py on real sqlglot and a real in-memory DuckDB.

The corpus (tests/tools/sql_guard_cases/{hostile,legit}.sql) is shared with bench/bench_guard.py.
Every hostile query must be refused with its expected rule; every legit query must be accepted, come
back with a forced literal LIMIT, and return the same rows on DuckDB as the original query.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Iterator
from typing import Any

import duckdb
import pydantic
import pytest
import sqlglot
from sqlglot import exp

from tests.tools.sql_guard_cases import (
    DUCKDB_SETUP,
    MAX_ROWS,
    PII,
    SCHEMA,
    Case,
    hostile_cases,
    legit_cases,
)
from tools.sql_guard import RULES, GuardPolicy, GuardResult, compile_policy, guard_sql

HOSTILE = hostile_cases()
LEGIT = legit_cases()


@pytest.fixture(autouse=True)
def _quiet_sqlglot() -> Iterator[None]:
    """sqlglot logs a warning for every statement it falls back to exp.Command on (LOAD, CALL...)."""
    logger = logging.getLogger("sqlglot")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)


@pytest.fixture(scope="module")
def policy() -> GuardPolicy:
    return GuardPolicy(read_dialect="duckdb", write_dialect="duckdb", schema=SCHEMA, pii=PII, max_rows=MAX_ROWS)


@pytest.fixture(scope="module")
def warehouse() -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(":memory:")
    con.execute("SET threads = 1")  # deterministic float sums for the before/after comparison
    con.execute(DUCKDB_SETUP)
    yield con
    con.close()


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    """Result rows as an order-free, float-tolerant multiset (column names are not compared)."""

    def cell(value: Any) -> Any:
        if isinstance(value, float):
            return None if math.isnan(value) else round(value, 9)
        if isinstance(value, list):
            return tuple(cell(v) for v in value)
        if isinstance(value, dict):
            return tuple(sorted((k, cell(v)) for k, v in value.items()))
        return value

    rows = [tuple(cell(v) for v in row) for row in con.execute(sql).fetchall()]
    return sorted(rows, key=repr)


def _limit_of(sql: str, dialect: str = "duckdb") -> int:
    tree = sqlglot.parse_one(sql, read=dialect)
    limit = tree.args.get("limit")
    count = limit.expression if isinstance(limit, exp.Limit) else limit.args.get("count")
    assert isinstance(count, exp.Literal) and not count.is_string, f"no literal LIMIT in {sql}"
    return int(count.this)


# ------------------------------------------------------------------------------------------------
# Corpus
# ------------------------------------------------------------------------------------------------


def test_corpus_is_big_enough_and_well_formed() -> None:
    assert len(HOSTILE) >= 150 and len(LEGIT) >= 150
    assert all(case.rule in RULES for case in HOSTILE), [c.id for c in HOSTILE if c.rule not in RULES]
    assert all(case.rule is None for case in LEGIT)
    # every rule that can be provoked from SQL text has hostile coverage
    assert {case.rule for case in HOSTILE} >= set(RULES) - {"transpile_error"}


@pytest.mark.parametrize("case", HOSTILE, ids=[c.id for c in HOSTILE])
def test_hostile_query_is_refused_with_its_rule(case: Case, policy: GuardPolicy) -> None:
    result = guard_sql(case.sql, policy=policy)
    assert not result.ok
    assert result.sql is None
    assert result.rule == case.rule, result.message
    assert result.message


@pytest.mark.parametrize("case", LEGIT, ids=[c.id for c in LEGIT])
def test_legit_query_passes_with_limit_and_same_rows(
    case: Case, policy: GuardPolicy, warehouse: duckdb.DuckDBPyConnection
) -> None:
    result = guard_sql(case.sql, policy=policy)
    assert result.ok, f"{result.rule}: {result.message}"
    assert result.rule is None and result.message is None and result.sql
    assert 0 <= _limit_of(result.sql) <= MAX_ROWS
    assert not any(token.comments for token in sqlglot.tokenize(result.sql, read="duckdb"))  # no comments
    assert _rows(warehouse, result.sql) == _rows(warehouse, case.sql)
    again = guard_sql(result.sql, policy=policy)  # the guard's own output is accepted as is
    assert again.ok, again.message


# ------------------------------------------------------------------------------------------------
# Messages name the culprit
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "rule", "fragments"),
    [
        ("SELECT * FROM consent_events", "pii_exposed", ["device_id", "consent_events"]),
        ("SELECT md5(ip_address) AS h FROM consent_events", "pii_exposed", ["'h'", "ip_address", "MD5"]),
        (
            "WITH a AS (SELECT ip_address AS x FROM consent_events) SELECT x FROM a",
            "pii_exposed",
            ["'x'", "consent_events.ip_address"],
        ),
        (
            "SELECT platform FROM consent_events UNION SELECT ip_address FROM consent_events",
            "pii_exposed",
            ["second branch", "UNION", "ip_address"],
        ),
        ("SELECT * FROM read_csv('/etc/passwd')", "forbidden_function", ["read_csv"]),
        ("SELECT frobnicate(platform) FROM consent_events", "forbidden_function", ["frobnicate", "allow-list"]),
        ("SELECT plaform FROM consent_events", "unknown_column", ["'plaform'", "Did you mean 'platform'"]),
        ("SELECT e.choise FROM consent_events AS e", "unknown_column", ["'choise'", "'choice'"]),
        (
            "WITH c AS (SELECT platform FROM consent_events) SELECT region FROM c",
            "unknown_column",
            ["'region'", "c: platform"],
        ),
        ("SELECT platform FROM consent_events JOIN deployments ON true", "unknown_column", ["ambiguous"]),
        ("SELECT count(*) FROM consent_event", "table_not_allowed", ["'consent_event'", "'consent_events'"]),
        ("SELECT * FROM information_schema.tables", "table_not_allowed", ["information_schema.tables"]),
        ("SELECT * FROM 'x.csv'", "file_access", ["x.csv"]),
        ("WITH g AS (DELETE FROM deployments RETURNING *) SELECT 1", "read_only", ["DELETE", "'g'"]),
        ("SELECT 1; DROP TABLE deployments", "single_statement", ["2", "DROP"]),
        ("SELECT 1 LIMIT (SELECT 2)", "limit_not_literal", ["LIMIT"]),
    ],
)
def test_message_names_what_failed(sql: str, rule: str, fragments: list[str], policy: GuardPolicy) -> None:
    result = guard_sql(sql, policy=policy)
    assert (result.ok, result.rule) == (False, rule), result.message
    for fragment in fragments:
        assert fragment in (result.message or ""), result.message


# ------------------------------------------------------------------------------------------------
# LIMIT forcing
# ------------------------------------------------------------------------------------------------


def _small(policy: GuardPolicy, max_rows: int = 50) -> GuardPolicy:
    return policy.model_copy(update={"max_rows": max_rows})


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT platform FROM consent_events", 50),
        ("SELECT platform FROM consent_events LIMIT 10", 10),
        ("SELECT platform FROM consent_events LIMIT 50", 50),
        ("SELECT platform FROM consent_events LIMIT 51", 50),
        ("SELECT platform FROM consent_events LIMIT 100000 OFFSET 3", 50),
        ("SELECT platform FROM consent_events UNION ALL SELECT platform FROM deployments", 50),
        ("SELECT platform FROM consent_events UNION SELECT region FROM deployments LIMIT 7", 7),
        ("WITH x AS (SELECT platform FROM consent_events LIMIT 500) SELECT platform FROM x", 50),
    ],
)
def test_limit_is_forced_on_the_outer_query(sql: str, expected: int, policy: GuardPolicy) -> None:
    result = guard_sql(sql, policy=_small(policy))
    assert result.ok, result.message
    assert _limit_of(result.sql or "") == expected


def test_limit_goes_on_the_set_operation_not_a_branch(policy: GuardPolicy) -> None:
    result = guard_sql("SELECT platform FROM consent_events UNION SELECT region FROM deployments", policy=policy)
    tree = sqlglot.parse_one(result.sql or "", read="duckdb")
    assert isinstance(tree, exp.Union)
    assert tree.args.get("limit") is not None
    assert tree.left.args.get("limit") is None and tree.right.args.get("limit") is None


def test_offset_and_inner_limits_are_kept(policy: GuardPolicy, warehouse: duckdb.DuckDBPyConnection) -> None:
    sql = "SELECT count(*) FROM (SELECT event_time FROM consent_events ORDER BY event_time LIMIT 30 OFFSET 5)"
    result = guard_sql(sql, policy=_small(policy, 1))
    assert result.ok, result.message
    assert warehouse.execute(result.sql).fetchall() == [(30,)]


def test_clamped_limit_returns_max_rows(policy: GuardPolicy, warehouse: duckdb.DuckDBPyConnection) -> None:
    result = guard_sql("SELECT event_time FROM consent_events ORDER BY event_time", policy=_small(policy, 25))
    assert result.ok
    assert len(warehouse.execute(result.sql).fetchall()) == 25


def test_fetch_first_is_clamped_not_replaced(policy: GuardPolicy) -> None:
    pg = policy.model_copy(update={"read_dialect": "postgres", "write_dialect": "postgres", "max_rows": 50})
    kept = guard_sql("SELECT platform FROM consent_events OFFSET 5 ROWS FETCH NEXT 3 ROWS ONLY", policy=pg)
    clamped = guard_sql("SELECT platform FROM consent_events FETCH FIRST 900 ROWS ONLY", policy=pg)
    assert _limit_of(kept.sql or "", "postgres") == 3
    assert _limit_of(clamped.sql or "", "postgres") == 50


# ------------------------------------------------------------------------------------------------
# PII rules beyond the corpus
# ------------------------------------------------------------------------------------------------


def test_unit_column_that_is_pii_may_be_counted_and_joined_but_not_returned(policy: GuardPolicy) -> None:
    counted = guard_sql(
        "SELECT a.arm, count(DISTINCT a.user_id) AS units FROM experiment_assignments AS a "
        "JOIN consent_events AS e ON e.user_id = a.user_id GROUP BY a.arm",
        policy=policy,
    )
    returned = guard_sql("SELECT a.user_id FROM experiment_assignments AS a", policy=policy)
    assert counted.ok, counted.message
    assert (returned.ok, returned.rule) == (False, "pii_exposed")


def test_pii_list_matches_case_insensitively(policy: GuardPolicy) -> None:
    shouting = policy.model_copy(update={"pii": {"CONSENT_EVENTS": ["IP_ADDRESS"]}})
    assert guard_sql("SELECT ip_address FROM consent_events", policy=shouting).rule == "pii_exposed"
    assert guard_sql("SELECT device_id FROM consent_events", policy=shouting).ok


def test_table_without_pii_may_be_selected_whole(policy: GuardPolicy) -> None:
    no_pii = policy.model_copy(update={"pii": {}})
    assert guard_sql("SELECT * FROM consent_events", policy=no_pii).ok
    assert guard_sql("SELECT * FROM consent_events", policy=policy).rule == "pii_exposed"


# ------------------------------------------------------------------------------------------------
# Inputs, dialects, policy
# ------------------------------------------------------------------------------------------------


def test_accepts_a_sqlglot_expression_and_leaves_it_untouched(policy: GuardPolicy) -> None:
    query = (
        exp.select("platform", "count(DISTINCT ip_address) AS ips")
        .from_("consent_events")
        .where("choice = 'reject_all'")
        .group_by("platform")
    )
    before = query.sql("duckdb")
    result = guard_sql(query, policy=policy)
    assert result.ok, result.message
    assert query.sql("duckdb") == before
    assert _limit_of(result.sql or "") == MAX_ROWS
    leaky = exp.select("ip_address").from_("consent_events")
    assert guard_sql(leaky, policy=policy).rule == "pii_exposed"
    assert guard_sql(exp.delete("deployments"), policy=policy).rule == "read_only"


@pytest.mark.parametrize(
    ("sql", "rule"),
    [
        ("SELECT pg_read_file('/etc/passwd')", "forbidden_function"),
        ("SELECT * FROM pg_ls_dir('/')", "forbidden_function"),
        ("SELECT current_setting('data_directory')", "forbidden_function"),
        ("SELECT set_config('search_path', 'x', false)", "forbidden_function"),
        ("SELECT * FROM dblink('host=x', 'select 1') AS t(a int)", "forbidden_function"),
        ("SELECT query_to_xml('select 1', true, true, '')", "forbidden_function"),
        ("COPY (SELECT 1) TO PROGRAM 'curl evil'", "read_only"),
        ("DO $$ BEGIN PERFORM 1; END $$", "read_only"),
        ("SELECT * FROM pg_catalog.pg_user", "table_not_allowed"),
        ('SELECT "IP_Address" FROM consent_events', "unknown_column"),  # case-sensitive when quoted
        ('SELECT "ip_address" FROM consent_events', "pii_exposed"),
        ("SELECT IP_ADDRESS FROM CONSENT_EVENTS", "pii_exposed"),  # unquoted folds to lower case
        ("SELECT ip_address::inet FROM consent_events", "pii_exposed"),
        ("SELECT platform FROM consent_events LIMIT ALL", "limit_not_literal"),
    ],
)
def test_postgres_dialect(sql: str, rule: str, policy: GuardPolicy) -> None:
    pg = policy.model_copy(update={"read_dialect": "postgres", "write_dialect": "postgres"})
    result = guard_sql(sql, policy=pg)
    assert (result.ok, result.rule) == (False, rule), result.message


@pytest.mark.parametrize("write_dialect", ["postgres", "trino", "snowflake"])
def test_transpiles_to_the_warehouse_dialect(write_dialect: str, policy: GuardPolicy) -> None:
    target = policy.model_copy(update={"write_dialect": write_dialect})
    sql = (
        "SELECT date_trunc('hour', event_time) AS bucket, platform, count(DISTINCT user_id) AS users "
        "FROM consent_events WHERE event_time >= TIMESTAMP '2026-03-14 09:00:00' - INTERVAL 15 HOUR "
        "GROUP BY 1, 2 ORDER BY 1"
    )
    result = guard_sql(sql, policy=target)
    assert result.ok, result.message
    parsed = sqlglot.parse_one(result.sql or "", read=write_dialect)  # valid in the target dialect
    assert isinstance(parsed, exp.Select)
    assert _limit_of(result.sql or "", write_dialect) == MAX_ROWS


def test_untranslatable_query_is_refused(policy: GuardPolicy) -> None:
    pg = policy.model_copy(update={"write_dialect": "postgres"})
    result = guard_sql("SELECT platform, any_value(region) FROM consent_events GROUP BY platform", policy=pg)
    assert (result.ok, result.rule) == (False, "transpile_error")
    assert "postgres" in (result.message or "")


def test_policy_is_frozen_hashable_and_compiled_once(policy: GuardPolicy) -> None:
    reordered = GuardPolicy(
        read_dialect="duckdb",
        write_dialect="duckdb",
        schema=dict(reversed(list(SCHEMA.items()))),
        pii=dict(reversed(list(PII.items()))),
        max_rows=MAX_ROWS,
    )
    assert reordered == policy and hash(reordered) == hash(policy)
    assert compile_policy(policy) is compile_policy(policy)
    assert hash(_small(policy)) != hash(policy)
    with pytest.raises(pydantic.ValidationError):
        policy.max_rows = 5  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError, match="unknown sqlglot dialect"):
        GuardPolicy(read_dialect="no_such_sql", write_dialect="duckdb", schema=SCHEMA)
    with pytest.raises(pydantic.ValidationError):
        GuardPolicy(read_dialect="duckdb", write_dialect="duckdb", schema=SCHEMA, max_rows=0)


def test_catalog_names_in_any_case_resolve(policy: GuardPolicy) -> None:
    upper = GuardPolicy(
        read_dialect="duckdb",
        write_dialect="duckdb",
        schema={"Consent_Events": {"Platform": "VARCHAR", "IP_Address": "VARCHAR"}},
        pii={"Consent_Events": ["IP_Address"]},
    )
    assert guard_sql("SELECT platform, count(*) FROM consent_events GROUP BY 1", policy=upper).ok
    assert guard_sql("SELECT ip_address FROM CONSENT_EVENTS", policy=upper).rule == "pii_exposed"


def test_degenerate_catalogs_do_not_crash() -> None:
    empty = GuardPolicy(read_dialect="duckdb", write_dialect="duckdb", schema={})
    assert guard_sql("SELECT 1 AS x", policy=empty).ok
    assert guard_sql("SELECT count(*) FROM t", policy=empty).rule == "table_not_allowed"
    no_columns = GuardPolicy(read_dialect="duckdb", write_dialect="duckdb", schema={"t": {}, "u": {"a": "INT"}})
    assert guard_sql("SELECT count(*) AS n FROM t", policy=no_columns).ok
    assert guard_sql("SELECT a FROM u", policy=no_columns).ok


def test_mutated_queries_never_crash_and_fail_closed(policy: GuardPolicy) -> None:
    """Token-level mutations of the corpus (seeded): the guard always answers with a known rule, and
    whatever it accepts is one statement with a forced LIMIT."""
    rng = random.Random(20260314)
    words = (
        "SELECT FROM WHERE GROUP BY ORDER LIMIT UNION ALL WITH AS ( ) , ; * ' \" -- /* */ ip_address "
        "device_id platform consent_events e.ip_address count( max( 1 'x' = AND OR NOT NULL JOIN ON LATERAL "
        "unnest( DISTINCT EXCLUDE {'a': } [ ] :: . CASE WHEN THEN ELSE END OVER PARTITION QUALIFY ? $1"
    ).split()
    corpus = [case.sql for case in HOSTILE + LEGIT]
    for _ in range(600):
        tokens = rng.choice(corpus).split()
        for _ in range(rng.randint(1, 3)):
            if tokens:
                i = rng.randrange(len(tokens))
                roll = rng.random()
                if roll < 0.33:
                    del tokens[i]
                elif roll < 0.66:
                    tokens.insert(i, rng.choice(words))
                else:
                    tokens[i] = rng.choice(words)
        result = guard_sql(" ".join(tokens), policy=policy)
        if result.ok:
            toks = sqlglot.tokenize(result.sql or "", read="duckdb")
            assert not any(t.token_type == sqlglot.TokenType.SEMICOLON for t in toks), result.sql
            assert "LIMIT" in (result.sql or "") or "FETCH" in (result.sql or "")
        else:
            assert result.rule in RULES and result.message


def test_result_model_round_trips() -> None:
    result = GuardResult(ok=False, sql=None, rule="read_only", message="only SELECT")
    assert GuardResult.model_validate_json(result.model_dump_json()) == result
