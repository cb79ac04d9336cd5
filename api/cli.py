"""The ``rca`` command line: investigate a scenario, check a catalog, run guarded SQL, serve the API.

Bad input prints one line on stderr and exits 2; stdout carries only the requested output.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from api.errors import USER_ERRORS, one_line

app = typer.Typer(help="Root-cause analysis for privacy and trust-and-safety incidents.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
catalog_app = typer.Typer(help="Workspace catalog commands.", no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")
err_console = Console(stderr=True, soft_wrap=True)
out_console = Console()

from api import cli_service  # noqa: E402
from api.cli_keys import keys_app  # noqa: E402

app.add_typer(keys_app, name="keys")
app.command("batch")(cli_service.batch)
app.command("seed")(cli_service.seed)

try:  # the incident-memory commands live in their own module
    from api.cli_memory import memory_app

    app.add_typer(memory_app, name="memory")
except ImportError:  # pragma: no cover - only while the memory module is absent
    pass


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print a one-line error and return the exit to raise."""
    err_console.print(f"error: {message}", markup=False, highlight=False)
    return typer.Exit(code)


@app.command()
def investigate(scenario: Annotated[Path, typer.Argument(help="Scenario folder (spec section 1).")],
                as_json: Annotated[bool, typer.Option("--json", help="Print the report JSON only.")] = False,
                quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr.")] = False,
                offline: Annotated[bool, typer.Option("--offline", help="The offline analyst even if an LLM is "
                                                      "configured.")] = False) -> None:
    """Investigate the scenario's incident and print the report (the LLM agent when RCA_LLM_* is set)."""
    from agent.investigate import investigate_scenario
    from agent.llm import build_chat_model
    from tools.settings import Settings

    def progress(step: str) -> None:
        if not quiet:
            err_console.print(f"[dim]… {step}[/dim]")

    model = None if offline else build_chat_model(Settings())
    try:
        if model is None:
            report = investigate_scenario(scenario, progress=progress)
        else:
            from agent.llm_investigate import investigate_scenario_with_model

            progress("agent investigation")
            report = investigate_scenario_with_model(scenario, model=model, settings=Settings())
    except USER_ERRORS as err:
        raise fail(one_line(err)) from None
    except Exception as err:  # the model endpoint failed after its retries: a failed run, said in one line
        if type(err).__module__.split(".")[0] != "openai":
            raise
        raise fail(f"LLM endpoint: {one_line(err)}", code=1) from None
    if as_json:
        sys.stdout.write(report.model_dump_json(indent=2) + "\n")
        return
    from api.views import print_report

    print_report(report, out_console)


@catalog_app.command("check")
def catalog_check(scenario: Annotated[Path, typer.Argument(help="Scenario or workspace folder.")]) -> None:
    """Validate catalog.yaml and check every table and column against the warehouse."""
    from tools.workspace import Workspace

    try:
        ws = Workspace.open(scenario)
    except USER_ERRORS as err:
        if hasattr(err, "errors"):
            for line in err.errors:
                err_console.print(f"error: {getattr(err, 'path', '')}: {line}", markup=False, highlight=False)
            raise typer.Exit(2) from None
        raise fail(one_line(err)) from None
    c = ws.catalog
    out_console.print(f"ok: {len(c.metrics)} metrics, {len(c.changes)} change sources, "
                      f"{len(c.experiments)} experiment sources, {len(c.graph)} graph edges, "
                      f"{len(ws.warehouse.schema())} tables", markup=False, highlight=False)


