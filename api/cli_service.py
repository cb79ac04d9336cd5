"""`rca batch` and `rca seed`: the service's jobs from the command line, on the same state DB and code."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import typer

from api.batch.models import BatchCreate, BatchItem
from api.runtime import Runtime
from tools.settings import get_settings


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _when(value: str, option: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _fail(f"{option}: expected an ISO date or time (e.g. 2026-05-01), got {value!r}") from None


def batch(closed_from: str = typer.Option(..., "--from", help="Incidents closed at or after (ISO date/time)."),
          closed_to: str = typer.Option(..., "--to", help="...and before (ISO date/time)."),
          concurrency: int = typer.Option(2, "--concurrency", help="Investigations in flight at once (1-16)."),
          no_ingest: bool = typer.Option(False, "--no-ingest", help="Do not store them in the incident memory."),
          as_json: bool = typer.Option(False, "--json", help="Print the final batch as JSON.")) -> None:
    """Re-investigate closed incidents, compare with their recorded root causes, ingest them into memory."""
    from pydantic import ValidationError

    from api.batch import service

    try:
        data = BatchCreate(closed_from=_when(closed_from, "--from"), closed_to=_when(closed_to, "--to"),
                           concurrency=concurrency, ingest_memory=not no_ingest)
    except ValidationError as err:
        raise _fail("; ".join(f"{'.'.join(map(str, e['loc'])) or 'range'}: {e['msg']}" for e in err.errors())
                    ) from None
    runtime = Runtime.build(get_settings())
    runtime.migrate()
    with runtime.sessions() as s:
        row = service.create(session=s, data=data, actor="cli")

    def progress(item: BatchItem, n: int, total: int) -> None:
        verdict = {True: "agrees", False: "DISAGREES", None: "not compared"}[item.agreed]
        typer.echo(f"[{n}/{total}] {item.incident_id}: {item.status}, concluded {item.concluded_cause}, "
                   f"recorded {item.recorded_cause} -> {verdict}" + (f" ({item.error})" if item.error else ""),
                   err=True)

    try:
        out = service.run(runtime=runtime, batch_id=row.id, ingest_memory=data.ingest_memory, progress=progress)
    finally:
        runtime.worker.shutdown()
    if as_json:
        sys.stdout.write(out.model_dump_json(indent=2) + "\n")
        return
    rate = "n/a" if out.agreement_rate is None else f"{out.agreement_rate:.0%}"
    typer.echo(f"batch {out.id} {out.status}: {out.completed}/{out.total} investigated, agreement {rate} "
               f"({out.agreed}/{out.compared}), {out.ingested} ingested into memory"
               + (f"; {out.error}" if out.error else ""))


def seed(base_url: str = typer.Option("http://127.0.0.1:8000", "--base-url", help="Where the service will listen."),
         key_file: Path = typer.Option(Path(".rca/demo-admin-key"), "--key-file",
                                       help="Where the demo admin key is kept between runs.")) -> None:
    """Load the workspace's incident and history into the state DB, make a demo admin key, print two curls."""
    from agent.incident import load_incident
    from api.auth import create_key, hash_key
    from api.db import ApiKeyRow, IncidentRow
    from api.incidents.models import IncidentCreate, RecordedCause
    from api.incidents.service import create
    from tools.memory.history import parse_history

    settings = get_settings()
    runtime = Runtime.build(settings)
    runtime.migrate()
    root = Path(settings.workspace_dir)
    if not (root / "incident.json").is_file():
        raise _fail(f"{root}/incident.json not found: generate the demo workspace first (make demo)")
    incident = load_incident(root / "incident.json")
    seeded = []
    with runtime.sessions() as s:
        if s.get(IncidentRow, incident.id) is None:
            severity = incident.severity if incident.severity in ("SEV1", "SEV2", "SEV3", "SEV4", "SEV5") else None
            create(session=s, data=IncidentCreate.model_validate(dict(
                id=incident.id, title=incident.title, description=incident.description, severity=severity,
                detected_at=incident.detected_at, metric=incident.metric,
                window=incident.window.model_dump() if incident.window else None, filters=incident.filters)),
                actor="seed")
            seeded.append(incident.id)
        history, _errors = parse_history(root / "history.jsonl") if (root / "history.jsonl").is_file() else ([], [])
        for past in history:
            if s.get(IncidentRow, past.id) is not None:
                continue
            closed = (past.closed_at or past.opened_at).replace(tzinfo=None)
            create(session=s, data=IncidentCreate(
                id=past.id, title=past.title, description=past.description, status="closed",
                detected_at=past.opened_at, closed_at=closed, metric=past.metric,
                root_cause=RecordedCause(kind=past.root_cause.kind, id=past.root_cause.id,
                                         summary=past.root_cause.summary),
                postmortem=past.postmortem), actor="seed")
            seeded.append(past.id)
        token = key_file.read_text().strip() if key_file.is_file() else ""
        known = token and s.query(ApiKeyRow).filter_by(hashed=hash_key(token), revoked_at=None).first()
        if not known:
            _, token = create_key(s, name="demo-admin", role="admin")
            key_file.parent.mkdir(parents=True, exist_ok=True)
            key_file.write_text(token + "\n")
            key_file.chmod(0o600)
    typer.echo(f"seeded {len(seeded)} incident(s) into {settings.app_db_url}; demo admin key in {key_file}")
    auth = f'-H "Authorization: Bearer {token}"'
    typer.echo("\nStart an investigation, then fetch its report (markdown):\n")
    typer.echo(f"  curl -si -X POST {auth} {base_url}/api/v1/incidents/{incident.id}/investigations")
    typer.echo(f"  curl -s {auth} -H 'Accept: text/markdown' "
               f"{base_url}/api/v1/incidents/{incident.id}/investigations/latest\n")
    typer.echo(f"(the report is ready when the status is done, a few seconds; API docs at {base_url}/docs)\n")
