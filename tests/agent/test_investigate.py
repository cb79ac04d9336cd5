"""End-to-end investigations: the spec's example scenario and a generated pii_leak_deploy scenario.

Each scenario is investigated once per module (a few seconds each); the tests then read the report.
"""

from __future__ import annotations

import builtins
import io
import json
import pathlib
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from agent.incident import InputError
from agent.investigate import investigate_scenario
from agent.report import Report
from evals.generator import generate
from tests.conftest import EXAMPLE, copy_scenario
from tools.settings import Settings

SPEC_KEYS = {"incident_id", "metric", "anomaly", "root_causes", "segments", "impact", "similar_incidents",
             "evidence", "narrative"}
CITATION = re.compile(r"\[(E\d+)\]")


def _settings(tmp: Path) -> Settings:
    return Settings(chroma_path=tmp / "memory", embedding="lexical")


class _TruthWatch:
    """Records every attempt to open a file named truth.json (the investigation must never read it)."""

    def __init__(self) -> None:
        self.opened: list[str] = []

    def wrap(self, fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            target = args[0] if args else kwargs.get("file")
            if target is not None and str(target).endswith("truth.json"):
                self.opened.append(str(target))
            return fn(*args, **kwargs)
        return wrapper

    def patch(self, mp: pytest.MonkeyPatch) -> None:
        mp.setattr(builtins, "open", self.wrap(builtins.open))
        mp.setattr(io, "open", self.wrap(io.open))
        for name in ("open", "read_text", "read_bytes"):
            mp.setattr(pathlib.Path, name, self.wrap(getattr(pathlib.Path, name)))


@pytest.fixture(scope="module")
def example_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Report, list[str]]]:
    tmp = tmp_path_factory.mktemp("inv-example")
    scenario = copy_scenario(EXAMPLE, tmp / "example")
    watch = _TruthWatch()
    progress: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        watch.patch(mp)
        report = investigate_scenario(scenario, settings=_settings(tmp), progress=progress.append)
    assert progress and progress[0] == "loading workspace"
    yield scenario, report, watch.opened


@pytest.fixture(scope="module")
def example(example_run: tuple[Path, Report, list[str]]) -> Report:
    return example_run[1]


@pytest.fixture(scope="module")
def example_json(example: Report) -> str:
    return example.model_dump_json()


def test_report_has_the_spec_keys(example_json: str):
    data = json.loads(example_json)
    assert SPEC_KEYS <= set(data)
    assert data["incident_id"] == "INC-EX-1" and data["metric"] == "age_gate_skip_rate"
    assert {"start", "end", "baseline", "observed"} <= set(data["anomaly"])
    assert {"affected_units", "evidence"} <= set(data["impact"])


def test_top_root_cause_is_the_config_change(example: Report):
    top = example.root_causes[0]
    assert (top.kind, top.id, top.rank) == ("change", "cfg-17", 1)
    assert top.effect is not None and top.ci is not None and top.ci[0] <= top.effect <= top.ci[1]
    assert top.effect > 0 and top.p_value is not None and top.p_value < 0.01
    assert {"placebo_treatment", "random_common_cause"} <= set(top.refutations)
    assert top.score > max(rc.score for rc in example.root_causes[1:])


def test_the_anomaly_says_which_way_and_why(example: Report):
    """"Age gate skipped more often": the direction is the responder's, and the evidence says so."""
    found = next(e for e in example.evidence if e.kind == "anomaly")
    assert found.data["direction"] == "up" and found.data["direction_from"].startswith("the incident's words")


def test_only_words_agreeing_with_the_worsening_direction_confirm_it():
    """"Jobs failing more often" is about the failures; the metric is the completion rate, which fell."""
    from types import SimpleNamespace

    from agent.incident import Incident
    from agent.steps.window import confirmed_direction

    def ctx(title: str, description: str, higher_is_worse: bool) -> SimpleNamespace:
        inc = Incident(id="I", title=title, description=description, detected_at=datetime(2026, 4, 9))
        return SimpleNamespace(incident=inc, metric=SimpleNamespace(higher_is_worse=higher_is_worse))

    assert confirmed_direction(ctx("Consent reject-all rate dropped", "", False)) == "down"
    assert confirmed_direction(ctx("User report rate spiking", "", True)) == "up"
    assert confirmed_direction(ctx("Account deletion jobs failing more often", "Completion fell.", False)) is None
    assert confirmed_direction(ctx("Consent banner alert", "", False)) is None


