"""The scenario generator: every family writes a loadable scenario whose truth matches its data.

One small scenario per family is generated once per module (a few seconds in all); the tests read the
written files back with DuckDB, the way an engine would.
"""

from __future__ import annotations

import inspect
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from evals.generator import FAMILIES, build, generate
from evals.generator.bundle import connect, write_bundle
from evals.generator.common import PLATFORMS, REGIONS, family_rng, segment_id, to_frame
from evals.generator.texts import CHANGE_TEXTS
from evals.suite import ScenarioSpec, suite_specs
from tools.catalog import check_against_schema, load_catalog
from tools.warehouse import DuckDBWarehouse

SEED = 3
FORBIDDEN = re.compile(r"\b(bug|leak\w*|cause[sd]?|root|regress\w*|incident|broke\w*|culprit|revert\w*|"
                       r"rollback|hotfix|raw ip|pii|bad|wrong)\b", re.IGNORECASE)
CHANGE_ID = re.compile(r"^(deploy-\d{4}|cfg-\d{5}|flip-\d{4})$")


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("scenarios")
    return {f: generate(f, seed=SEED, size="small", out=root / f) for f in FAMILIES}


@pytest.fixture(scope="module")
def cons(scenarios: dict[str, Path]) -> Any:
    """One DuckDB connection per scenario, opened on first use and shared by the tests."""
    opened: dict[str, Any] = {}

    def get(family: str) -> Any:
        if family not in opened:
            catalog = yaml.safe_load((scenarios[family] / "catalog.yaml").read_text())
            opened[family] = connect(scenarios[family], catalog)
        return opened[family]

    yield get
    for con in opened.values():
        con.close()


def truth_metric(path: Path) -> str:
    return json.loads((path / "incident.json").read_text())["metric"]


def _read(path: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    catalog = yaml.safe_load((path / "catalog.yaml").read_text())
    return catalog, json.loads((path / "incident.json").read_text()), json.loads((path / "truth.json").read_text())


def _ts(iso: str) -> str:
    return iso.replace("T", " ").replace("Z", "")


def _changes(con: Any, catalog: dict[str, Any]) -> list[dict[str, Any]]:
    """Every change row as {id, ts, summary, scope}; NULL or '*' in a scope column = all values."""
    rows = []
    for src in catalog["changes"].values():
        cols = ", ".join([src["id"], src["timestamp"], src["description"], *src["scope"]])
        for r in con.execute(f"SELECT {cols} FROM {src['table']}").fetchall():
            scope = {d: v for d, v in zip(src["scope"], r[3:], strict=True) if v not in (None, "*")}
            rows.append({"id": r[0], "ts": r[1], "summary": r[2], "scope": scope})
    return rows


def _rate(con: Any, metric: dict[str, Any], where: str) -> tuple[float, int]:
    value, n = con.execute(f"SELECT {metric['value']}, count(*) FROM {metric['table']} WHERE {where}").fetchone()
    return float(value if value is not None else math.nan), int(n)


def _seasonal_diff(con: Any, metric: dict[str, Any], reach: str, start: str, end: str) -> tuple[float, float]:
    """Rate in ``reach`` during [start, end) minus the same clock hours on earlier days, and its std error."""
    ts = metric["timestamp"]
    length = f"(epoch(TIMESTAMP '{end}') - epoch(TIMESTAMP '{start}'))"
    offset = f"(epoch({ts}) - epoch(TIMESTAMP '{start}'))"
    post, n = _rate(con, metric, f"{reach} AND {ts} >= TIMESTAMP '{start}' AND {ts} < TIMESTAMP '{end}'")
    pre, _ = _rate(con, metric, f"{reach} AND {ts} < TIMESTAMP '{start}' AND "
                                f"({offset} % 86400 + 86400) % 86400 < {length}")
    return post - pre, math.sqrt(max(pre * (1 - pre), 1e-6) / max(n, 1))


# ---------------------------------------------------------------------------------------------------------
# loads like a scenario


def test_every_family_is_registered() -> None:
    assert set(FAMILIES) == {
        "pii_leak_deploy", "overlapping_changes", "experiment_guardrail", "graph_mediator", "seasonal_decoy",
        "external_surge", "delayed_config", "null_incident", "metric_drop", "graph_period_shift",
        "graph_last_bucket"}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_catalog_names_only_existing_tables_and_columns(scenarios: dict[str, Path], cons: Any, family: str) -> None:
    path = scenarios[family]
    catalog, _, _ = _read(path)
    con = cons(family)
    schema: dict[str, set[str]] = {}
    for table, column in con.execute("SELECT table_name, column_name FROM information_schema.columns").fetchall():
        schema.setdefault(table, set()).add(column)
    assert {p.stem for p in (path / "data").iterdir()} == set(schema)
    for name, m in catalog["metrics"].items():
        cols = schema[m["table"]]
        assert {m["timestamp"], *m["dimensions"]} <= cols, name
        assert m.get("unit") is None or m["unit"] in cols
        assert con.execute(f"SELECT {m['value']} FROM {m['table']}").fetchone()[0] is not None
        if m.get("affected_when"):
            con.execute(f"SELECT count(*) FROM {m['table']} WHERE {m['affected_when']}").fetchone()
        kinds = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {m['table']})").fetchall())
        assert kinds[m["timestamp"]] == "TIMESTAMP"
    for src in catalog["changes"].values():
        assert {src["id"], src["timestamp"], src["description"], *src["scope"]} <= schema[src["table"]]
    for exp in catalog.get("experiments", {}).values():
        assert {exp["id"], exp["unit"], exp["arm"], exp["started"]} <= schema[exp["table"]]
    for table, cols in catalog["pii"].items():
        assert set(cols) <= schema[table]
    for up, down in catalog.get("graph", []):
        assert up in catalog["metrics"] and down in catalog["metrics"]


