"""The bounded worker pool that runs investigations, and restart recovery.

Threads claim rows and record outcomes; the engine itself runs in warm worker processes (imports paid and
workspace opened once per process; ``RCA_WORKER_MODE=thread`` runs it in the threads instead). A request
only queues a row. Every outcome is
written back: done with its report, or failed with its reason. Progress steps are written as they happen
and published to subscribers (the chat stream).
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from agent.incident import Incident
from agent.investigate import investigate
from api.db import AuditRow, InvestigationRow, utcnow
from api.deps import WarmWorkspace
from api.errors import USER_ERRORS, one_line
from api.investigations import engine_process
from api.metrics import Metrics

log = logging.getLogger("rca.worker")
Event = tuple[str, Any]  # ("step", text) | ("end", status)


class Worker:
    """Runs queued investigations ``settings.workers`` at a time."""

    def __init__(self, *, sessions: sessionmaker[Session], workspace: WarmWorkspace, metrics: Metrics,
                 workers: int, max_attempts: int, mode: str = "process") -> None:
        self.sessions = sessions
        self.workspace = workspace
        self.metrics = metrics
        self.max_attempts = max_attempts
        self.mode = mode
        self.workers = workers
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rca-investigation")
        self._subscribers: dict[str, list[queue.Queue[Event]]] = {}
        self._progress: dict[str, tuple[Callable[[str], None], threading.Event]] = {}
        self._lock = threading.Lock()
        self._procs: ProcessPoolExecutor | None = None
        self._events: Any = None
        self.closed = False

    def _process_pool(self) -> ProcessPoolExecutor:
        """The engine processes, started on first use (each imports the engine and opens the workspace once)."""
        with self._lock:
            if self._procs is None:
                ctx = multiprocessing.get_context("spawn")
                self._events = ctx.Queue()
                self._procs = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx,
                                                  initializer=engine_process.init,
                                                  initargs=(self.workspace.settings, self._events))
                threading.Thread(target=self._relay, args=(self._events,), name="rca-progress", daemon=True).start()
            return self._procs

    def _relay(self, events: Any) -> None:
        """Hand the engine processes' progress steps to the run that is waiting for them."""
        while True:
            try:
                item = events.get()
            except (EOFError, OSError, ValueError):
                return
            if item is None:
                return
            inv_id, step = item
            with self._lock:
                entry = self._progress.get(inv_id)
            if entry is None:
                continue
            callback, ended = entry
            if step is None:
                ended.set()
            else:
                callback(step)

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

        report, error = (self._in_process if self.mode == "process" else self._in_thread)(
            investigation_id, incident, progress)
        run_s = time.perf_counter() - t0
        self._finish(investigation_id, actor=actor, report=report, error=error, trace=trace, run_s=run_s)

    def _in_thread(self, investigation_id: str, incident: Incident, progress: Callable[[str], None]
                   ) -> tuple[dict[str, Any] | None, str | None]:
        try:
            ws = self.workspace.get()
            history = Path(ws.root) / "history.jsonl"
            result = investigate(workspace=ws, incident=incident, history=history if history.is_file() else None,
                                 progress=progress)
            return result.model_dump(mode="json"), None
        except USER_ERRORS as err:
            return None, one_line(err)
        except Exception as err:  # recorded with its reason; the service keeps serving
            log.exception("investigation %s failed", investigation_id)
            return None, f"internal error: {one_line(err)}"

    def _in_process(self, investigation_id: str, incident: Incident, progress: Callable[[str], None]
                    ) -> tuple[dict[str, Any] | None, str | None]:
        ended = threading.Event()
        with self._lock:
            self._progress[investigation_id] = (progress, ended)
        try:
            future = self._process_pool().submit(engine_process.run, investigation_id, incident.model_dump_json())
            kind, value = future.result()
            ended.wait(timeout=10)  # every step relayed before the outcome is written
        except BrokenProcessPool as err:
            with self._lock:
                self._procs = None  # the next run starts fresh processes
            return None, f"internal error: the engine process died ({one_line(err)})"
        finally:
            with self._lock:
                self._progress.pop(investigation_id, None)
        return (value, None) if kind == "ok" else (None, str(value))

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
        with self._lock:
            procs, self._procs = self._procs, None
        if procs is not None:
            for proc in list(getattr(procs, "_processes", {}).values()):
                proc.terminate()  # a run cut here is resumed at the next start
            procs.shutdown(wait=False, cancel_futures=True)
        if self._events is not None:
            self._events.put(None)