def test_every_candidate_is_listed_best_first(example: Report):
    changes = {rc.id for rc in example.root_causes if rc.kind == "change"}
    assert changes == {"cfg-16", "cfg-17", "cfg-18"}            # the decoys are reported, not dropped
    assert [rc.rank for rc in example.root_causes] == list(range(1, len(example.root_causes) + 1))
    scores = [rc.score for rc in example.root_causes]
    assert scores == sorted(scores, reverse=True)
    for rc in example.root_causes:
        if rc.kind == "segment":
            assert rc.id == ",".join(sorted(rc.id.split(",")))  # dim=value pairs sorted by dimension


def test_top_segment_is_region_eu(example: Report):
    top = example.segments[0]
    assert top.dimensions == {"region": "EU"}
    assert top.share_of_change > 0.8 and top.observed > top.baseline


def test_anomaly_starts_at_the_change(example: Report):
    a = example.anomaly
    assert a.direction == "up" and a.observed > a.baseline
    onset = datetime.fromisoformat(a.onset or a.start)
    assert abs(onset - datetime(2026, 5, 5, 16)) <= timedelta(hours=1)
    assert datetime.fromisoformat(a.start) < datetime.fromisoformat(a.end) <= datetime(2026, 5, 6, 3)


def test_impact_counts_distinct_affected_users_in_reach(example: Report):
    """Recount from the CSV: distinct users in region EU who skipped the age gate inside the anomaly window."""
    rows = pd.read_csv(EXAMPLE / "data" / "signups.csv", parse_dates=["signup_time"])
    start, end = pd.Timestamp(example.anomaly.start), pd.Timestamp(example.anomaly.end)
    hit = rows[(rows.region == "EU") & rows.age_gate_skipped & (rows.signup_time >= start) & (rows.signup_time < end)]
    assert example.impact.affected_units == hit["user_id"].nunique() > 0


def test_narrative_citations_exist(example: Report):
    ids = {e.id for e in example.evidence}
    cited = set(CITATION.findall(example.narrative))
    assert cited and cited <= ids, cited - ids
    assert "cfg-17" in example.narrative
    for rc in example.root_causes:
        assert set(rc.evidence) <= ids, (rc.id, rc.evidence)
    assert set(example.impact.evidence) <= ids and set(example.anomaly.evidence) <= ids


def test_every_number_in_the_narrative_paragraphs_is_cited(example: Report):
    for para in example.narrative.split("\n\n")[1:]:
        if re.search(r"\d\.\d", para):
            assert CITATION.search(para), para


def test_sql_evidence_carries_the_query_as_run(example: Report):
    sql_items = [e for e in example.evidence if e.kind == "sql"]
    assert len(sql_items) >= 4
    for e in sql_items:
        assert e.sql and e.sql.lstrip().upper().startswith(("SELECT", "WITH")), e
        assert "LIMIT" in e.sql.upper()                          # guarded: the row cap is in the SQL as run


def test_evidence_sql_field_only_ever_holds_sql(example: Report):
    for e in example.evidence:
        if e.sql is not None:
            assert not re.fullmatch(r"E\d+", e.sql.strip()), e


def test_no_raw_user_ids_anywhere_in_the_report(example_json: str):
    rows = pd.read_csv(EXAMPLE / "data" / "signups.csv")
    affected = rows.loc[rows.region.eq("EU") & rows.age_gate_skipped, "user_id"].unique().tolist()
    sample = affected + rows["user_id"].head(50).tolist()
    assert len(sample) > 100
    leaked = [u for u in sample if u in example_json]
    assert leaked == []


def test_truth_json_is_never_opened(example_run: tuple[Path, Report, list[str]]):
    scenario, _, opened = example_run
    assert (scenario / "truth.json").is_file()
    assert opened == []


def test_similar_incident_from_history(example: Report):
    assert [s.id for s in example.similar_incidents][:1] == ["INC-0901"]


def test_missing_scenario_folder(tmp_path: Path):
    with pytest.raises(InputError, match="scenario folder not found"):
        investigate_scenario(tmp_path / "nope")


