"""Look-ups answered from a thread's latest finished report (SQL, alternatives, similar incidents, impact,
confidence, segments), and the reply when a thread has no incident yet.

These need no model: they read the stored report only, so they can never show a raw warehouse row. Every other
question is a chat turn (``api.chat.events.answer_events``), where the LLM agent plugs in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.report import Report
from api.slack.blocks import confidence_word, effect_text

HELP = ("Ask me about an incident: `/rca INC-123` investigates it and posts the report here; in the thread, ask "
        "about the root cause, alternatives, impact, similar incidents, confidence, segments or the SQL.")


@dataclass(frozen=True)
class Question:
    """A question in a thread and what the thread knows: its incident and that incident's latest report."""

    text: str
    incident_id: str | None
    report: Report | None
    investigation_id: str | None
    open_incidents: list[tuple[str, str]]  # (id, title) to suggest when the thread has no incident


TOPICS: list[tuple[str, tuple[str, ...]]] = [
    ("sql", ("sql", "query", "queries")),
    ("alternatives", ("alternative", "other cause", "else", "runner-up", "instead")),
    ("similar", ("similar", "before", "happened", "past", "previous")),
    ("impact", ("impact", "affected", "how many", "reach", "users")),
    ("confidence", ("confiden", "sure", "certain", "trust", "limitation")),
    ("segments", ("segment", "where", "which region", "platform", "dimension")),
]


def topic_of(text: str) -> str:
    lower = text.lower()
    for topic, words in TOPICS:
        if any(re.search(rf"\b{re.escape(w)}", lower) for w in words):
            return topic
    return "cause"


def report_answer(q: Question) -> str:
    """Answer from the report: the part the question is about, every figure with its evidence id."""
    if q.incident_id is None:
        if not q.open_incidents:
            return HELP + "\nThere are no open incidents right now."
        listed = "\n".join(f"• `{i}`: {t}" for i, t in q.open_incidents)
        return f"Which incident? Start with `/rca <incident id>`. Open incidents:\n{listed}"
    if q.report is None:
        return (f"No finished investigation of `{q.incident_id}` yet. Run `/rca {q.incident_id}` "
                "(or press Re-run) and ask again when the report is posted.")
    r = q.report
    top = r.root_causes[0] if r.root_causes else None
    topic = topic_of(q.text)
    if topic == "sql":
        queries = [e for e in r.evidence if e.sql][:3]
        if not queries:
            return "The report ran no SQL worth showing."
        return "The queries behind the report (first 3; all in the full report):\n" + "\n".join(
            f"[{e.id}] {e.title}\n```{e.sql[:900] if e.sql else ''}```" for e in queries)
    if topic == "alternatives":
        alts = r.root_causes[1:5]
        if not alts:
            return "No other candidate was ranked."
        return "Other candidates, by score:\n" + "\n".join(
            f"{c.rank}. {c.kind} `{c.id}`: {c.title}, score {c.score:.2f}, effect {effect_text(c)} "
            f"[{', '.join(c.evidence)}]" for c in alts)
    if topic == "similar":
        if not r.similar_incidents:
            return "No similar past incident was found in the incident memory."
        return "Similar past incidents:\n" + "\n".join(
            f"• `{s.id}` (similarity {s.score:.2f}): {s.root_cause_summary or s.title or 'no summary'}"
            for s in r.similar_incidents[:5])
    if topic == "impact":
        imp = r.impact
        units = "unknown" if imp.affected_units is None else f"{imp.affected_units:,}"
        return (f"Impact: {units} affected units" + (f", reach {imp.reach}" if imp.reach else "")
                + (f" [{', '.join(imp.evidence)}]" if imp.evidence else "") + ".")
    if topic == "confidence":
        if top is None:
            return "No candidate explained the change, so there is no conclusion to be confident in."
        lines = [f"Confidence in {top.kind} `{top.id}`: {confidence_word(top.score)} (score {top.score:.2f})."]
        refuted = [k for k, ok in top.refutations.items() if not ok]
        if top.refutations:
            lines.append(f"Refutation tests passed: {sum(top.refutations.values())}/{len(top.refutations)}"
                         + (f" (failed: {', '.join(refuted)})" if refuted else "") + ".")
        lines += [f"• {x}" for x in r.limitations[:3]]
        return "\n".join(lines)
    if topic == "segments":
        if not r.segments:
            return "No segment stood out."
        return "Segments that moved most:\n" + "\n".join(
            f"• {', '.join(f'{k}={v}' for k, v in s.dimensions.items())}: {s.share_of_change:.0%} of the change"
            for s in r.segments[:5])
    if top is None:
        return f"No candidate explained the change in {r.metric}.\n{r.narrative[:1500]}"
    return (f"Most likely cause: {top.kind} `{top.id}` ({top.title}), effect {effect_text(top)}, "
            f"confidence {confidence_word(top.score)} (score {top.score:.2f}) [{', '.join(top.evidence)}].\n\n"
            + r.narrative[:1500])
