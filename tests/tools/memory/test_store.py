import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from chromadb.api.client import SharedSystemClient

from tests.tools.memory.samples import HISTORY, write_history
from tools.memory import HistoryIncident, IncidentMemory, MemoryUnavailable, store


@pytest.fixture(scope="module")
def memory(tmp_path_factory) -> IncidentMemory:
    """One store with the sample history, shared by the read-only search tests."""
    folder = tmp_path_factory.mktemp("mem")
    mem = IncidentMemory.open(path=folder / "memory")
    report = mem.ingest_file(write_history(folder / "history.jsonl", HISTORY))
    assert report.ingested == len(HISTORY) and report.total == len(HISTORY)
    return mem


def test_search_finds_the_paraphrased_precedent(memory: IncidentMemory):
    hits = memory.search(text="Unmasked visitor network addresses showing up in product telemetry", k=3)
    assert memory.embedding == "dense"
    assert hits[0].id in {"INC-1", "INC-5"}
    assert {h.id for h in hits[:2]} == {"INC-1", "INC-5"}
    assert all(0.0 <= h.score <= 1.0 for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    top = next(h for h in hits if h.id == "INC-1")
    assert top.metric == "raw_ip_share" and top.root_cause_kind == "change"
    assert top.root_cause_id == "deploy-2231" and top.opened_at == "2024-03-04T08:00:00Z"


def test_search_filters_by_metric(memory: IncidentMemory):
    hits = memory.search(text="IP addresses in logs", metric="deletion_sla_breach_rate", k=3)
    assert [h.id for h in hits] == ["INC-3"]
    assert memory.search(text="IP addresses in logs", metric="no_such_metric") == []


def test_search_filters_by_cause_kind(memory: IncidentMemory):
    hits = memory.search(text="incident", cause_kind="upstream", k=5)
    assert {h.id for h in hits} == {"INC-3", "INC-4"}


def test_search_filters_by_date_range(memory: IncidentMemory):
    hits = memory.search(text="IP addresses in logs", k=10,
                         opened_after=datetime(2025, 1, 1, tzinfo=UTC), opened_before=datetime(2025, 6, 30))
    assert {h.id for h in hits} == {"INC-3", "INC-4"}
    after = memory.search(text="IP addresses in logs", k=10, opened_after=datetime(2025, 7, 19, 11, tzinfo=UTC))
    assert {h.id for h in after} == {"INC-5", "INC-6"}  # bound is inclusive


def test_search_min_score_drops_weak_hits(memory: IncidentMemory):
    everything = memory.search(text="raw IP addresses in analytics logs", k=6)
    assert len(everything) == 6
    cut = (everything[1].score + everything[2].score) / 2
    strong = memory.search(text="raw IP addresses in analytics logs", k=6, min_score=cut)
    assert [h.id for h in strong] == [h.id for h in everything[:2]]


def test_search_rejects_bad_arguments(memory: IncidentMemory):
    with pytest.raises(ValueError, match="empty"):
        memory.search(text="  ")
    with pytest.raises(ValueError, match="k must be"):
        memory.search(text="x", k=0)


def test_empty_store_returns_nothing(tmp_path: Path):
    mem = IncidentMemory.open(path=tmp_path / "m", embedding="lexical")
    assert mem.count() == 0 and mem.search(text="anything") == []


def test_upsert_is_idempotent_and_updates(tmp_path: Path):
    mem = IncidentMemory.open(path=tmp_path / "m")
    first = HistoryIncident.model_validate(HISTORY[0])
    assert mem.upsert([first]) == 1
    assert mem.upsert([first]) == 1
    assert mem.count() == 1
    changed = first.model_copy(update={"title": "Raw IPs in logs (updated)", "metric": "raw_ip_rate_v2"})
    assert mem.upsert([first, changed]) == 1  # duplicate id in one batch: the later one wins
    assert mem.count() == 1
    [hit] = mem.search(text="raw IPs", k=3)
    assert hit.title == "Raw IPs in logs (updated)" and hit.metric == "raw_ip_rate_v2"


def test_reingesting_a_file_does_not_duplicate(tmp_path: Path, history_file: Path):
    mem = IncidentMemory.open(path=tmp_path / "m", embedding="lexical")
    mem.ingest_file(history_file)
    report = mem.ingest_file(history_file)
    assert report.ingested == len(HISTORY) and report.total == len(HISTORY)


def test_bad_lines_are_reported_and_the_rest_ingested(tmp_path: Path):
    mem = IncidentMemory.open(path=tmp_path / "m", embedding="lexical")
    mem.upsert([HistoryIncident.model_validate(HISTORY[3])])
    rows = [HISTORY[0], "not json at all", {"id": "INC-X", "title": "t"}, HISTORY[1]]
    report = mem.ingest_file(write_history(tmp_path / "bad.jsonl", rows))
    assert (report.lines, report.ingested, report.skipped) == (4, 2, 2)
    assert [e.line for e in report.errors] == [2, 3]
    assert report.total == 3  # what was already stored is still there
    assert {h.id for h in mem.search(text="anything at all", k=5)} == {"INC-1", "INC-2", "INC-4"}


def test_missing_file_leaves_store_untouched(tmp_path: Path, history_file: Path):
    mem = IncidentMemory.open(path=tmp_path / "m", embedding="lexical")
    mem.ingest_file(history_file)
    with pytest.raises(FileNotFoundError):
        mem.ingest_file(tmp_path / "missing.jsonl")
    assert mem.count() == len(HISTORY)


def test_reopen_in_a_new_client_rebuilds_the_embedding_function(tmp_path: Path, history_file: Path):
    folder = tmp_path / "m"
    mem = IncidentMemory.open(path=folder, embedding="lexical")
    mem.ingest_file(history_file)
    before = mem.search(text="raw IP addresses stored in analytics clickstream", k=2)
    del mem
    SharedSystemClient.clear_system_cache()  # drop the in-process client: the next open reads from disk
    again = IncidentMemory.open(path=folder)  # auto would pick dense; the stored lexical config must win
    assert again.embedding == "lexical" and again.count() == len(HISTORY)
    after = again.search(text="raw IP addresses stored in analytics clickstream", k=2)
    assert {h.id for h in after} == {h.id for h in before} == {"INC-1", "INC-5"}
    assert sorted(h.score for h in after) == pytest.approx(sorted(h.score for h in before))


def test_reopen_dense_collection(tmp_path: Path, history_file: Path):
    folder = tmp_path / "m"
    IncidentMemory.open(path=folder).ingest_file(history_file)
    SharedSystemClient.clear_system_cache()
    again = IncidentMemory.open(path=folder, embedding="dense")
    assert again.embedding == "dense"
    assert again.search(text="children signing up without the age check", k=1)[0].id == "INC-6"


def test_explicit_embedding_that_conflicts_with_the_stored_one(tmp_path: Path, history_file: Path):
    IncidentMemory.open(path=tmp_path / "m", embedding="lexical").ingest_file(history_file)
    with pytest.raises(MemoryUnavailable, match="uses lexical embeddings, not dense"):
        IncidentMemory.open(path=tmp_path / "m", embedding="dense")


def test_path_and_url_together_are_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="not both"):
        IncidentMemory.open(path=tmp_path, url="http://localhost:8000")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_server_down_raises_memory_unavailable():
    url = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(MemoryUnavailable, match=r"Chroma server at http://127\.0\.0\.1:\d+ is unreachable"):
        IncidentMemory.open(url=url)