def test_incident_without_metric_is_refused_offline_unless_the_text_names_it(tmp_path: Path):
    scenario = copy_scenario(EXAMPLE, tmp_path / "s")
    inc = json.loads((scenario / "incident.json").read_text())
    del inc["metric"]
    inc["title"], inc["description"] = "Something is off", "Users report odd sign-ups."
    (scenario / "incident.json").write_text(json.dumps(inc))
    with pytest.raises(InputError, match="metric: missing"):
        investigate_scenario(scenario, settings=_settings(tmp_path))


# ----------------------------------------------------------------------------- generated pii_leak_deploy


@pytest.fixture(scope="module")
def pii_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Report]:
    tmp = tmp_path_factory.mktemp("inv-pii")
    scenario = generate("pii_leak_deploy", seed=3, size="small", out=tmp / "pii")
    return scenario, investigate_scenario(scenario, settings=_settings(tmp))


def test_generated_pii_leak_scenario_runs_end_to_end(pii_run: tuple[Path, Report]):
    scenario, report = pii_run
    truth = json.loads((scenario / "truth.json").read_text())
    incident = json.loads((scenario / "incident.json").read_text())
    data = json.loads(report.model_dump_json())
    assert SPEC_KEYS <= set(data)
    assert report.incident_id == incident["id"] and report.metric == incident["metric"]
    assert report.anomaly.window_source == "incident"
    top = report.root_causes[0]
    assert (top.kind, top.id) == (truth["root_cause"]["kind"], truth["root_cause"]["id"])
    assert truth["segment"] in [s.dimensions for s in report.segments[:3]]
    assert report.impact.affected_units == truth["affected_units"]
    ids = {e.id for e in report.evidence}
    assert set(CITATION.findall(report.narrative)) <= ids


def test_generated_scenario_report_holds_no_pii_values(pii_run: tuple[Path, Report]):
    scenario, report = pii_run
    text = report.model_dump_json()
    logs = pd.read_csv(scenario / "data" / "analytics_logs.csv", dtype=str)
    hit = logs[logs["payload_has_raw_ip"] == "True"]
    for column in ("user_id", "device_id", "ip_address"):
        values = set(hit[column].dropna()) | set(logs[column].dropna().head(20))
        assert values and not [v for v in values if v in text], column


# ----------------------------------------------------------------------------- a diluted experiment effect


@pytest.fixture(scope="module")
def diluted_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Report]:
    """Only 30% of users are eligible: the total series moves within noise, the treatment arm clearly."""
    tmp = tmp_path_factory.mktemp("inv-exp")
    scenario = generate("experiment_guardrail", seed=5, size="small", out=tmp / "exp", window=False, effect=-0.12,
                        eligible=0.3)
    return scenario, investigate_scenario(scenario, settings=_settings(tmp))


def test_a_cause_diluted_below_the_series_noise_is_found_by_its_own_evidence(diluted_run: tuple[Path, Report]):
    scenario, report = diluted_run
    truth = json.loads((scenario / "truth.json").read_text())
    incident = json.loads((scenario / "incident.json").read_text())
    anomaly = next(e for e in report.evidence if e.kind == "anomaly")
    assert anomaly.data["found"] is False                      # the series alone shows nothing clear
    detected = datetime.fromisoformat(incident["detected_at"].replace("Z", ""))
    assert report.anomaly.end == detected.isoformat() and report.anomaly.direction == "down"
    top = report.root_causes[0]
    assert (top.kind, top.id) == ("experiment", truth["root_cause"]["id"])
    assert "no clear onset" in " ".join(top.reasons)
    # The series alone is within noise, but the randomized arm moved at p < 0.01: that evidence needs no
    # anomaly in the diluted aggregate, so the doubt the within-noise factor expresses is (partly) lifted.
    assert top.p_value < 0.01 and top.score >= 0.5
    assert "randomization does not need one" in " ".join(top.reasons)
    assert report.impact.affected_units == pytest.approx(truth["affected_units"], rel=0.1)


# ----------------------------------------------------------------------------- a staffing drop upstream


def test_an_upstream_drop_inside_its_daily_rhythm_is_found_once_the_rhythm_is_removed(tmp_path: Path):
    """Reviewers online follow the day: a 35% staffing drop stays inside the day/night range of the raw series."""
    scenario = generate("graph_mediator", seed=2, size="small", out=tmp_path / "graph", window=True,
                        shifted="reviewers_online")
    report = investigate_scenario(scenario, settings=_settings(tmp_path))
    top = report.root_causes[0]
    assert (top.kind, top.id) == ("upstream", "reviewers_online") and top.score >= 0.5
    attribution = next(e for e in report.evidence if e.kind == "upstream_attribution")
    assert any("seasonal profile removed" in n and "reviewers_online" in n for n in attribution.data["notes"])
    staff = next(s for s in attribution.data["scores"] if s["metric"] == "reviewers_online")
    assert staff["node_z"] < -3 and staff["shifted"]