@pytest.mark.parametrize("family", list(FAMILIES))
def test_engine_loader_accepts_the_scenario(scenarios: dict[str, Path], family: str) -> None:
    """The engine's own catalog and warehouse loaders take the folder, and count the same affected units."""
    path = scenarios[family]
    catalog = load_catalog(path / "catalog.yaml")
    warehouse = DuckDBWarehouse.from_folder(path / "data", timestamp_columns=catalog.timestamp_columns())
    check_against_schema(catalog, warehouse.schema(), source=path / "catalog.yaml")
    truth = json.loads((path / "truth.json").read_text())
    rc = truth["root_cause"]
    if "affected_units" not in truth:
        return
    name = next(iter(catalog.metrics))
    m = catalog.metrics[name]
    where = [f"{m.timestamp} >= TIMESTAMP '{_ts(truth['window']['start'])}'",
             f"{m.timestamp} < TIMESTAMP '{_ts(truth['window']['end'])}'"]
    where += [f"{d} = '{v}'" for d, v in (truth.get("segment") or {}).items()]
    if m.affected_when:
        where.append(f"({m.affected_when})")
    if rc["kind"] == "experiment":
        e = next(iter(catalog.experiments.values()))
        where.append(f"{m.unit} IN (SELECT {e.unit} FROM {e.table} WHERE {e.id} = '{rc['id']}' "
                     f"AND {e.arm} <> '{e.control}')")
    got = warehouse.run(f"SELECT count(DISTINCT {m.unit}) FROM {m.table} WHERE {' AND '.join(where)}").rows
    assert got[0][0] == truth["affected_units"]


@pytest.mark.parametrize("family", list(FAMILIES))
def test_incident_has_required_keys_and_sane_times(scenarios: dict[str, Path], family: str) -> None:
    catalog, incident, truth = _read(scenarios[family])
    assert {"id", "title", "detected_at"} <= set(incident)
    assert incident["metric"] in catalog["metrics"]
    assert incident["detected_at"] > truth["onset"]
    if "window" in incident:
        # The last-bucket family's window is exactly the anomalous bucket: it starts at the onset.
        first = truth["onset"] <= incident["window"]["start"] if family == "graph_last_bucket" else (
            truth["onset"] < incident["window"]["start"])
        assert first and incident["window"]["start"] < incident["window"]["end"] <= incident["detected_at"]
        assert truth["window"] == incident["window"]
    for dim, value in incident.get("filters", {}).items():
        assert truth["segment"][dim] == value  # filters only ever narrow to the truth's own segment
    history = [json.loads(line) for line in (scenarios[family] / "history.jsonl").read_text().splitlines()]
    assert 5 <= len(history) <= 16
    assert all({"id", "title", "description", "opened_at", "root_cause"} <= set(h) for h in history)
    assert all(h["opened_at"] < incident["detected_at"] for h in history)
    assert len({h["id"] for h in history} | {incident["id"]}) == len(history) + 1
    assert set(truth.get("similar_incidents", [])) <= {h["id"] for h in history}


# ---------------------------------------------------------------------------------------------------------
# the truth matches the data


