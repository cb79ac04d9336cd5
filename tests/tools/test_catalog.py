"""catalog.yaml: parsing, every error at once with file + key path, and the check against the warehouse schema."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import EXAMPLE
from tools.catalog import Catalog, CatalogError, check_against_schema, load_catalog, parse_catalog

SPEC_CATALOG = """\
dialect: duckdb
grain: hour

metrics:
  consent_reject_rate:
    description: Share of consent prompts answered "reject all".
    table: consent_events
    timestamp: event_time
    value: "avg(case when choice = 'reject_all' then 1.0 else 0.0 end)"
    unit: user_id
    affected_when: "choice = 'reject_all'"
    dimensions: [platform, region, app_version]
    higher_is_worse: true
  prompts_shown:
    table: consent_events
    timestamp: event_time
    value: "count(*)"
    dimensions: []

changes:
  deployments:
    table: deployments
    id: deploy_id
    timestamp: deployed_at
    description: summary
    scope: [platform, region]

experiments:
  assignments:
    table: experiment_assignments
    id: experiment_id
    unit: user_id
    arm: arm
    control: control
    started: assigned_at

graph:
  - [prompts_shown, consent_reject_rate]

pii:
  consent_events: [device_id, ip_address]
"""

SPEC_SCHEMA = {
    "consent_events": {c: "VARCHAR" for c in ("event_time", "user_id", "choice", "platform", "region", "app_version",
                                              "device_id", "ip_address")},
    "deployments": {c: "VARCHAR" for c in ("deploy_id", "deployed_at", "summary", "platform", "region")},
    "experiment_assignments": {c: "VARCHAR" for c in ("experiment_id", "user_id", "arm", "assigned_at")},
}


def _errors(raw: object) -> list[str]:
    with pytest.raises(CatalogError) as info:
        parse_catalog(raw, source="ws/catalog.yaml")
    assert info.value.path == "ws/catalog.yaml"
    return info.value.errors


def test_spec_catalog_parses_exactly_as_written(tmp_path: Path):
    path = tmp_path / "catalog.yaml"
    path.write_text(SPEC_CATALOG)
    cat = load_catalog(path)
    m = cat.metrics["consent_reject_rate"]
    assert (m.name, m.table, m.timestamp, m.unit) == ("consent_reject_rate", "consent_events", "event_time", "user_id")
    assert m.dimensions == ["platform", "region", "app_version"] and m.higher_is_worse is True
    assert cat.metrics["prompts_shown"].unit is None and cat.metrics["prompts_shown"].higher_is_worse is True
    deployments = cat.changes["deployments"]
    assert deployments.name == "deployments" and deployments.scope == ["platform", "region"]
    assert cat.experiments["assignments"].control == "control"
    assert cat.graph == [("prompts_shown", "consent_reject_rate")]
    assert cat.pii == {"consent_events": ["device_id", "ip_address"]}
    assert cat.timestamp_columns() == {"consent_events": {"event_time"}, "deployments": {"deployed_at"},
                                       "experiment_assignments": {"assigned_at"}}
    check_against_schema(cat, SPEC_SCHEMA)  # every table and column exists: no error


def test_example_scenario_catalog_loads():
    cat = load_catalog(EXAMPLE / "catalog.yaml")
    assert list(cat.metrics) == ["age_gate_skip_rate"]
    assert cat.changes["config"].scope == ["platform", "region"]
    assert cat.experiments == {} and cat.graph == [] and cat.pii == {"signups": ["user_id"]}


def test_optional_sections_may_be_empty_or_null():
    cat = parse_catalog({"metrics": {"m": {"table": "t", "timestamp": "ts", "value": "count(*)"}},
                         "changes": None, "experiments": None, "graph": None, "pii": None})
    assert cat.changes == {} and cat.experiments == {} and cat.graph == [] and cat.pii == {}
    assert cat.dialect == "duckdb" and cat.grain == "hour"


def test_every_field_error_is_reported_at_once_with_its_key_path():
    errors = _errors({
        "dialect": "nosuchsql", "grain": "week",
        "metrics": {"x": {"table": "t", "value": "count(*)", "dimensions": "platform"},
                    "y": {"table": 5, "timestamp": "ts", "value": "1", "higher_is_worse": "maybe"}},
        "changes": {"deploys": {"table": "d"}},
    })
    text = "\n".join(errors)
    assert len(errors) >= 8, text
    expected = {
        "dialect": "sqlglot dialect", "grain": "'minute', 'hour' or 'day'", "metrics.x.timestamp": "required",
        "metrics.x.dimensions": "list", "metrics.y.table": "string", "metrics.y.higher_is_worse": "boolean",
        "changes.deploys.id": "required", "changes.deploys.timestamp": "required",
    }
    for key, what in expected.items():
        assert any(e.startswith(f"{key}:") and what in e for e in errors), f"{key} / {what} not in:\n{text}"
    # the offending value is quoted so the responder sees what was written
    assert any("'week'" in e for e in errors) and any("'nosuchsql'" in e for e in errors)


def test_error_message_names_file_key_and_expectation(tmp_path: Path):
    path = tmp_path / "catalog.yaml"
    path.write_text("metrics:\n  x:\n    table: t\n    value: count(*)\n")
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    message = str(info.value)
    assert str(path) in message and "metrics.x.timestamp" in message and "required" in message.lower()
    assert info.value.errors == ["metrics.x.timestamp: Field required"]


def test_graph_must_name_defined_metrics():
    errors = _errors({"metrics": {"a": {"table": "t", "timestamp": "ts", "value": "1"}},
                      "graph": [["a", "ghost"], ["phantom", "a"]]})
    assert len(errors) == 1
    assert "graph" in errors[0] and "ghost" in errors[0] and "phantom" in errors[0]


def test_graph_edges_are_pairs():
    errors = _errors({"metrics": {"a": {"table": "t", "timestamp": "ts", "value": "1"}}, "graph": [["a", "a", "a"]]})
    assert errors and errors[0].startswith("graph.0:")


@pytest.mark.parametrize("raw, expected", [
    ([1, 2], "(top level): expected a mapping"),
    ("just text", "(top level): expected a mapping"),
    ({}, "metrics: Field required"),
])
def test_top_level_must_be_a_mapping_with_metrics(raw: object, expected: str):
    errors = _errors(raw)
    assert any(e.startswith(expected) for e in errors), errors


def test_missing_file_and_bad_yaml(tmp_path: Path):
    with pytest.raises(CatalogError) as info:
        load_catalog(tmp_path / "catalog.yaml")
    assert info.value.errors == ["file not found"] and "catalog.yaml" in info.value.path
    bad = tmp_path / "bad.yaml"
    bad.write_text("metrics:\n  x: [unclosed\n")
    with pytest.raises(CatalogError) as info:
        load_catalog(bad)
    assert len(info.value.errors) == 1 and info.value.errors[0].startswith("not valid YAML")
    assert "\n" not in info.value.errors[0]


def test_ancestors_nearest_first():
    m = {"table": "t", "timestamp": "ts", "value": "1"}
    cat = parse_catalog({"metrics": {k: m for k in "abcd"}, "graph": [["b", "a"], ["c", "b"], ["d", "c"], ["c", "a"]]})
    assert cat.ancestors("a") == ["b", "c", "d"]
    assert cat.ancestors("d") == []


def _spec_catalog() -> Catalog:
    return parse_catalog(yaml.safe_load(SPEC_CATALOG))


def test_schema_check_names_every_missing_table_and_column():
    schema = {t: dict(cols) for t, cols in SPEC_SCHEMA.items()}
    del schema["consent_events"]["app_version"]      # a dimension
    del schema["consent_events"]["choice"]           # used inside the value SQL and affected_when
    del schema["consent_events"]["ip_address"]       # a PII column
    del schema["deployments"]["summary"]             # the optional description column
    schema["experiment_assignment"] = schema.pop("experiment_assignments")  # table renamed
    with pytest.raises(CatalogError) as info:
        check_against_schema(_spec_catalog(), schema, source="ws/catalog.yaml")
    errors = info.value.errors
    text = "\n".join(errors)
    assert any(e.startswith("metrics.consent_reject_rate.dimensions[2]:") and "'app_version'" in e
               and "'consent_events'" in e for e in errors), text
    assert any(e.startswith("metrics.consent_reject_rate.value:") and "'choice'" in e for e in errors), text
    assert any(e.startswith("metrics.consent_reject_rate.affected_when:") and "'choice'" in e for e in errors), text
    assert any(e.startswith("pii.consent_events[1]:") and "'ip_address'" in e for e in errors), text
    assert any(e.startswith("changes.deployments.description:") and "'summary'" in e for e in errors), text
    # a missing table names it and suggests the close name that exists
    assert any(e.startswith("experiments.assignments.table:") and "experiment_assignment" in e
               and "did you mean" in e for e in errors), text
    assert str(info.value).startswith("ws/catalog.yaml: ")


def test_schema_check_is_case_insensitive_and_suggests_close_columns():
    schema = {t: {c.upper(): ty for c, ty in cols.items()} for t, cols in SPEC_SCHEMA.items()}
    schema = {t.upper(): cols for t, cols in schema.items()}
    check_against_schema(_spec_catalog(), schema)
    schema["CONSENT_EVENTS"]["EVENT_TS"] = schema["CONSENT_EVENTS"].pop("EVENT_TIME")
    with pytest.raises(CatalogError) as info:
        check_against_schema(_spec_catalog(), schema)
    assert any(e.startswith("metrics.consent_reject_rate.timestamp:") and "'event_time'" in e
               for e in info.value.errors), info.value.errors


def test_schema_check_rejects_unparseable_metric_sql():
    raw = yaml.safe_load(SPEC_CATALOG)
    raw["metrics"]["consent_reject_rate"]["value"] = "avg(case when choice = then 1 end"
    with pytest.raises(CatalogError) as info:
        check_against_schema(parse_catalog(raw), SPEC_SCHEMA)
    assert any(e.startswith("metrics.consent_reject_rate.value:") and "SQL expression" in e
               for e in info.value.errors), info.value.errors