# ----------------------------------------------------------------------------- a blip that recovered


def test_a_blip_that_recovered_before_detection_is_not_pinned_on_a_change_still_in_place(tmp_path: Path):
    """Two noisy buckets, over three hours before the alert was looked at; a deploy landed just before them."""
    scenario = generate("null_incident", seed=101, size="small", out=tmp_path / "blip", window=False,
                        metric="raw_ip_log_rate")
    report = investigate_scenario(scenario, settings=_settings(tmp_path))
    incident = json.loads((scenario / "incident.json").read_text())
    detected = datetime.fromisoformat(incident["detected_at"].replace("Z", ""))
    within_noise = any("within its normal noise" in lim for lim in report.limitations)
    assert within_noise or datetime.fromisoformat(report.anomaly.end) <= detected - timedelta(hours=2)  # recovered
    assert all(c.score < 0.5 for c in report.root_causes), [(c.id, c.score) for c in report.root_causes[:3]]
    panel = next(e for e in report.evidence if e.kind == "sql" and "panel" in e.title)
    assert detected.strftime("%Y-%m-%d %H:%M:%S") in panel.sql        # the panel runs up to detection


# ----------------------------------------------------------------------------- a surge a later deploy touches


def test_a_change_whose_scope_was_already_moving_cannot_have_started_the_shift(tmp_path: Path):
    """A LATAM surge starts hours before a LATAM deploy; the responder's window opens just after the deploy,
    so by the window the deploy looks on time. Its own scope's pre-trend says otherwise."""
    scenario = generate("external_surge", seed=2, size="small", out=tmp_path / "surge", window=True,
                        segment={"region": "LATAM"}, effect=0.02, ramp_hours=2.0)
    report = investigate_scenario(scenario, settings=_settings(tmp_path))
    deploy = next(c for c in report.root_causes if c.kind == "change" and c.refutations.get("pre_trend") is False)
    assert "already moving before it landed" in deploy.timing and deploy.score < 0.2
    top = report.root_causes[0]
    assert (top.kind, top.id) == ("segment", "region=LATAM")


def test_within_noise_only_a_clear_comparison_of_its_own_lifts_the_doubt():
    from types import SimpleNamespace

    from tools.ranking import WITHIN_NOISE, anomaly_factor

    quiet = SimpleNamespace(found=False)  # only the detector's verdict matters here
    assert anomaly_factor(SimpleNamespace(found=True)) == 1.0
    assert anomaly_factor(quiet) == WITHIN_NOISE                         # no comparison of its own
    assert anomaly_factor(quiet, randomized_p=0.05) == WITHIN_NOISE      # z < 2: weak randomized evidence
    assert WITHIN_NOISE < anomaly_factor(quiet, randomized_p=1e-3) < 1.0  # z ~ 3.3: partly
    assert anomaly_factor(quiet, randomized_p=1e-5) == 1.0               # z >= 4: the arm clearly moved
    # against untreated segments (not randomized, one of many candidates) the bar is a z higher
    assert anomaly_factor(quiet, compared_p=1e-3) < anomaly_factor(quiet, randomized_p=1e-3)
    assert anomaly_factor(quiet, compared_p=0.01) == WITHIN_NOISE        # z ~ 2.6
    assert WITHIN_NOISE < anomaly_factor(quiet, compared_p=1e-4) < 1.0   # z ~ 3.9
    assert anomaly_factor(quiet, compared_p=1e-7) == 1.0                 # z ~ 5.3


def test_a_surge_in_the_responders_filtered_population_is_scored_against_everyone(tmp_path: Path):
    """The responder already filtered the incident to APAC, where an outside surge happened: inside the filter
    APAC explains all of the change by construction, so only the comparison with everyone else shows that
    the shift is specific to it; nothing in the change log explains it."""
    scenario = generate("external_surge", seed=4, size="small", out=tmp_path / "surge", filters=True,
                        window=False, volume=5.0, segment={"region": "APAC"})
    assert json.loads((scenario / "incident.json").read_text())["filters"] == {"region": "APAC"}
    report = investigate_scenario(scenario, settings=_settings(tmp_path))
    top = report.root_causes[0]
    assert (top.kind, top.id) == ("segment", "region=APAC") and top.score >= 0.5
    whole = report.segments[0]
    assert whole.dimensions == {"region": "APAC"}
    assert whole.share_of_change > 0.9 and whole.population_share < 0.3      # against everyone, not 1.0 / 1.0
    assert any(e.kind == "sql" and "not only the incident's filter" in e.title for e in report.evidence)


