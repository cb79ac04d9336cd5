"""The number checker on hand-made evidence: rounding, units, identifiers, uncited and mis-cited numbers."""

from __future__ import annotations

from agent.citations import check_numbers

POOL = {"E1": [0.0101, 0.04073, 18234.0, 0.8512, 5.1e-41, 1250.0], "E2": [3.0, 0.25]}


def problems(text: str) -> list[str]:
    return [p.number for p in check_numbers(text, POOL)]


def test_rounded_and_unit_numbers_match() -> None:
    assert problems("Rate rose from 0.0101 to 0.041 [E1]. It explains 85% of the change [E1].") == []
    assert problems("About 18.2k units [E1]; p=5.1e-41 [E1]; 1.25 s [E1] or 1,250 ms [E1].") == []
    assert problems("A quarter of rows: 25% [E2].") == []


def test_identifiers_dates_and_counting_words_are_not_numbers() -> None:
    text = ("Deploy `deploy-1260` on app 31.2.0 at 2026-05-12T16:00:00, INC-7022, top 3 candidates, "
            "95% CI [E1].")
    assert problems(text) == []


def test_invented_uncited_and_unknown_ids_are_flagged() -> None:
    assert problems("About 4321 users were affected [E1].") == ["4321"]
    assert problems("The rate rose 37%.") == ["37%"]
    assert problems("The rate was 0.0101 [E9].") == ["0.0101"]
    assert problems("Three changes: 0.25 [E1].") == ["0.25"]  # in E2, not in what it cites
