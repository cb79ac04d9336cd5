"""`rca memory ...`: load past incidents into the incident memory and ask it "have we seen this before?"."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from tools.memory import IncidentMemory, MemoryUnavailable
from tools.memory.embeddings import KINDS
from tools.settings import get_settings

memory_app = typer.Typer(
    help="Incident memory: ingest past incidents (history.jsonl) and search for similar ones.",
    no_args_is_help=True,
)

PATH_HELP = "Embedded store folder (default: $RCA_CHROMA_PATH or .rca/memory)."
URL_HELP = "Chroma server URL, e.g. http://localhost:8000 (instead of --path)."


def _fail(message: str, code: int = 2) -> typer.Exit:
    """One line on stderr, no traceback; the caller raises the returned Exit."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _open(*, path: Path | None, url: str | None, collection: str, embedding: str) -> IncidentMemory:
    if path is not None and url is not None:
        raise _fail("give either --path or --url, not both")
    if embedding not in KINDS:
        raise _fail(f"--embedding must be one of {', '.join(KINDS)}, got {embedding!r}")
    if path is None and url is None:
        settings = get_settings()
        url = settings.chroma_url
        path = None if url else settings.chroma_path
    try:
        return IncidentMemory.open(path=path, url=url, collection=collection, embedding=embedding)
    except MemoryUnavailable as exc:
        raise _fail(str(exc), code=1) from None
    except ValueError as exc:
        raise _fail(str(exc)) from None


@memory_app.command("ingest")
def ingest(
    file: Path = typer.Argument(..., help="history.jsonl: one past incident per line (spec section 4)."),
    path: Path | None = typer.Option(None, "--path", help=PATH_HELP),
    url: str | None = typer.Option(None, "--url", help=URL_HELP),
    collection: str = typer.Option("incidents", "--collection", help="Collection name."),
    embedding: str = typer.Option("auto", "--embedding", help="auto | dense | lexical | openai."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 if any line was skipped."),
) -> None:
    """Upsert the incidents of FILE (re-ingesting updates, never duplicates); bad lines are skipped."""
    if not file.is_file():
        raise _fail(f"history file not found: {file}")
    memory = _open(path=path, url=url, collection=collection, embedding=embedding)
    try:
        report = memory.ingest_file(file)
    except MemoryUnavailable as exc:
        raise _fail(str(exc), code=1) from None
    for error in report.errors:
        typer.echo(f"warning: {file} line {error.line} skipped: {error.message}", err=True)
    typer.echo(f"ingested {report.ingested} incident(s) from {file} ({report.unchanged} unchanged, "
               f"{report.skipped} line(s) skipped); "
               f"{report.total} stored in {memory.location}; embedding: {memory.embedding_description}")
    if strict and report.skipped:
        raise typer.Exit(1)


@memory_app.command("search")
def search(
    text: str = typer.Argument(..., help="What happened, e.g. the new incident's title and description."),
    metric: str | None = typer.Option(None, "--metric", help="Only incidents on this metric."),
    cause_kind: str | None = typer.Option(None, "--cause-kind", help="Only this root cause kind."),
    k: int = typer.Option(3, "--k", help="How many incidents to return."),
    min_score: float = typer.Option(0.0, "--min-score", help="Drop hits below this similarity (0..1)."),
    as_json: bool = typer.Option(False, "--json", help="Print the hits as JSON on stdout."),
    path: Path | None = typer.Option(None, "--path", help=PATH_HELP),
    url: str | None = typer.Option(None, "--url", help=URL_HELP),
    collection: str = typer.Option("incidents", "--collection", help="Collection name."),
) -> None:
    """The past incidents most similar to TEXT, best first, with their root causes."""
    if not text.strip():
        raise _fail("search text is empty")
    if k < 1:
        raise _fail(f"--k must be at least 1, got {k}")
    if not 0.0 <= min_score <= 1.0:
        raise _fail(f"--min-score must be between 0 and 1, got {min_score}")
    memory = _open(path=path, url=url, collection=collection, embedding="auto")
    try:
        hits = memory.search(text=text, k=k, metric=metric, cause_kind=cause_kind, min_score=min_score)
    except MemoryUnavailable as exc:
        raise _fail(str(exc), code=1) from None
    if as_json:
        typer.echo(json.dumps([hit.model_dump() for hit in hits], indent=2))
        return
    if not hits:
        typer.echo("no similar incidents found")
        return
    for hit in hits:
        cause = f"{hit.root_cause_kind} {hit.root_cause_id}" if hit.root_cause_id else hit.root_cause_kind
        typer.echo(f"{hit.score:.2f}  {hit.id}  {hit.title}  [{hit.metric or '-'}, {hit.opened_at or '?'}]\n"
                   f"      cause ({cause}): {hit.root_cause_summary}")