def test_a_global_change_credited_with_a_surge_confined_to_the_filtered_region_loses_to_the_region(tmp_path: Path):
    """Filtered to LATAM, a global deploy 2.5 h before the detected onset explains the surge by a before/after
    estimate (no untreated rows inside the filter). Outside the filter it reached everyone else, who did not
    move: the deploy is the cause only if its effect stayed in LATAM, and the region itself ranks first.
    Before the confinement test the deploy ranked first at 0.67 and the region was not a candidate."""
    scenario = generate("external_surge", seed=311, size="small", out=tmp_path / "surge", filters=True,
                        window=False, segment={"region": "LATAM"})
    assert json.loads((scenario / "incident.json").read_text())["filters"] == {"region": "LATAM"}
    report = investigate_scenario(scenario, settings=_settings(tmp_path))
    top = report.root_causes[0]
    assert (top.kind, top.id) == ("segment", "region=LATAM")
    assert any("against everyone" in r for r in top.reasons)
    confined = [c for c in report.root_causes if c.kind == "change" and any("only region=LATAM moved" in r
                                                                            for r in c.reasons)]
    assert confined and all(c.score < top.score for c in confined)
    checks = [e for e in report.evidence if e.kind == "confinement"]
    assert checks and any(e.data["confined"] and e.data["z"] >= 3 for e in checks)
    assert all(any(x.id == e.data["sql_evidence"] and x.kind == "sql" for x in report.evidence) for e in checks)


def test_a_segment_whose_movement_sits_in_one_of_its_parts_is_the_less_specific_answer():
    from agent.steps.segments import moving_part
    from tools.segments import SegmentScore

    def seg(dims: dict[str, str], share: float, pop: float) -> SegmentScore:
        return SegmentScore(dimensions=dims, share_of_change=share, population_share=pop, excess=share - pop,
                            surprise=0.0, baseline=0.02, observed=0.05, rows_baseline=1000, rows_anomaly=1000)

    android = seg({"platform": "android"}, 0.95, 0.46)
    pair = seg({"platform": "android", "region": "LATAM"}, 0.87, 0.07)
    latam = seg({"region": "LATAM"}, 0.81, 0.16)
    assert moving_part(android, [pair, android, latam]) == pair     # android outside LATAM: 8% with 39%
    assert moving_part(pair, [pair, android, latam]) is None         # nothing more specific listed
    spread = seg({"platform": "android", "region": "EU"}, 0.40, 0.10)
    assert moving_part(android, [spread, android]) is None           # the rest (55% with 36%) moved too


def test_the_filtered_population_leads_the_segments_when_nothing_inside_it_carries_its_movement():
    """Filtered to LATAM, which explains 78% of everyone's change with 16% of the rows: a version inside it
    that is a third of LATAM's rows and 43% of its change is noise, not the answer; android carrying 90% of
    LATAM's change with 45% of its rows (the rest of LATAM flat) is the more specific one."""
    from agent.steps.segments import population_leads
    from tools.segments import SegmentScore

    def seg(dims: dict[str, str], share: float, pop: float) -> SegmentScore:
        return SegmentScore(dimensions=dims, share_of_change=share, population_share=pop, excess=share - pop,
                            surprise=0.0, baseline=0.02, observed=0.08, rows_baseline=1500, rows_anomaly=400)

    latam = seg({"region": "LATAM"}, 0.78, 0.16)
    version = seg({"app_version": "31.2.0"}, 0.43, 0.32)
    android = seg({"platform": "android"}, 0.98, 0.45)
    assert population_leads(latam, [version])
    assert not population_leads(latam, [android, version])
    assert not population_leads(seg({"region": "LATAM"}, 0.30, 0.16), [version])   # not specific to LATAM
    assert not population_leads(None, [version])