@app.command()
def sql(scenario: Annotated[Path, typer.Argument(help="Scenario or workspace folder.")],
        query: Annotated[str, typer.Argument(help="One read-only SELECT over catalog tables.")],
        as_json: Annotated[bool, typer.Option("--json", help="Machine output.")] = False) -> None:
    """Run one query through the SQL guard and print the rows."""
    from tools.workspace import Workspace

    try:
        ws = Workspace.open(scenario)
        result = ws.query(query)
    except USER_ERRORS as err:
        raise fail(one_line(err)) from None
    if as_json:
        payload = {"sql": result.sql, "columns": result.columns, "rows": result.rows,
                   "elapsed_ms": round(result.elapsed_ms, 2), "truncated": result.truncated}
        sys.stdout.write(json.dumps(payload, default=str) + "\n")
        return
    err_console.print(result.sql, markup=False, highlight=False, style="dim")
    table = Table()
    for c in result.columns:
        table.add_column(c)
    for row in result.rows:
        table.add_row(*["" if v is None else str(v) for v in row])
    out_console.print(table)
    err_console.print(f"{len(result.rows)} rows in {result.elapsed_ms:.1f} ms"
                      f"{' (truncated)' if result.truncated else ''}")


def _llm_or_fail():  # noqa: ANN202
    from agent.llm import build_chat_model
    from tools.settings import Settings

    model = build_chat_model(Settings())
    if model is None:
        raise fail("no LLM configured: set RCA_LLM_API_KEY and/or RCA_LLM_BASE_URL (see docs/agent.md)")
    return model


@app.command()
def ask(scenario: Annotated[Path, typer.Argument(help="Scenario or workspace folder.")],
        question: Annotated[str, typer.Argument(help="A question the data can answer, in words.")],
        as_json: Annotated[bool, typer.Option("--json", help="Machine output.")] = False) -> None:
    """Answer a question with guarded SQL the LLM writes (repaired on the guard's message)."""
    from agent.privacy import Redactor
    from agent.sql_qa import answer_question
    from tools.memory.sql_pairs import SqlPairStore
    from tools.settings import Settings
    from tools.workspace import Workspace

    model = _llm_or_fail()
    try:
        ws = Workspace.open(scenario)
        store = SqlPairStore.open(path=Settings().chroma_path)
        ans = answer_question(ws=ws, question=question, model=model, redactor=Redactor.for_workspace(ws),
                              examples=store, workspace_name=scenario.resolve().name)
    except USER_ERRORS as err:
        raise fail(one_line(err)) from None
    if as_json:
        sys.stdout.write(ans.model_dump_json() + "\n")
    else:
        if ans.sql:
            err_console.print(ans.sql, markup=False, highlight=False, style="dim")
        for row in ans.rows:
            out_console.print("\t".join("" if v is None else str(v) for v in row), markup=False, highlight=False)
        if ans.status != "ok":
            err_console.print(f"{ans.status}: {ans.message}", markup=False, highlight=False)
    if ans.status != "ok":
        raise typer.Exit(1)


@app.command()
def chat(scenario: Annotated[Path, typer.Argument(help="Scenario folder (its incident is investigated first).")]
         ) -> None:
    """Investigate, then answer follow-up questions (empty line or Ctrl-D to stop)."""
    from agent.chat import ChatSession, chat_turn
    from agent.incident import load_incident
    from tools.workspace import Workspace

    model = _llm_or_fail()
    try:
        ws = Workspace.open(scenario)
        incident = load_incident(scenario / "incident.json")
    except USER_ERRORS as err:
        raise fail(one_line(err)) from None
    history = scenario / "history.jsonl"
    session = ChatSession(id=incident.id, workspace=str(scenario), incident=incident.model_dump(mode="json"))
    question = "investigate"
    while question:
        for event in chat_turn(session, question, model=model, ws=ws,
                               history_file=history if history.is_file() else None):
            if event.kind == "tool_start":
                err_console.print(f"[dim]… {event.data.get('name')}[/dim]")
            elif event.kind == "answer":
                out_console.print(event.data["text"], markup=False, highlight=False)
        try:
            question = input("> ").strip()
        except EOFError:
            question = ""


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Start the HTTP API (OpenAPI docs at /docs)."""
    import uvicorn

    uvicorn.run("api.main:app", host=host, port=port)


def main() -> None:  # pragma: no cover - console script entry
    app()
