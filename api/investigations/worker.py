"""The bounded worker pool that runs investigations in the warm process, and restart recovery.

The workspace is opened once and the engine imported once; a request only queues a row. Every outcome is
written back: done with its report, or failed with its reason. Progress steps are written as they happen
and published to subscribers (the chat stream).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from agent.incident import Incident
from agent.investigate import investigate
from api.db import AuditRow, InvestigationRow, utcnow
from api.deps import WarmWorkspace
from api.errors import USER_ERRORS, one_line
from api.metrics import Metrics

log = logging.getLogger("rca.worker")
Event = tuple[str, Any]  # ("step", text) | ("end", status)


class Worker:
    """Runs queued investigations ``settings.workers`` at a time."""

    def __init__(self, *, sessions: sessionmaker[Session], workspace: WarmWorkspace, metrics: Metrics,
                 workers: int, max_attempts: int,
                 engine: Callable[..., Any] = investigate) -> None:
        self.sessions = sessions
        self.workspace = workspace
        self.metrics = metrics
        self.max_attempts = max_attempts
        self.engine = engine
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rca-investigation")
        self._subscribers: dict[str, list[queue.Queue[Event]]] = {}
        self._lock = threading.Lock()
        self.closed = False

    def submit(self, investigation_id: str) -> Future[None]:
        """Queue a run; the row is already stored as queued, so a crash before it runs loses nothing."""
        self.metrics.in_flight.inc()
        return self.pool.submit(self._run_counted, investigation_id)

    def subscribe(self, investigation_id: str) -> queue.Queue[Event]:
        """Events of one run (steps, then ("end", status)); subscribe before submitting."""
        q: queue.Queue[Event] = queue.Queue()
        with self._lock:
            self._subscribers.setdefault(investigation_id, []).append(q)
        return q

    def unsubscribe(self, investigation_id: str, q: queue.Queue[Event]) -> None:
        with self._lock:
            subs = self._subscribers.get(investigation_id, [])
            if q in subs:
                subs.remove(q)
            if not subs:
                self._subscribers.pop(investigation_id, None)

    def _publish(self, investigation_id: str, event: Event) -> None:
        with self._lock:
            subs = list(self._subscribers.get(investigation_id, []))
        for q in subs:
            q.put(event)

    def _run_counted(self, investigation_id: str) -> None:
        try:
            self.run(investigation_id)
        except Exception:  # the run records its own failures; this is the DB itself failing
            log.exception("investigation %s could not be recorded", investigation_id)
        finally:
            self.metrics.in_flight.dec()

    def _claim(self, investigation_id: str) -> tuple[Incident, str, list[dict[str, Any]]] | None:
        with self.sessions() as s:
            row = s.get(InvestigationRow, investigation_id)
            if row is None or row.status != "queued" or self.closed:
                return None
            now = utcnow()
            row.status, row.started_at, row.attempts = "running", now, row.attempts + 1
            row.queue_ms = round((now - row.created_at).total_seconds() * 1000, 1)
            s.commit()
            return Incident.model_validate(row.request), row.created_by or "?", list(row.trace or [])

    def run(self, investigation_id: str) -> None:
        """Run one queued investigation and record the outcome."""
        claimed = self._claim(investigation_id)
        if claimed is None:
            self._publish(investigation_id, ("end", "skipped"))
            return
        incident, actor, trace = claimed  # a resumed run keeps the note of its restart
        t0 = time.perf_counter()

        def progress(step: str) -> None:
            trace.append({"step": step, "ms": round((time.perf_counter() - t0) * 1000, 1)})
            self._publish(investigation_id, ("step", step))
            with self.sessions() as s:
                s.execute(update(InvestigationRow).where(InvestigationRow.id == investigation_id)
                          .values(trace=list(trace)))
                s.commit()

        report: dict[str, Any] | None = None
        error: str | None = None
        try:
            ws = self.workspace.get()
            history = Path(ws.root) / "history.jsonl"
            result = self.engine(workspace=ws, incident=incident, history=history if history.is_file() else None,
                                 progress=progress)
            report = result.model_dump(mode="json")
        except USER_ERRORS as err:
            error = one_line(err)
        except Exception as err:  # recorded with its reason; the service keeps serving
            log.exception("investigation %s failed", investigation_id)
            error = f"internal error: {one_line(err)}"
        run_s = time.perf_counter() - t0
        self._finish(investigation_id, actor=actor, report=report, error=error, trace=trace, run_s=run_s)

    def _finish(self, investigation_id: str, *, actor: str, report: dict[str, Any] | None, error: str | None,
                trace: list[dict[str, Any]], run_s: float) -> None:
        status = "failed" if error else "done"
        with self.sessions() as s:
            s.execute(update(InvestigationRow).where(InvestigationRow.id == investigation_id).values(
                status=status, error=error, report=report, trace=trace, finished_at=utcnow(),
                run_ms=round(run_s * 1000, 1)))
            for item in (report or {}).get("evidence", []):
                if item.get("sql"):
                    s.add(AuditRow(actor=actor, source=f"investigation:{investigation_id}", sql=item["sql"],
                                   ok=True, rows=(item.get("data") or {}).get("rows")))
            s.commit()
        self.metrics.investigations.labels(status=status).inc()
        self.metrics.investigation_seconds.observe(run_s)
        self._publish(investigation_id, ("end", status))

    def recover(self) -> tuple[list[str], list[str]]:
        """After a restart: re-queue interrupted runs (up to max_attempts), fail the rest with the reason."""
        resumed: list[str] = []
        failed: list[str] = []
        with self.sessions() as s:
            rows = s.scalars(select(InvestigationRow).where(InvestigationRow.status.in_(("queued", "running")))
                             .order_by(InvestigationRow.created_at)).all()
            for row in rows:
                if row.status == "running" and row.attempts >= self.max_attempts:
                    row.status, row.finished_at = "failed", utcnow()
                    row.error = (f"interrupted by a service restart {row.attempts} time(s); "
                                 f"not retried again (max_attempts={self.max_attempts})")
                    failed.append(row.id)
                    continue
                if row.status == "running":
                    row.trace = [*(row.trace or []), {"step": "resumed after a service restart", "ms": 0.0}]
                row.status = "queued"
                resumed.append(row.id)
            s.commit()
        for inv_id in resumed:
            self.submit(inv_id)
        return resumed, failed

    def shutdown(self) -> None:
        """Stop taking work; running rows stay 'running' and are resumed by the next start's recover()."""
        self.closed = True
        self.pool.shutdown(wait=False, cancel_futures=True)