def test_the_population_a_wider_change_is_checked_against_is_the_filter_else_a_segment_that_moved():
    from types import SimpleNamespace

    from agent.steps.confinement import moving_population
    from tools.segments import SegmentScore

    def ctx(filters: dict[str, str]) -> SimpleNamespace:
        return SimpleNamespace(incident=SimpleNamespace(filters=filters),
                               metric=SimpleNamespace(dimensions=["platform", "region"]))

    def seg(share: float, pop: float) -> SegmentScore:
        return SegmentScore(dimensions={"region": "LATAM"}, share_of_change=share, population_share=pop,
                            excess=share - pop, surprise=0.0, baseline=0.02, observed=0.05, rows_baseline=900,
                            rows_anomaly=200)

    assert moving_population(ctx({"region": "EU"}), seg(0.7, 0.13)) == {"region": "EU"}
    assert moving_population(ctx({}), seg(0.7, 0.13)) == {"region": "LATAM"}
    assert moving_population(ctx({}), seg(0.3, 0.2)) is None        # no more than its share: nothing to confine
    assert moving_population(ctx({}), None) is None


def test_changes_the_panel_cannot_tell_apart_share_their_evidence_when_scored_alike():
    """Two web changes 88 minutes apart both keep the joint effect (0.54 and 0.53): each is "one of the two",
    so each gets its share; a twin that timing already ruled out (0.07) leaves the other's score alone."""
    from agent.state import Candidate
    from agent.steps.twin_order import share_twins
    from tools.ranking import Features

    def change(cid: str, explained: float, timing: float, twins: list[str]) -> Candidate:
        return Candidate(kind="change", id=cid, title=cid, twins=twins,
                         features=Features(explained=explained, p_value=1e-4, timing=timing))

    a, b = change("cfg-1", 0.30, 1.0, ["deploy-2"]), change("deploy-2", 0.29, 1.0, ["cfg-1"])
    late, kept = change("flip-3", 0.30, 0.12, ["flip-4"]), change("flip-4", 0.30, 1.0, ["flip-3"])
    before = {c.id: c.score for c in (a, b, late, kept)}
    given = [a, b, late, kept]
    shared = share_twins(given)
    assert [c.score for c in given] == list(before.values())          # the inputs are not changed in place
    a, b, late, kept = shared
    assert a.score == pytest.approx(before["cfg-1"] ** 2 / (before["cfg-1"] + before["deploy-2"]))
    assert b.score < a.score < before["cfg-1"] and a.score + b.score == pytest.approx(
        (before["cfg-1"] ** 2 + before["deploy-2"] ** 2) / (before["cfg-1"] + before["deploy-2"]))
    assert any("cannot tell it from deploy-2" in r for r in a.reasons)
    assert (late.score, kept.score) == (before["flip-3"], before["flip-4"]) and not kept.reasons


def test_a_segment_is_not_a_cause_of_its_own_when_a_change_that_fits_reaches_it():
    """A web-only deploy with a clear effect and a clean pre-trend, landing before the (late) detected onset,
    explains the web segment; one that failed its pre-trend, or landed after the onset, does not."""
    from agent.state import Candidate
    from agent.steps.segment_causes import change_that_fits
    from tools.ranking import Features
    from tools.segments import SegmentScore

    web = SegmentScore(dimensions={"platform": "web"}, share_of_change=0.96, population_share=0.22, excess=0.74,
                       surprise=0.0, baseline=0.0, observed=0.09, rows_baseline=2000, rows_anomaly=300)
    onset = datetime(2026, 3, 6, 18)

    def deploy(reach: dict[str, object], at: datetime, pre_trend: bool, p: float = 1e-12,
               minutes: bool = True) -> Candidate:
        return Candidate(kind="change", id="deploy-1", title="d", features=Features(explained=0.7, p_value=p),
                         p_value=p, refutations={"pre_trend": pre_trend, "pre_trend_minutes": minutes},
                         reach=reach, at=at)

    assert change_that_fits(web, [deploy({"platform": "web"}, onset - timedelta(hours=5), True)], onset)
    assert change_that_fits(web, [deploy({}, onset - timedelta(hours=1), True)], onset)          # global
    assert not change_that_fits(web, [deploy({"platform": "ios"}, onset - timedelta(hours=1), True)], onset)
    assert not change_that_fits(web, [deploy({"platform": "web"}, onset - timedelta(hours=1), False)], onset)
    assert not change_that_fits(web, [deploy({"platform": "web"}, onset + timedelta(hours=1), True)], onset)
    assert not change_that_fits(web, [deploy({"platform": "web"}, onset - timedelta(hours=1), True, 0.2)], onset)
    # the scope was already off in the hour before the deploy (minute-level lead test): it did not start it
    assert not change_that_fits(web, [deploy({"platform": "web"}, onset - timedelta(hours=1), True,
                                              minutes=False)], onset)