@pytest.mark.parametrize("family", list(FAMILIES))
def test_truth_names_something_that_exists(scenarios: dict[str, Path], cons: Any, family: str) -> None:
    catalog, _, truth = _read(scenarios[family])
    con = cons(family)
    rc = truth["root_cause"]
    assert truth["family"] == family
    if rc["kind"] == "change":
        assert rc["id"] in {c["id"] for c in _changes(con, catalog)}
    elif rc["kind"] == "experiment":
        e = catalog["experiments"]["assignments"]
        assert con.execute(f"SELECT count(*) FROM {e['table']} WHERE {e['id']} = ?", [rc["id"]]).fetchone()[0] > 0
    elif rc["kind"] == "upstream":
        assert rc["id"] in catalog["metrics"] and any(up == rc["id"] for up, _ in catalog["graph"])
    elif rc["kind"] == "segment":
        assert rc["id"] == segment_id(truth["segment"])
    else:
        assert rc == {"kind": "none", "id": None} and "affected_units" not in truth
    for dim, value in (truth.get("segment") or {}).items():
        assert value in {"platform": PLATFORMS, "region": REGIONS}[dim]
    if rc["kind"] != "none" and catalog["metrics"][truth_metric(scenarios[family])].get("unit"):
        assert truth["affected_units"] > 0
    else:  # spec section 2: a metric with no unit gets no impact sizing, so there is nothing to count
        assert "affected_units" not in truth


@pytest.mark.parametrize("family", ["pii_leak_deploy", "overlapping_changes", "seasonal_decoy", "external_surge",
                                    "delayed_config", "metric_drop"])
def test_effect_is_in_the_data_inside_the_reach(scenarios: dict[str, Path], cons: Any, family: str) -> None:
    """In the truth's segment, after the onset, the rate moved by about the injected effect (vs. the same
    hours on earlier days); outside the segment it did not."""
    catalog, _, truth = _read(scenarios[family])
    con = cons(family)
    metric = next(iter(catalog["metrics"].values()))
    seg = truth.get("segment") or {}
    reach = " AND ".join(f"{d} = '{v}'" for d, v in seg.items()) or "true"
    start, end, effect = _ts(truth["onset"]), _ts(truth["window"]["end"]), truth["effect"]
    diff, se = _seasonal_diff(con, metric, reach, start, end)
    assert np.sign(diff) == np.sign(effect) and abs(diff) > 3 * se
    assert abs(diff - effect) < 0.5 * abs(effect) + 3 * se
    if seg:
        outside, se_out = _seasonal_diff(con, metric, f"NOT ({reach})", start, end)
        assert abs(outside) < max(0.4 * abs(effect), 3 * se_out)


def test_experiment_moves_only_its_treatment_arm(scenarios: dict[str, Path], cons: Any) -> None:
    family = "experiment_guardrail"
    path = scenarios[family]
    catalog, _, truth = _read(path)
    con = cons(family)
    m = next(iter(catalog["metrics"].values()))
    rows = con.execute(f"""
        SELECT a.experiment_id = ? AS true_exp, a.arm <> 'control' AS treated, {m['value']}, count(*)
        FROM {m['table']} x JOIN experiment_assignments a
          ON a.user_id = x.user_id AND x.{m['timestamp']} >= a.assigned_at
        GROUP BY ALL""", [truth["root_cause"]["id"]]).fetchall()
    rate = {(t, tr): (v, n) for t, tr, v, n in rows}
    diff = rate[(True, True)][0] - rate[(True, False)][0]
    se = math.sqrt(rate[(True, False)][0] * (1 - rate[(True, False)][0]) / rate[(True, True)][1])
    assert abs(diff - truth["effect"]) < max(0.5 * abs(truth["effect"]), 3 * se)
    decoys = {k[0] for k in rate if not k[0]}
    assert decoys  # other experiments exist and run over the same period
    starts = con.execute("SELECT experiment_id, min(assigned_at) FROM experiment_assignments GROUP BY 1").fetchall()
    true_start = dict(starts)[truth["root_cause"]["id"]]
    assert sum(1 for _, s in starts if s.replace(minute=0, second=0) == true_start.replace(minute=0, second=0)) >= 2


