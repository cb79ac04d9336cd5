"""The report as markdown (``Accept: text/markdown``): headline, ranked causes, impact, narrative, limits."""

from __future__ import annotations

from agent.report import Report


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def report_markdown(report: Report, *, investigation_id: str) -> str:
    """A responder-readable page; every figure in the narrative keeps its evidence id."""
    a = report.anomaly
    lines = [f"# {report.incident_id}: {report.metric}", "",
             f"Investigation `{investigation_id}`. Anomaly {a.start} .. {a.end} (onset {a.onset or '?'}): "
             f"{_num(a.baseline)} -> {_num(a.observed)} ({a.direction}).", "",
             "## Candidate causes", "", "| rank | kind | id | score | effect | p | evidence |",
             "|---|---|---|---|---|---|---|"]
    for rc in report.root_causes[:10]:
        title = rc.id.replace("|", "/")
        lines.append(f"| {rc.rank} | {rc.kind} | {title} | {rc.score:.2f} | {_num(rc.effect)} | "
                     f"{'' if rc.p_value is None else f'{rc.p_value:.2g}'} | {', '.join(rc.evidence)} |")
    imp = report.impact
    lines += ["", "## Impact", "",
              f"{imp.affected_units if imp.affected_units is not None else 'unknown'} affected units "
              f"(reach: {imp.reach or 'n/a'}; {', '.join(imp.evidence)}).", "", "## Narrative", "",
              report.narrative.strip()]
    if report.limitations:
        lines += ["", "## Limitations", ""] + [f"- {x}" for x in report.limitations]
    return "\n".join(lines) + "\n"