def test_equal_scores_go_to_the_stronger_evidence_not_the_alphabet():
    from agent.state import Candidate, rank_candidates
    from tools.ranking import Features

    def change(cid: str, p: float) -> Candidate:
        return Candidate(kind="change", id=cid, title=cid, features=Features(explained=1.0, p_value=p),
                         fixed_score=0.6)

    ranked = rank_candidates([change("cfg-1", 1e-3), change("flip-2", 1e-6), change("deploy-3", 0.2)])
    assert [c.id for c in ranked] == ["flip-2", "cfg-1", "deploy-3"]


# ----------------------------------------------------------------------------- impact with no clear onset


def test_with_no_clear_onset_the_window_starts_where_the_top_change_landed(tmp_path: Path):
    """A small drop on android: the series shows no clear run, so the day before detection was analysed; the
    impact counts units from the top change on, not a day of units before it could have done anything."""
    scenario = generate("metric_drop", seed=3, size="small", out=tmp_path / "drop", window=False, effect=-0.045,
                        noise=0.06, scope={"platform": "android"})
    report = investigate_scenario(scenario, settings=_settings(tmp_path))
    truth = json.loads((scenario / "truth.json").read_text())
    top = report.root_causes[0]
    assert (top.kind, top.id) == ("change", truth["root_cause"]["id"])
    assert any("within its normal noise" in lim for lim in report.limitations)
    change_at = pd.Timestamp(next(e for e in report.evidence if e.kind == "causal_estimate"
                                  and e.data["change"]["id"] == top.id).data["change"]["at"])
    assert pd.Timestamp(report.anomaly.start) == change_at.floor("h")
    assert any(e.title == "Anomaly window, from the top cause" for e in report.evidence)
    segments = [e for e in report.evidence if e.kind == "segments"][-1]       # reported on that window too
    assert pd.Timestamp(segments.data["anomaly_period"][0]) == pd.Timestamp(report.anomaly.start)
    assert report.impact.affected_units == pytest.approx(truth["affected_units"], rel=0.1)


def test_a_global_change_is_lead_tested_inside_the_segment_that_moved(tmp_path: Path):
    """A global change credited with a regional shift must not find that region already moving before it landed;
    across everyone the region's first half hour is diluted. The lead query filters on the moving segment when
    the change reaches it and the segment is narrower than its scope, on the change's scope otherwise."""
    from agent.incident import load_incident
    from agent.report import EvidenceLog
    from agent.state import Investigation
    from agent.steps.change_estimates import lead_test
    from agent.steps.window import resolve_metric
    from tools.causal import ChangeCandidate
    from tools.segments import SegmentScore
    from tools.workspace import Workspace

    scenario = copy_scenario(EXAMPLE, tmp_path / "example")
    ws = Workspace.open(scenario, settings=_settings(tmp_path))
    incident = load_incident(scenario / "incident.json")
    ctx = Investigation(ws=ws, incident=incident, metric=resolve_metric(ws.catalog, incident), evidence=EvidenceLog(),
                  progress=lambda _msg: None)
    eu = SegmentScore(dimensions={"region": "EU"}, share_of_change=0.9, population_share=0.3, excess=0.6,
                      surprise=0.0, baseline=0.05, observed=0.2, rows_baseline=2000, rows_anomaly=300)
    at = datetime(2026, 5, 5, 16, 0)
    ran = []
    for scope in ({"platform": None, "region": None}, {"platform": None, "region": "NA"}):
        change = ChangeCandidate(source="config", id="cfg-x", at=at, description="x", scope=scope)
        before = len(ctx.evidence.items)
        result, support = lead_test(ctx, change, 0.1, eu)
        assert result.name == "pre_trend_minutes"
        assert support is not None and 0.0 <= support.support <= 1.0
        ran.append(ctx.evidence.items[before])
    global_q, na_q = ran
    assert "region=EU, where cfg-x's effect would be" in global_q.title and "'EU'" in global_q.sql
    assert "the scope of cfg-x" in na_q.title and "'NA'" in na_q.sql and "'EU'" not in na_q.sql


