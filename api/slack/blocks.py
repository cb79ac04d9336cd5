"""Block Kit for the bot's messages: progress, the report card with its buttons, answers and errors.

Only report fields reach a message (the report is PII-free by construction); nothing here reads the warehouse.
"""

from __future__ import annotations

from typing import Any

from agent.report import Report, RootCauseOut

RERUN, CORRECT, WRONG = "rca_rerun", "rca_correct", "rca_wrong"
WRONG_VIEW = "rca_wrong_submit"
SECTION_MAX = 2900  # Slack rejects section text over 3000 characters
Block = dict[str, Any]


def clip(text: str, limit: int = SECTION_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def esc(text: str) -> str:
    """Text from outside Slack (reports, incidents, errors) as literal mrkdwn: ``<!channel>`` in an incident
    title or ``a < b`` in SQL must not become a ping or a link (Slack's own escaping rule: & < >)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def defuse(text: str) -> str:
    """Slack-escaped user text echoed back: mentions stay, but no @channel / @here / group ping is repeated."""
    return text.replace("<!", "&lt;!")


def _mrkdwn(text: str, limit: int = SECTION_MAX) -> Block:
    return {"type": "mrkdwn", "text": clip(esc(text), limit)}


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4g}"


def _section(text: str) -> Block:
    return {"type": "section", "text": _mrkdwn(text)}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [_mrkdwn(text)]}


def confidence_word(score: float) -> str:
    """The score read out for a responder: high / medium / low."""
    return "high" if score >= 0.7 else "medium" if score >= 0.4 else "low"


def effect_text(rc: RootCauseOut) -> str:
    """Effect with its 95% CI and p-value, as far as the estimate has them."""
    text = _num(rc.effect)
    if rc.ci and len(rc.ci) == 2:
        text += f" (95% CI {_num(rc.ci[0])} to {_num(rc.ci[1])})"
    if rc.p_value is not None:
        text += f", p={rc.p_value:.2g}"
    return text


def progress_blocks(*, incident_id: str, investigation_id: str, steps: list[str],
                    state: str) -> tuple[str, list[Block]]:
    """The progress message: what has finished so far; ``state`` is queued | running | done | failed."""
    icon = {"queued": ":hourglass_flowing_sand:", "running": ":mag:", "done": ":white_check_mark:",
            "failed": ":x:"}.get(state, ":mag:")
    head = f"{icon} Investigation `{investigation_id}` of *{incident_id}*: {state}"
    shown = steps[-12:]
    lines = [f"• {s}" for s in shown]
    if len(steps) > len(shown):
        lines.insert(0, f"… {len(steps) - len(shown)} earlier step(s)")
    blocks = [_section(head)]
    if lines:
        blocks.append(_context("\n".join(lines)))
    return f"Investigation {investigation_id} of {incident_id}: {state}", blocks


def action_buttons(*, investigation_id: str, report_url: str | None) -> Block:
    """Full report link, re-run, and the correct / wrong verdict (value: the investigation id)."""
    elements: list[Block] = []
    if report_url:
        elements.append({"type": "button", "text": {"type": "plain_text", "text": "Full report"},
                         "url": report_url, "action_id": "rca_open_report"})
    elements += [
        {"type": "button", "text": {"type": "plain_text", "text": "Re-run"}, "action_id": RERUN,
         "value": investigation_id},
        {"type": "button", "text": {"type": "plain_text", "text": "Correct"}, "style": "primary",
         "action_id": CORRECT, "value": investigation_id},
        {"type": "button", "text": {"type": "plain_text", "text": "Wrong"}, "style": "danger",
         "action_id": WRONG, "value": investigation_id},
    ]
    return {"type": "actions", "block_id": f"rca_actions:{investigation_id}", "elements": elements}


def report_blocks(report: Report, *, investigation_id: str, report_url: str) -> tuple[str, list[Block]]:
    """The report card: root cause, effect with CI, impact, confidence, alternatives, similar incidents, link."""
    a = report.anomaly
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": clip(f"{report.incident_id}: {report.metric}", 150)}},
        _context(f"Anomaly {a.start} to {a.end} ({a.direction}): {_num(a.baseline)} → {_num(a.observed)}"),
    ]
    top = report.root_causes[0] if report.root_causes else None
    if top is None:
        fallback = esc(f"{report.incident_id}: no candidate cause found")
        blocks.append(_section("*Root cause*: no candidate explained the change. See the full report."))
    else:
        fallback = esc(f"{report.incident_id}: most likely {top.kind} {top.id} (confidence {top.score:.2f})")
        blocks.append(_section(f"*Root cause*: {top.kind} `{top.id}`: {top.title}"))
        share = "" if top.explained_share is None else f"\n*Explains*: {top.explained_share:.0%} of the change"
        imp = report.impact
        units = "unknown" if imp.affected_units is None else f"{imp.affected_units:,}"
        blocks.append({"type": "section", "fields": [
            _mrkdwn(f"*Effect*: {effect_text(top)}{share}", 1900),
            _mrkdwn(f"*Confidence*: {confidence_word(top.score)} (score {top.score:.2f})"),
            _mrkdwn(f"*Impact*: {units} affected units" + (f" ({imp.reach})" if imp.reach else ""), 1900),
            _mrkdwn(f"*Evidence*: {', '.join(top.evidence) or 'n/a'}"),
        ]})
    alts = report.root_causes[1:4]
    if alts:
        blocks.append(_section("*Top alternatives*\n" + "\n".join(
            f"{rc.rank}. {rc.kind} `{rc.id}`: {rc.title} (score {rc.score:.2f})" for rc in alts)))
    if report.similar_incidents:
        blocks.append(_section("*Similar incidents*\n" + "\n".join(
            f"• `{s.id}` (similarity {s.score:.2f})" + (f": {s.root_cause_summary or s.title}"
                                                        if (s.root_cause_summary or s.title) else "")
            for s in report.similar_incidents[:3])))
    if report.limitations:
        blocks.append(_context("Limitations: " + " ".join(report.limitations[:2])))
    blocks.append(action_buttons(investigation_id=investigation_id, report_url=report_url))
    return fallback, blocks


def wrong_modal(report: Report, *, metadata: str) -> Block:
    """The "wrong" verdict's modal: the true cause (required, as in the API's feedback) and a comment."""
    alts = ", ".join(rc.id for rc in report.root_causes[1:4])
    cause = {"type": "input", "block_id": "true_cause",
             "label": {"type": "plain_text", "text": "What was the real cause?"},
             "hint": {"type": "plain_text", "text": clip("A change, experiment, metric or segment id"
                                                         + (f"; ranked alternatives: {alts}" if alts else ""), 150)},
             "element": {"type": "plain_text_input", "action_id": "value", "max_length": 200}}
    comment = {"type": "input", "block_id": "comment", "optional": True,
               "label": {"type": "plain_text", "text": "Comment"},
               "element": {"type": "plain_text_input", "action_id": "value", "multiline": True, "max_length": 2000}}
    concluded = report.root_causes[0].id if report.root_causes else "nothing"
    return {"type": "modal", "callback_id": WRONG_VIEW, "private_metadata": metadata,
            "title": {"type": "plain_text", "text": "Wrong conclusion"},
            "submit": {"type": "plain_text", "text": "Record"}, "close": {"type": "plain_text", "text": "Cancel"},
            "blocks": [_section(f"The report concluded *{concluded}* for {report.incident_id}."), cause, comment]}


def text_blocks(text: str) -> list[Block]:
    return [_section(text)]


def error_text(message: str) -> str:
    """A failure as one short line for the thread."""
    return f":warning: {clip(esc(' '.join(message.split())), 500)}"
