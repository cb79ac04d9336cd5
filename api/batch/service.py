"""Re-investigate the closed incidents of a date range with bounded concurrency and record the agreement.

Each incident's investigation goes through the same worker pool as any other (so the process-wide bound
holds); at most ``concurrency`` of the batch are in flight. The comparison is the top-ranked cause's id
against the recorded root cause's id (its kind when the postmortem recorded no id).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from api.batch.models import BatchCreate, BatchItem, BatchOut
from api.db import BatchRow, IncidentRow, InvestigationRow, new_id, utcnow
from api.errors import one_line
from api.incidents.service import to_engine_incident
from api.investigations import service as investigations
from api.runtime import Runtime

Progress = Callable[[BatchItem, int, int], None]


def create(*, session: Session, data: BatchCreate, actor: str) -> BatchRow:
    """Record a running batch (the runner fills it in)."""
    row = BatchRow(id=new_id("batch"), status="running", closed_from=data.closed_from, closed_to=data.closed_to,
                   concurrency=data.concurrency, results=[], created_by=actor)
    session.add(row)
    session.commit()
    return row


def to_out(row: BatchRow) -> BatchOut:
    return BatchOut(id=row.id, status=row.status,
                    closed_from=row.closed_from, closed_to=row.closed_to, concurrency=row.concurrency,
                    total=row.total, completed=row.completed, compared=row.compared, agreed=row.agreed,
                    agreement_rate=round(row.agreed / row.compared, 4) if row.compared else None,
                    ingested=row.ingested, results=[BatchItem(**r) for r in row.results or []], error=row.error,
                    created_by=row.created_by, created_at=row.created_at, finished_at=row.finished_at)


def closed_incidents(*, session: Session, closed_from: datetime, closed_to: datetime) -> list[IncidentRow]:
    """Closed incidents whose closed_at falls in [closed_from, closed_to), oldest first."""
    return list(session.scalars(select(IncidentRow).where(
        IncidentRow.status == "closed", IncidentRow.closed_at >= closed_from, IncidentRow.closed_at < closed_to)
        .order_by(IncidentRow.closed_at, IncidentRow.id)).all())


def compare(recorded: dict[str, Any] | None, report: dict[str, Any] | None
            ) -> tuple[str | None, str | None, bool | None]:
    """(recorded cause, concluded cause, agreed?) — None when either side is missing."""
    causes = (report or {}).get("root_causes") or []
    top = causes[0] if causes else None
    concluded = top["id"] if top else None
    if not recorded:
        return None, concluded, None
    if recorded.get("id"):
        rec = str(recorded["id"])
        return rec, concluded, None if top is None else rec.lower() == str(top["id"]).lower()
    kind = str(recorded.get("kind"))
    return kind, concluded, None if top is None else kind.lower() == str(top["kind"]).lower()


def ingest(*, runtime: Runtime, incidents: list[IncidentRow]) -> int:
    """Store closed incidents with a recorded cause in the incident memory; returns how many."""
    from tools.memory import IncidentMemory
    from tools.memory.models import HistoryIncident, RootCause

    items = [HistoryIncident(id=r.id, title=r.title, description=r.description or r.title, metric=r.metric,
                             opened_at=r.detected_at, closed_at=r.closed_at, severity=r.severity,
                             root_cause=RootCause(kind=r.root_cause["kind"], id=r.root_cause.get("id"),
                                                  summary=r.root_cause.get("summary") or r.title),
                             postmortem=r.postmortem)
             for r in incidents if r.root_cause]
    if not items:
        return 0
    s = runtime.settings
    memory = IncidentMemory.open(path=None if s.chroma_url else s.chroma_path, url=s.chroma_url, embedding=s.embedding)
    memory.upsert(items)
    return len(items)


def _record(sessions: sessionmaker[Session], batch_id: str, item: BatchItem, lock: threading.Lock) -> None:
    with lock, sessions() as s:
        row = s.get(BatchRow, batch_id)
        assert row is not None
        row.results = [*(row.results or []), item.model_dump()]
        row.completed += 1
        if item.agreed is not None:
            row.compared += 1
            row.agreed += int(item.agreed)
        s.commit()


def run(*, runtime: Runtime, batch_id: str, ingest_memory: bool = True, progress: Progress | None = None) -> BatchOut:
    """Run the batch to the end (blocking) and return its final state."""
    sessions, worker = runtime.sessions, runtime.worker
    try:
        with sessions() as s:
            batch = s.get(BatchRow, batch_id)
            assert batch is not None
            rows = closed_incidents(session=s, closed_from=batch.closed_from, closed_to=batch.closed_to)
            batch.total = len(rows)
            s.commit()
            gate = threading.Semaphore(batch.concurrency)
            jobs = []
            for inc in rows:
                inv = investigations.create(session=s, incident=to_engine_incident(inc), created_by=batch.created_by
                                            or "batch", batch_id=batch_id)
                jobs.append((inc.id, inc.root_cause, inv.id))
        lock = threading.Lock()
        done_count = [0]
        finished = threading.Event()
        if not jobs:
            finished.set()

        def on_done(incident_id: str, recorded: dict[str, Any] | None, inv_id: str) -> None:
            gate.release()
            with sessions() as s2:
                inv = s2.get(InvestigationRow, inv_id)
                status, report, error = (inv.status, inv.report, inv.error) if inv else ("missing", None, None)
            rec, concluded, agreed = compare(recorded, report if status == "done" else None)
            item = BatchItem(incident_id=incident_id, investigation_id=inv_id, status=status, recorded_cause=rec,
                             concluded_cause=concluded, agreed=agreed, error=error)
            _record(sessions, batch_id, item, lock)
            with lock:
                done_count[0] += 1
                n = done_count[0]
            if progress is not None:
                progress(item, n, len(jobs))
            if n == len(jobs):
                finished.set()

        def callback(incident_id: str, recorded: dict[str, Any] | None, inv_id: str) -> Callable[[Any], None]:
            return lambda _future: on_done(incident_id, recorded, inv_id)

        for incident_id, recorded, inv_id in jobs:
            gate.acquire()
            worker.submit(inv_id).add_done_callback(callback(incident_id, recorded, inv_id))
        finished.wait()
        ingested, note = 0, None
        if ingest_memory:
            try:
                with sessions() as s:
                    ingested = ingest(runtime=runtime, incidents=closed_incidents(
                        session=s, closed_from=batch.closed_from, closed_to=batch.closed_to))
            except Exception as err:  # memory down: the comparison still stands, the reason is recorded
                note = f"incident memory ingest failed: {one_line(err)}"
        with sessions() as s:
            s.execute(update(BatchRow).where(BatchRow.id == batch_id).values(
                status="done", ingested=ingested, error=note, finished_at=utcnow()))
            s.commit()
    except Exception as err:  # recorded, never lost
        with sessions() as s:
            s.execute(update(BatchRow).where(BatchRow.id == batch_id).values(
                status="failed", error=f"internal error: {one_line(err)}", finished_at=utcnow()))
            s.commit()
    with sessions() as s:
        final = s.get(BatchRow, batch_id)
        assert final is not None
        return to_out(final)


def fail_interrupted(*, sessions: sessionmaker[Session]) -> int:
    """After a restart: batches left running are failed with the reason (their investigations resume)."""
    with sessions() as s:
        result = s.execute(update(BatchRow).where(BatchRow.status == "running").values(
            status="failed", finished_at=utcnow(),
            error="interrupted by a service restart; its investigations were resumed, re-run the batch to compare"))
        s.commit()
        return int(getattr(result, "rowcount", 0) or 0)