def test_an_experiment_carrying_most_of_the_window_is_not_ruled_out_by_a_drift_opened_onset():
    """Drift can open the aggregate's run hours before an experiment starts; its arms cannot drift. A clear
    randomized effect carrying most of the window keeps a timing of 0.7 instead of 'cannot have started it'."""
    from tools.ranking import RANDOMIZED_TIMING, randomized_timing

    onset, started, end = datetime(2026, 2, 13, 10), datetime(2026, 2, 13, 16), datetime(2026, 2, 14, 8)
    late = (0.05, "lands 6.0 h after the onset: it cannot have started the anomaly")
    fit, text = randomized_timing(*late, started, onset, end, explained=0.91, p_value=1e-20)
    assert fit == RANDOMIZED_TIMING and "randomized arms carry 91%" in text
    assert randomized_timing(*late, started, onset, end, explained=0.3, p_value=1e-20) == late   # a small part
    assert randomized_timing(*late, started, onset, end, explained=0.91, p_value=0.01) == late   # not clear
    assert randomized_timing(*late, end, onset, end, explained=0.91, p_value=1e-20) == late      # after the window
    early = (0.1, "lands 29.0 h before the onset (an effect would have shown sooner)")          # a running one
    assert randomized_timing(*early, onset - timedelta(hours=29), onset, end, 0.9, 1e-20) == early
    assert randomized_timing(0.9, "lands at the onset", started, onset, end, 0.91, 1e-20) == (0.9, "lands at the onset")


def test_the_rows_between_two_same_scope_changes_say_which_one_started_the_drop(tmp_path: Path):
    """metric_drop puts a second change to the true scope a bucket or two after it: the panel cannot tell them
    apart, the minutes between them can (the scope had already dropped before the second one landed)."""
    scenario = generate("metric_drop", seed=400, size="small", out=tmp_path / "drop")
    truth = json.loads((scenario / "truth.json").read_text())["root_cause"]["id"]
    report = investigate_scenario(scenario, settings=_settings(tmp_path))
    orders = [e for e in report.evidence if e.kind == "twin_order"]
    assert len(orders) == 1 and orders[0].data["earlier"] == truth and orders[0].data["p_earlier"] > 0.95
    assert any(x.id == orders[0].data["sql_evidence"] and x.kind == "sql" for x in report.evidence)
    by_id = {c.id: c for c in report.root_causes}
    first, second = by_id[truth], by_id[orders[0].data["later"]]
    assert report.root_causes[0].id == truth and second.score < 0.05 * first.score
    assert orders[0].id in first.evidence and orders[0].id in second.evidence
    assert any("started the shift with probability" in r for r in second.reasons)


def test_the_report_says_when_the_hour_before_the_top_change_could_not_place_the_shift(tmp_path: Path):
    """At 15-25 rows per region-hour a regional deploy landing hours into a regional surge looks like its cause
    (external_surge-03 scores it 1.0): the limitation says the hour before it cannot tell, citing the estimate.
    With a leak of 7% where 0.4% is usual, the 79 rows of the hour before a true deploy can (no such sentence)."""
    from agent.investigate import investigate_scenario
    from evals.suite import suite_specs

    specs = {s.name: s for s in suite_specs("small")}
    reports = {}
    for name in ("external_surge-03", "pii_leak_deploy-01"):
        spec = specs[name]
        folder = generate(spec.family, seed=spec.seed, size="small", out=tmp_path / name, **spec.params)
        reports[name] = investigate_scenario(folder, settings=_settings(tmp_path / f"s-{name}"))
    surge, leak = reports["external_surge-03"], reports["pii_leak_deploy-01"]
    top = surge.root_causes[0]
    weak = [x for x in surge.limitations if x.startswith(f"the timing of {top.id} is weak evidence")]
    assert top.kind == "change" and len(weak) == 1 and f"[{top.evidence[0]}]" in weak[0]
    est = next(e for e in surge.evidence if e.id == top.evidence[0])
    assert est.data["lead_support"]["support"] < 0.95 and weak[0] in surge.narrative
    assert not any("is weak evidence" in x for x in leak.limitations)
    leak_est = next(e for e in leak.evidence if e.id == leak.root_causes[0].evidence[0])
    assert leak_est.data["lead_support"]["support"] >= 0.95