def test_server_that_never_answers_raises_instead_of_hanging():
    with socket.socket() as sock:  # accepts connections (kernel backlog) but never replies
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        with pytest.raises(MemoryUnavailable, match="unreachable"):
            IncidentMemory.open(url=url, connect_timeout_s=0.3)


def test_unusable_folder_raises_memory_unavailable(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(MemoryUnavailable, match="cannot be opened"):
        IncidentMemory.open(path=blocker / "memory")


@pytest.mark.parametrize("filters", [
    {"metric": "raw_ip_share"},
    {"metric": "moderation_backlog"},
    {"cause_kind": "segment"},
    {"opened_after": datetime(2025, 1, 1, tzinfo=UTC)},
    {"opened_before": datetime(2024, 12, 31, tzinfo=UTC), "cause_kind": "change"},
])
def test_filtered_search_gives_the_same_answer_through_chromas_filter(memory: IncidentMemory, monkeypatch,
                                                                       filters):
    """With a tiny oversample the Python-side filter finds too few and Chroma's where-query answers."""
    text = "privacy incident with logs and consent"
    expected = memory.search(text=text, k=2, **filters)
    monkeypatch.setattr(store, "OVERSAMPLE", 1)
    monkeypatch.setattr(store, "OVERSAMPLE_PER_HIT", 1)
    wheres = []
    query = memory._collection.query

    def spy(**kwargs):
        wheres.append(kwargs.get("where"))
        return query(**kwargs)

    monkeypatch.setattr(memory._collection, "query", spy)
    assert memory.search(text=text, k=2, **filters) == expected
    assert expected and wheres[-1] is not None  # Chroma's filtered query did run


@pytest.fixture
def chroma_server(tmp_path: Path):
    """A real `chroma run` server on a free localhost port, stopped after the test."""
    binary = Path(sys.executable).with_name("chroma")
    if not binary.exists():
        pytest.skip("chroma CLI not installed next to this interpreter")
    port = _closed_port()
    proc = subprocess.Popen([str(binary), "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/api/v2/heartbeat", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail("chroma server did not start")
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.slow
def test_http_server_roundtrip(chroma_server: str, history_file: Path):
    mem = IncidentMemory.open(url=chroma_server)
    assert mem.ingest_file(history_file).total == len(HISTORY)
    assert {h.id for h in mem.search(text="unmasked visitor addresses in telemetry", k=2)} == {"INC-1", "INC-5"}
    again = IncidentMemory.open(url=chroma_server)  # a new client rebuilds the stored embedding function
    assert again.embedding == "dense" and again.count() == len(HISTORY)
    assert again.search(text="moderators cannot keep up", k=1, metric="moderation_backlog")[0].id == "INC-4"


def test_reingest_skips_unchanged_incidents(tmp_path: Path, history_file: Path, monkeypatch):
    mem = IncidentMemory.open(path=tmp_path / "m", embedding="lexical")
    assert mem.ingest_file(history_file).unchanged == 0
    embedded: list[str] = []
    original = mem._function.__call__

    def counting(input):
        embedded.extend(input)
        return original(input)

    monkeypatch.setattr(mem._collection, "_embedding_function", counting)
    rows = [dict(HISTORY[0], title="Raw client IPs in analytics event logs (edited)"), *HISTORY[1:]]
    report = mem.ingest_file(write_history(tmp_path / "h2.jsonl", rows))
    assert (report.ingested, report.unchanged, report.total) == (len(HISTORY), len(HISTORY) - 1, len(HISTORY))
    assert len(embedded) == 1 and embedded[0].startswith("Raw client IPs in analytics event logs (edited)")