def test_graph_upstream_shift_is_amplified_downstream(scenarios: dict[str, Path], cons: Any) -> None:
    family = "graph_mediator"
    path = scenarios[family]
    catalog, incident, truth = _read(path)
    con = cons(family)
    metrics = catalog["metrics"]
    shifted = truth["root_cause"]["id"]
    other = ({"moderation_queue_inflow", "reviewers_online"} - {shifted}).pop()
    cause_at, end = _ts(truth["cause_at"]), _ts(truth["window"]["end"])

    def rel_shift(name: str) -> float:
        m = metrics[name]
        def avg(where: str) -> float:
            return con.execute(f"SELECT avg(v) FROM (SELECT date_trunc('hour', {m['timestamp']}) h, {m['value']} v "
                               f"FROM {m['table']} WHERE {where} GROUP BY 1)").fetchone()[0]
        ts = m["timestamp"]
        post = avg(f"{ts} >= TIMESTAMP '{cause_at}' AND {ts} < TIMESTAMP '{end}'")
        offset = f"(epoch({ts}) - epoch(TIMESTAMP '{cause_at}'))"
        length = f"(epoch(TIMESTAMP '{end}') - epoch(TIMESTAMP '{cause_at}'))"
        pre = avg(f"{ts} < TIMESTAMP '{cause_at}' AND ({offset} % 86400 + 86400) % 86400 < {length}")
        return post / pre - 1

    effect = truth["params"]["effect"]
    assert np.sign(rel_shift(shifted)) == np.sign(effect) and abs(rel_shift(shifted)) > 0.5 * abs(effect)
    assert abs(rel_shift(other)) < 0.12
    assert rel_shift("moderation_backlog") > 2.0  # the mediator amplifies
    down = metrics[incident["metric"]]
    before, _ = _rate(con, down, f"{down['timestamp']} < TIMESTAMP '{cause_at}'")
    after, _ = _rate(con, down, f"{down['timestamp']} >= TIMESTAMP '{_ts(truth['window']['start'])}'")
    assert after > before + 0.1
    assert truth["onset"] >= truth["cause_at"]


def test_external_surge_starts_before_any_change_reaches_it(scenarios: dict[str, Path], cons: Any) -> None:
    family = "external_surge"
    path = scenarios[family]
    catalog, _, truth = _read(path)
    changes = _changes(cons(family), catalog)
    seg = truth["segment"]
    onset = _ts(truth["onset"])
    reaching = [c for c in changes if all(c["scope"].get(d, v) == v for d, v in seg.items())]
    assert reaching and all(str(c["ts"]) > onset for c in reaching)


def test_null_incident_has_candidates_but_no_effect(scenarios: dict[str, Path], cons: Any) -> None:
    family = "null_incident"
    path = scenarios[family]
    catalog, incident, truth = _read(path)
    con = cons(family)
    changes = _changes(con, catalog)
    onset = _ts(truth["onset"])
    assert any(str(c["ts"]) < onset for c in changes) and any(str(c["ts"]) > onset for c in changes)
    m = next(iter(catalog["metrics"].values()))
    blip_end = f"TIMESTAMP '{onset}' + INTERVAL {truth['params']['blip_buckets']} HOUR"
    after = con.execute(f"SELECT CAST({blip_end} AS VARCHAR)").fetchone()[0]
    diff, se = _seasonal_diff(con, m, "true", after, _ts(incident["detected_at"]))
    assert abs(diff) < 3.5 * se  # after the blip, the metric is back to its usual level


# ---------------------------------------------------------------------------------------------------------
# fair: deterministic, nothing gives the answer away


def test_same_seed_gives_identical_files(tmp_path: Path, scenarios: dict[str, Path]) -> None:
    family = "experiment_guardrail"
    again = generate(family, seed=SEED, size="small", out=tmp_path / "again")
    files = sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(scenarios[family]) for p in scenarios[family].rglob("*") if p.is_file())
    for rel in files:
        assert (again / rel).read_bytes() == (scenarios[family] / rel).read_bytes(), rel


@pytest.mark.parametrize("family", list(FAMILIES))
def test_same_seed_same_scenario_other_seed_other(family: str) -> None:
    first, second = build(family, seed=11, volume=0.3), build(family, seed=11, volume=0.3)
    assert (first.catalog, first.incident, first.history, first.truth) == (
        second.catalog, second.incident, second.history, second.truth)
    for name, table in first.tables.items():
        assert to_frame(table).equals(to_frame(second.tables[name])), name
    other = build(family, seed=12, volume=0.3)
    assert other.incident != first.incident


@pytest.mark.parametrize("family", ["pii_leak_deploy", "overlapping_changes", "seasonal_decoy", "delayed_config",
                                    "metric_drop", "external_surge", "graph_mediator", "null_incident"])
