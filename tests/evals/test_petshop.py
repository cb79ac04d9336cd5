"""evals.petshop: the converter writes a valid, leak-free scenario; the attribution runs on one issue."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml

from evals.petshop import (
    DATASET,
    component_ids,
    component_of,
    convert,
    load_scenario_inputs,
    rank_components,
    rank_components_from_report,
    upstream_ranker,
)
from tools.upstream import UpstreamResult, UpstreamScore

pytestmark = pytest.mark.skipif(not DATASET.is_dir(), reason=f"PetShop dataset not found at {DATASET}")

ISSUE = DATASET / "low_traffic" / "train" / "issue_4"  # availability, root cause PetSearch
LATENCY_ISSUE = DATASET / "high_traffic" / "test" / "issue_3"


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return convert(ISSUE, out=tmp_path_factory.mktemp("petshop") / "issue_4")


def test_layout_and_catalog_reference_existing_columns(scenario: Path) -> None:
    assert {p.name for p in scenario.iterdir()} == {"catalog.yaml", "data", "incident.json", "truth.json"}
    catalog = yaml.safe_load((scenario / "catalog.yaml").read_text())
    assert catalog["grain"] in {"minute", "hour", "day"}
    data = pd.read_csv(scenario / "data" / "metrics.csv")
    for name, m in catalog["metrics"].items():
        assert m["table"] == "metrics"
        assert m["timestamp"] in data.columns
        assert m["value"] == f"avg({name})" and name in data.columns
        assert name.isidentifier() and name == name.lower()
    nodes = {n for edge in catalog["graph"] for n in edge}
    assert nodes <= set(catalog["metrics"])
    assert ["petsearch_aws_ecs_fargate_availability", "petsite_availability"] in catalog["graph"]


def test_metric_sql_runs_in_duckdb(scenario: Path) -> None:
    catalog = yaml.safe_load((scenario / "catalog.yaml").read_text())
    con = duckdb.connect()
    path = str(scenario / "data" / "metrics.csv")
    con.execute("create table metrics as select * from read_csv_auto(?)", [path])
    assert con.execute("select typeof(ts) from metrics limit 1").fetchone()[0] == "TIMESTAMP"
    selects = ", ".join(m["value"] for m in catalog["metrics"].values())
    row = con.execute(f"select {selects} from metrics").fetchone()
    assert len(row) == len(catalog["metrics"])


def test_incident_window_and_truth(scenario: Path) -> None:
    incident = json.loads((scenario / "incident.json").read_text())
    truth = json.loads((scenario / "truth.json").read_text())
    catalog = yaml.safe_load((scenario / "catalog.yaml").read_text())
    assert {"id", "title", "detected_at"} <= set(incident)
    assert incident["metric"] == "petsite_availability"
    assert catalog["metrics"]["petsite_availability"]["higher_is_worse"] is False
    assert truth["root_cause"] == {"kind": "upstream", "id": "petsearch_aws_ecs_fargate_availability"}
    assert truth["component"] == "PetSearch_AWS::ECS::Fargate"
    series, graph, target, mask, direction = load_scenario_inputs(scenario)
    assert target == "petsite_availability" and direction == -1
    assert mask.sum() == 4 and mask[-4:].all()  # the row holding the page to the end
    steps = series.index.to_series().diff().dropna().unique()
    assert list(steps) == [pd.Timedelta(minutes=5)]
    assert pd.Timestamp(incident["window"]["start"]).tz_localize(None) <= pd.Timestamp(
        incident["detected_at"]
    ).tz_localize(None)


def test_nothing_of_the_injection_leaks(scenario: Path) -> None:
    raw = json.loads((ISSUE / "target.json").read_text())
    command = raw["metadata"]["reproducibility"]["command"]
    for path in scenario.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert "metadata" not in text, path
            assert "reproducibility" not in text and command not in text, path
            if path.name != "truth.json":
                assert "root_cause" not in text, path


def test_component_ids_are_unique_despite_case_only_differences() -> None:
    ids = component_ids(["Servi-searc.x_remote", "servi-searc.x_remote", "PetSite"])
    assert len(set(ids.values())) == 3
    assert ids["PetSite"] == "petsite"
    assert component_of("petsite_latency") == "petsite"


def test_rank_components_keeps_first_occurrence() -> None:
    def score(metric: str) -> UpstreamScore:
        return UpstreamScore(metric=metric, contribution=0, share=0, shifted=False, node_z=0, p_value=None)

    res = UpstreamResult(
        target="petsite_latency",
        method="m",
        scores=[score("b_latency"), score("a_latency"), score("b_availability")],
        elapsed_ms=0,
        notes=[],
    )
    assert rank_components(res) == ["b", "a"]


def test_rank_components_from_an_engine_report() -> None:
    report = {
        "root_causes": [
            {"rank": 2, "kind": "upstream", "id": "a_latency"},
            {"rank": 1, "kind": "change", "id": "deploy-1"},
            {"rank": 3, "kind": "upstream", "id": "b_latency"},
        ]
    }
    assert rank_components_from_report(report) == ["a", "b"]


def test_attribution_runs_on_a_known_issue(scenario: Path) -> None:
    ranking = upstream_ranker(scenario)
    catalog = yaml.safe_load((scenario / "catalog.yaml").read_text())
    assert len(ranking) > 10 and len(ranking) == len(set(ranking))
    assert set(ranking) <= {component_of(m) for m in catalog["metrics"]}
    assert "petsearch_aws_ecs_fargate" in ranking[:3]


def test_latency_issue_converts_with_caller_edges(tmp_path: Path) -> None:
    out = convert(LATENCY_ISSUE, out=tmp_path / "lat")
    catalog = yaml.safe_load((out / "catalog.yaml").read_text())
    assert all(m.endswith("_latency") for m in catalog["metrics"])
    # callee -> caller: PetSite calls payforadoption, so payforadoption's latency feeds PetSite's.
    assert ["payforadoption_aws_ecs_container_latency", "petsite_latency"] in catalog["graph"]
    assert not any(edge[0] == "petsite_latency" for edge in catalog["graph"])
