"""SQL from questions: the recorded question set, verified-pair retrieval from Chroma, and the repair loop."""

from __future__ import annotations

from pathlib import Path

from agent.privacy import Redactor
from agent.scripted import ScriptedChatModel
from agent.sql_qa import answer_question
from evals.sql_qa import load_cases, run
from tests.conftest import EXAMPLE
from tools.memory.sql_pairs import SqlPairStore
from tools.workspace import Workspace


def test_question_set_passes(tmp_path: Path) -> None:
    cases = load_cases()
    assert len(cases) >= 40 and sum(c.expect == "refused" for c in cases) >= 8
    results = run(cases, demo=tmp_path / "demo")
    failed = [r for r in results if not r.passed]
    assert failed == []
    assert sum(r.repairs > 0 for r in results if r.status == "ok") >= 20  # most answers needed the repair path


def test_verified_pairs_reach_the_prompt_and_the_guard_message_reaches_the_model(tmp_path: Path) -> None:
    ws = Workspace.open(EXAMPLE)
    store = SqlPairStore.open(path=tmp_path / "pairs", embedding="lexical")
    store.add(question="how many sign-ups skipped the age gate in EU", workspace="ex",
              sql="SELECT count(*) FROM signups WHERE region = 'EU' AND age_gate_skipped")
    store.add(question="list config changes", workspace="ex", sql="SELECT change_id FROM config_changes")
    wrong = "```sql\nSELECT user_id FROM signups WHERE age_gate_skipped\n```"
    right = "```sql\nSELECT count(DISTINCT user_id) FROM signups WHERE age_gate_skipped\n```"
    model = ScriptedChatModel(replies=[wrong, right])
    ans = answer_question(ws=ws, question="how many users skipped the age gate?", model=model,
                          redactor=Redactor.for_workspace(ws), examples=store, workspace_name="ex")
    assert ans.status == "ok" and len(ans.attempts) == 2 and ans.attempts[0].rule == "pii_exposed"
    assert ans.examples[0].question.startswith("how many sign-ups skipped")
    first_prompt = str(model.received[0][0].content)
    assert "SELECT count(*) FROM signups WHERE region = 'EU' AND age_gate_skipped" in first_prompt
    assert "user_id VARCHAR PII" in first_prompt
    repair_prompt = str(model.received[1][-1].content)
    assert "pii_exposed" in repair_prompt and "SELECT user_id FROM signups" in repair_prompt
    assert store.count() == 2
    store.add(question="list config changes", workspace="ex", sql="SELECT change_id, changed_at FROM config_changes")
    assert store.count() == 2  # a re-verified question replaces its SQL


def test_repairs_are_capped(tmp_path: Path) -> None:
    ws = Workspace.open(EXAMPLE)
    model = ScriptedChatModel(replies=["```sql\nSELECT nope FROM signups\n```"] * 10)
    ans = answer_question(ws=ws, question="q", model=model, redactor=Redactor(), repairs=2)
    assert ans.status == "refused" and len(ans.attempts) == 3 and len(model.received) == 3
