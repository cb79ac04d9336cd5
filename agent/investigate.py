"""The offline analyst's plan: one straight path from an incident to a report, each step leaving evidence.

Every step lives in ``agent/steps/`` (typed input, typed output carrying its evidence, queries and errors); the
LLM agent calls the same steps as tools. Progress goes through a callback, never to stdout.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from agent.assemble import assemble_report
from agent.incident import Incident, InputError, load_incident
from agent.report import EvidenceLog, RankingData, Report
from agent.state import Investigation, Progress, no_progress, rank_candidates
from agent.steps.change_candidates import step_change_candidates
from agent.steps.change_estimates import step_change_estimates
from agent.steps.confinement import moving_population, step_confinement
from agent.steps.experiments import step_experiments
from agent.steps.impact import step_impact
from agent.steps.levels import step_levels
from agent.steps.segment_causes import step_segment_causes
from agent.steps.segment_onset import step_segment_onset
from agent.steps.segments import step_segments
from agent.steps.similar import find_similar, record_similar
from agent.steps.twin_order import share_twins, step_twin_order
from agent.steps.upstream import step_upstream, without_comparison_discounted
from agent.steps.window import (
    check_filters,
    reanchored,
    record_reanchored,
    record_window,
    resolve_metric,
    step_window,
    with_onset,
)
from tools.ranking import SURE_LEAD, TOP_MIN, carries_movement, incident_sign
from tools.settings import Settings
from tools.workspace import Workspace


def investigate(*, workspace: Workspace, incident: Incident, history: Path | None = None,
                progress: Progress = no_progress) -> Report:
    """Run the fixed offline plan and return the report (docs/scenario-format.md section 5)."""
    t0 = time.perf_counter()
    metric = resolve_metric(workspace.catalog, incident)
    check_filters(metric, incident)
    inv = Investigation(ws=workspace, incident=incident, metric=metric, evidence=EvidenceLog(), progress=progress)
    similar_text = f"{incident.title}. {incident.description}"
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rca-memory")  # beside the causal steps
    similar_job = pool.submit(find_similar, settings=workspace.settings, text=similar_text, history=history)
    pool.shutdown(wait=False)
    progress(f"series of {metric.name}")
    window = step_window(inv)
    anomaly, levels = window.anomaly, step_levels(inv, window.anomaly)
    progress("segments")
    segments = step_segments(inv, levels)
    if segments.top is not None and carries_movement(segments.top):   # stage: re-run on the moving segment
        refined = step_segment_onset(inv, anomaly, segments.top).onset
        if refined is not None and refined != levels.onset:
            anomaly = with_onset(anomaly, refined, inv.grain)
            levels = step_levels(inv, anomaly)
            segments = step_segments(inv, levels)
    anomaly_eid = record_window(inv, anomaly, levels, window.series_evidence)
    progress("candidate changes")
    changes = step_change_candidates(inv, anomaly).changes
    candidates = step_change_estimates(inv, anomaly, levels, changes, segments.top).candidates
    sign = incident_sign(levels.delta, anomaly)
    confined = step_confinement(inv, levels, candidates, moving_population(inv, segments.top), sign)
    candidates = confined.applied(candidates)
    twins = step_twin_order(inv, candidates, sign)
    candidates = share_twins(twins.applied(candidates), twins.settled)
    progress("experiments")
    candidates += step_experiments(inv, anomaly, levels).candidates
    progress("upstream metrics")
    upstream = step_upstream(inv, anomaly, levels)
    candidates = without_comparison_discounted(candidates, upstream) + upstream.candidates
    candidates = rank_candidates(candidates + step_segment_causes(inv, segments, anomaly, candidates).candidates)
    rank_eid = inv.evidence.add("Ranking of candidate causes", RankingData(
        scores={f"{c.kind}:{c.id}": round(c.score, 4) for c in candidates}), method="tools.ranking.Features.score")
    progress("impact")
    top = candidates[0] if candidates and candidates[0].score >= TOP_MIN else None
    if top is not None and top.lead_support is not None and top.lead_support.support < SURE_LEAD:
        inv.limitations.append(f"the timing of {top.id} is weak evidence: {top.lead_support.sentence()} "
                               f"[{top.evidence[0]}]; an outside event in its scope that began shortly before "
                               "it would look the same")
    moved = reanchored(anomaly, top, inv.grain)
    if moved is not None:   # stage: re-run on the window the top cause could have touched
        anomaly, levels = moved, step_levels(inv, moved)
        segments = step_segments(inv, levels)
        anomaly_eid = record_reanchored(inv, anomaly, levels)
    impact = step_impact(inv, top, anomaly).impact
    progress("similar incidents")
    similar = record_similar(inv, similar_job.result(), similar_text)
    report = assemble_report(incident_id=incident.id, metric=metric.name, anomaly=anomaly, levels=levels,
                             anomaly_evidence=anomaly_eid, candidates=candidates, rank_evidence=rank_eid,
                             segments=segments, impact=impact, similar=similar.incidents,
                             similar_evidence=similar.evidence_id, evidence=inv.evidence,
                             limitations=inv.limitations)
    report.elapsed_ms = round((time.perf_counter() - t0) * 1000, 1)
    return report


def investigate_scenario(path: Path, *, settings: Settings | None = None, progress: Progress = no_progress) -> Report:
    """Open a scenario folder (docs/scenario-format.md section 1) and investigate it; never reads truth.json."""
    path = Path(path)
    if not path.is_dir():
        raise InputError(f"{path}: scenario folder not found")
    progress("loading workspace")
    ws = Workspace.open(path, settings=settings)
    incident = load_incident(path / "incident.json")
    history = path / "history.jsonl"
    return investigate(workspace=ws, incident=incident, history=history if history.is_file() else None,
                       progress=progress)
