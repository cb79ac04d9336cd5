"""The engine in warm worker processes, so investigations never hold the API process's GIL.

Each process pays the engine's imports and opens the workspace once (``init``), then runs investigations
one at a time (``run``). Progress steps go back to the API process over a queue; the step ``None`` marks
the end of a run, so the API knows every step has arrived before it records the outcome.
"""

from __future__ import annotations

from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

from agent.incident import Incident
from api.errors import USER_ERRORS, one_line
from tools.settings import Settings
from tools.workspace import Workspace

_state: dict[str, Any] = {}


def init(settings: Settings, events: Queue[tuple[str, str | None]]) -> None:
    """Process start: import the engine now and open the workspace (a broken one is retried per run)."""
    import agent.investigate  # noqa: F401  (the imports are the cost being paid up front)

    _state.update(settings=settings, events=events, workspace=None)
    try:
        _state["workspace"] = Workspace.open(settings.workspace_dir, settings=settings)
    except USER_ERRORS:
        pass


def _workspace() -> Workspace:
    ws: Workspace | None = _state.get("workspace")
    if ws is None:
        settings: Settings = _state["settings"]
        ws = Workspace.open(settings.workspace_dir, settings=settings)
        _state["workspace"] = ws
    return ws


def run(investigation_id: str, incident_json: str) -> tuple[str, Any]:
    """("ok", report as JSON data) or ("error", the reason in one line); never raises."""
    from agent.investigate import investigate

    events: Queue[tuple[str, str | None]] = _state["events"]

    def progress(step: str) -> None:
        events.put((investigation_id, step))

    try:
        ws = _workspace()
        history = Path(ws.root) / "history.jsonl"
        report = investigate(workspace=ws, incident=Incident.model_validate_json(incident_json),
                             history=history if history.is_file() else None, progress=progress)
        return "ok", report.model_dump(mode="json")
    except USER_ERRORS as err:
        return "error", one_line(err)
    except Exception as err:  # the API records it as failed with this reason
        return "error", f"internal error: {one_line(err)}"
    finally:
        events.put((investigation_id, None))
