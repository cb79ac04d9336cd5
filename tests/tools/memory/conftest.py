"""Fixtures for the memory tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tools.memory.samples import HISTORY, write_history


@pytest.fixture
def history_file(tmp_path: Path) -> Path:
    return write_history(tmp_path / "history.jsonl", HISTORY)
