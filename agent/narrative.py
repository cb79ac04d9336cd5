"""The offline analyst's narrative: a markdown template (prompts/offline_narrative.md) filled from the report.

Every number written here is taken from the report and cites the evidence item it came from.
"""

from __future__ import annotations

from pathlib import Path

from agent.report import Report
from tools.ranking import CONFIDENT
from tools.segments import share_phrase

PROMPTS = Path(__file__).resolve().parent.parent / "prompts"


def _fmt(x: float | None) -> str:
    if x is None:
        return "n/a"
    return f"{x:.4g}"


def _cite(ids: list[str]) -> str:
    return "".join(f"[{i}]" for i in ids if i)


def _moved(baseline: float | None, observed: float | None) -> str:
    """The verb the levels support (a within-noise window can move against the direction searched)."""
    if baseline is None or observed is None or observed == baseline:
        return "stayed level"
    return "went up" if observed > baseline else "went down"


def _causes(report: Report) -> tuple[str, str, str]:
    """The headline, the top cause's paragraph and the alternatives (each citing its evidence)."""
    confident = [c for c in report.root_causes if c.score >= CONFIDENT]
    if report.root_causes:
        top = report.root_causes[0]
        cite = _cite(top.evidence)
        parts = [f"The most likely root cause is the {top.kind} **{top.id}** ({top.title}), score {top.score:.2f} "
                 f"{cite}."]
        if top.effect is not None:
            ci = f" (95% CI {_fmt(top.ci[0])} .. {_fmt(top.ci[1])})" if top.ci else ""
            pv = f", p={top.p_value:.2g}" if top.p_value is not None else ""
            parts.append(f"Estimated effect {_fmt(top.effect)}{ci}{pv} {cite}.")
        if top.refutations:
            passed = [k for k, v in top.refutations.items() if v]
            failed = [k for k, v in top.refutations.items() if not v]
            parts.append(f"Refutations passed: {', '.join(passed) or 'none'}"
                         f"{'; failed: ' + ', '.join(failed) if failed else ''} {cite}.")
        parts += [f"{r.rstrip('.')} {cite}." for r in top.reasons[:3]]
        if not confident:
            parts.append("No candidate reaches a confident score: treat this as a lead, not a conclusion.")
        cause = " ".join(parts)
        alt = []
        for c in report.root_causes[1:4]:
            why = "; ".join(c.reasons[:2])  # its timing, then what it explains or what rules it out
            alt.append(f"{c.kind} {c.id}: score {c.score:.2f} {_cite(c.evidence)} ({why})")
        alternatives = "; ".join(alt) if alt else "none."
        headline = f"{report.incident_id}: {top.kind} {top.id} is the most likely cause" if confident else \
            f"{report.incident_id}: no confident root cause"
    else:
        cause = "No candidate cause was found in the catalog's change logs, experiments or metric graph."
        alternatives = "none."
        headline = f"{report.incident_id}: no candidate cause"
    return headline, cause, alternatives


def render_narrative(report: Report, *, segments_evidence: str | None, similar_evidence: str | None) -> str:
    """Fill the template; sections with nothing to say say so plainly."""
    template = (PROMPTS / "offline_narrative.md").read_text()
    a = report.anomaly
    a_cite = _cite(a.evidence)
    source = "given by the responder" if a.window_source == "incident" else "detected"
    found = next((e.data.get("found", True) for e in report.evidence if e.id in a.evidence), True)
    anomaly = (f"`{report.metric}` {_moved(a.baseline, a.observed)} from {_fmt(a.baseline)} to {_fmt(a.observed)} "
               f"{a_cite} in the window {a.start} .. {a.end} ({source}"
               f"{f'; the change began at {a.onset}' if a.onset and a.onset != a.start else ''}) {a_cite}."
               + ("" if found else f" That is within its normal noise: no {a.direction}ward move stands out in the "
                                   f"series {a_cite}."))
    if report.segments:
        s = report.segments[0]
        key = ", ".join(f"{d}={v}" for d, v in sorted(s.dimensions.items()))
        share = share_phrase(s.share_of_change, s.population_share or 0)
        segments = (f"The movement concentrates in {key}: it {share}, moving from {_fmt(s.baseline)} to "
                    f"{_fmt(s.observed)} {_cite([segments_evidence or ''])}.")
    else:
        segments = "No dimension breakdown is available for this metric."
    headline, cause, alternatives = _causes(report)
    i = report.impact
    impact = (f"{i.affected_units} distinct units affected within {i.reach} {_cite(i.evidence)}."
              if i.affected_units is not None else (i.reach or "not sized."))
    if report.similar_incidents:
        sims = "; ".join(f"{s.id} (similarity {s.score:.2f}): {s.root_cause_summary or s.title}"
                         for s in report.similar_incidents)
        similar = f"{sims} {_cite([similar_evidence or ''])}."
    else:
        similar = "No similar past incident found."
    limitations = ("**Limitations.** " + " ".join(x.rstrip(".") + "." for x in report.limitations)
                   if report.limitations else "")
    return template.format(headline=headline, anomaly=anomaly, segments=segments, cause=cause,
                           alternatives=alternatives, impact=impact, similar=similar,
                           limitations=limitations).strip() + "\n"
