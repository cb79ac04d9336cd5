from pathlib import Path

import pytest

from tests.tools.memory.samples import HISTORY, write_history
from tools.memory.history import parse_history


def test_parse_valid_file(history_file: Path):
    incidents, errors = parse_history(history_file)
    assert [i.id for i in incidents] == [row["id"] for row in HISTORY]
    assert errors == []


def test_bad_lines_are_reported_with_line_numbers_and_skipped(tmp_path: Path):
    rows = [
        HISTORY[0],
        "{not json",
        "",  # blank lines are ignored, but still counted for numbering
        {"id": "INC-9", "title": "no root cause", "description": "d", "opened_at": "2024-01-01T00:00:00Z"},
        '["a", "list"]',
        {"id": "INC-8", "title": "bad date", "description": "d", "opened_at": "yesterday",
         "root_cause": {"kind": "change", "summary": "s"}},
        HISTORY[1],
    ]
    incidents, errors = parse_history(write_history(tmp_path / "h.jsonl", rows))
    assert [i.id for i in incidents] == ["INC-1", "INC-2"]
    assert [e.line for e in errors] == [2, 4, 5, 6]
    assert "not valid JSON" in errors[0].message
    assert "root_cause" in errors[1].message and "required" in errors[1].message.lower()
    assert "JSON object" in errors[2].message
    assert errors[3].message.startswith("opened_at")


def test_missing_file_raises(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="history file not found"):
        parse_history(tmp_path / "nope.jsonl")