def test_change_log_does_not_give_the_answer_away(scenarios: dict[str, Path], cons: Any, family: str) -> None:
    path = scenarios[family]
    catalog, incident, truth = _read(path)
    changes = _changes(cons(family), catalog)
    assert len(changes) >= 5
    for c in changes:
        assert CHANGE_ID.match(c["id"]), c["id"]
        assert not FORBIDDEN.search(c["summary"]), c["summary"]
    if truth["root_cause"]["kind"] != "change":
        return
    true = next(c for c in changes if c["id"] == truth["root_cause"]["id"])
    text = true["summary"].split(" [")[0]
    pool = next(name for name, items in CHANGE_TEXTS.items()
                if any(text.startswith(f"{service}: {t.split('{')[0]}") for service, t in items) and name != "generic")
    same_pool = [c for c in changes if c is not true and any(
        c["summary"].startswith(f"{s}: {t.split('{')[0]}") for s, t in CHANGE_TEXTS[pool])]
    assert len(same_pool) >= 2  # decoys read as plausibly as the cause
    blob = (path / "incident.json").read_text() + (path / "history.jsonl").read_text()
    assert true["id"] not in blob
    assert true["summary"] not in json.dumps(incident)


def test_ids_are_not_ordered_by_truth(tmp_path: Path) -> None:
    """Across seeds the true change is not always the smallest or largest id (ids are random)."""
    ranks = []
    for seed in range(1, 7):
        bundle = build("pii_leak_deploy", seed=seed, size="small", volume=0.3)
        deploys = bundle.tables["deployments"]
        ids = sorted(int(i.split("-")[1]) for i in deploys["deploy_id"])
        ranks.append(ids.index(int(str(bundle.truth["root_cause"]["id"]).split("-")[1])))  # type: ignore[index]
    assert len(set(ranks)) > 1


# ---------------------------------------------------------------------------------------------------------
# formats, CLI, suite


def test_parquet_and_csv_give_the_same_truth(tmp_path: Path) -> None:
    bundle = build("experiment_guardrail", seed=5, size="small", volume=0.5)
    csv_dir = write_bundle(bundle, tmp_path / "csv", fmt="csv")
    pq_dir = write_bundle(bundle, tmp_path / "pq", fmt="parquet")
    assert {p.suffix for p in (pq_dir / "data").iterdir()} == {".parquet"}
    assert json.loads((csv_dir / "truth.json").read_text()) == json.loads((pq_dir / "truth.json").read_text())
    catalog = load_catalog(pq_dir / "catalog.yaml")
    warehouse = DuckDBWarehouse.from_folder(pq_dir / "data", timestamp_columns=catalog.timestamp_columns())
    check_against_schema(catalog, warehouse.schema())


def test_unknown_family_or_size_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown family"):
        generate("nope", seed=1, out=tmp_path)
    with pytest.raises(ValueError, match="unknown size"):
        generate("metric_drop", seed=1, size="huge", out=tmp_path)


def test_cli_writes_a_scenario_with_params(tmp_path: Path) -> None:
    from evals.generator.__main__ import main

    out = tmp_path / "cli"
    assert main(["--family", "metric_drop", "--seed", "2", "--out", str(out), "--param", "effect=-0.2",
                 "--param", 'scope={"region": "EU"}', "--param", "window=true"]) == 0
    truth = json.loads((out / "truth.json").read_text())
    assert truth["effect"] == -0.2 and truth["segment"] == {"region": "EU"}
    assert "window" in json.loads((out / "incident.json").read_text())


def test_suite_is_large_varied_and_valid() -> None:
    specs = suite_specs()
    assert len(specs) >= 60 and len({s.name for s in specs}) == len(specs)
    assert all(isinstance(s, ScenarioSpec) and s.size == "small" for s in specs)
    by_family: dict[str, int] = {}
    for s in specs:
        by_family[s.family] = by_family.get(s.family, 0) + 1
        inspect.signature(FAMILIES[s.family]).bind(family_rng(s.family, s.seed), size=s.size, **s.params)
    assert set(by_family) == set(FAMILIES) and min(by_family.values()) >= 6
    windows = sum(bool(s.params.get("window")) for s in specs) / len(specs)
    assert 0.35 <= windows <= 0.65
    assert 2 <= sum(bool(s.params.get("filters")) for s in specs) <= 12
    assert sum(s.params.get("grain", "hour") != "hour" for s in specs) >= 2
    effects = {(s.family, s.params.get("effect")) for s in specs}
    assert len(effects) > 30  # effect sizes vary within families
    assert all(s.size == "large" for s in suite_specs("large"))


def test_held_out_suite_has_the_same_variants_on_other_seeds() -> None:
    suite, held = suite_specs(), suite_specs(holdout=True)
    assert [(s.family, s.params) for s in held] == [(s.family, s.params) for s in suite]
    assert not {s.seed for s in held} & {s.seed for s in suite}
    assert not {s.name for s in held} & {s.name for s in suite}
    assert all(s.name.startswith(f"{s.family}-h") for s in held)
