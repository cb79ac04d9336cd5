import json
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli_memory import memory_app
from tests.tools.memory.samples import HISTORY, write_history

runner = CliRunner()


@pytest.fixture
def history(tmp_path: Path) -> Path:
    return write_history(tmp_path / "history.jsonl", [*HISTORY, "{broken"])


def test_ingest_then_search_json(tmp_path: Path, history: Path):
    store = tmp_path / "mem"
    result = runner.invoke(memory_app, ["ingest", str(history), "--path", str(store), "--embedding", "lexical"])
    assert result.exit_code == 0, result.output
    assert f"ingested {len(HISTORY)} incident(s)" in result.stdout and "1 line(s) skipped" in result.stdout
    assert f"line {len(HISTORY) + 1} skipped: not valid JSON" in result.stderr

    result = runner.invoke(memory_app, ["search", "raw IP addresses in the analytics logs", "--path", str(store),
                                        "--k", "2", "--json"])
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert len(hits) == 2 and hits[0]["id"] in {"INC-1", "INC-5"}
    assert set(hits[0]) >= {"id", "score", "title", "metric", "root_cause_kind", "root_cause_summary"}

    result = runner.invoke(memory_app, ["search", "raw IP addresses", "--path", str(store),
                                        "--metric", "moderation_backlog"])
    assert result.exit_code == 0 and "INC-4" in result.stdout and "INC-1" not in result.stdout


def test_ingest_strict_fails_on_skipped_lines(tmp_path: Path, history: Path):
    result = runner.invoke(memory_app, ["ingest", str(history), "--path", str(tmp_path / "m"),
                                        "--embedding", "lexical", "--strict"])
    assert result.exit_code == 1


def test_missing_file_is_exit_2_one_line(tmp_path: Path):
    result = runner.invoke(memory_app, ["ingest", str(tmp_path / "nope.jsonl"), "--path", str(tmp_path / "m")])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and "history file not found" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("args, message", [
    (["search", "  "], "search text is empty"),
    (["search", "x", "--k", "0"], "--k must be at least 1"),
    (["search", "x", "--min-score", "2"], "--min-score must be between 0 and 1"),
    (["search", "x", "--url", "http://localhost:1"], "not both"),
])
def test_bad_search_input_is_exit_2(tmp_path: Path, args: list[str], message: str):
    result = runner.invoke(memory_app, [*args, "--path", str(tmp_path / "m")])
    assert result.exit_code == 2 and message in result.stderr
    assert result.stderr.strip().count("\n") == 0


def test_bad_embedding_is_exit_2(tmp_path: Path, history: Path):
    result = runner.invoke(memory_app, ["ingest", str(history), "--path", str(tmp_path / "m"), "--embedding", "x"])
    assert result.exit_code == 2 and "--embedding must be one of" in result.stderr


def test_server_down_is_exit_1_one_line(history: Path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = runner.invoke(memory_app, ["ingest", str(history), "--url", f"http://127.0.0.1:{port}"])
    assert result.exit_code == 1 and "unreachable" in result.stderr
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.output
