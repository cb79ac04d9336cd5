"""Block Kit edge cases the round trip does not reach: no cause found, long texts, many steps."""

from __future__ import annotations

import json

from agent.report import AnomalyOut, ImpactOut, Report, RootCauseOut
from api.slack import blocks


def _report(causes: list[RootCauseOut]) -> Report:
    return Report(incident_id="INC-9", metric="m", anomaly=AnomalyOut(start="2026-01-01T00:00:00",
                  end="2026-01-01T06:00:00", baseline=0.02, observed=0.3), root_causes=causes, segments=[],
                  impact=ImpactOut(affected_units=None), similar_incidents=[], evidence=[], narrative="n")


def test_card_without_a_cause_still_has_the_buttons():
    text, card = blocks.report_blocks(_report([]), investigation_id="inv-1", report_url="https://x/inv-1")
    assert "no candidate cause" in text
    assert "no candidate explained the change" in json.dumps(card)
    actions = card[-1]["elements"]
    assert [a["action_id"] for a in actions] == ["rca_open_report", "rca_rerun", "rca_correct", "rca_wrong"]


def test_long_titles_are_clipped_to_slacks_limits_and_escaped():
    cause = RootCauseOut(rank=1, kind="change", id="d<1>", title="x & y " * 2000, score=0.55, effect=0.28,
                         ci=[0.2, 0.36], p_value=0.001)
    _, card = blocks.report_blocks(_report([cause]), investigation_id="inv-1", report_url="https://x")
    for block in card:
        for part in [block.get("text") or {}, *(block.get("fields") or []), *(block.get("elements") or [])]:
            if part.get("type") == "mrkdwn":
                assert len(part["text"]) <= 3000 and "<" not in part["text"]
    body = json.dumps(card)
    assert "95% CI 0.2 to 0.36" in body and "medium (score 0.55)" in body and "d&lt;1&gt;" in body


def test_progress_keeps_the_last_steps():
    _, blk = blocks.progress_blocks(incident_id="INC-9", investigation_id="inv-1",
                                    steps=[f"step {i}" for i in range(20)], state="running")
    listed = blk[1]["elements"][0]["text"]
    assert "8 earlier step(s)" in listed and "step 19" in listed and "step 7\n" not in listed
