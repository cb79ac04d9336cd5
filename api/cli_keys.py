"""`rca keys ...`: create and revoke API keys directly in the state database (bootstraps the first admin)."""

from __future__ import annotations

import typer

from api.auth import ROLES, create_key, revoke_key
from api.db import make_engine, make_sessionmaker
from api.migrate import upgrade
from tools.settings import get_settings

keys_app = typer.Typer(help="API keys: create (printed once) and revoke.", no_args_is_help=True)


def _sessions(db: str | None):
    engine = make_engine(db or get_settings().app_db_url)
    upgrade(engine)
    return make_sessionmaker(engine)


@keys_app.command("create")
def create(name: str = typer.Option(..., "--name", help="Who uses the key (shown in the audit log)."),
           role: str = typer.Option("responder", "--role", help="viewer | responder | admin."),
           db: str | None = typer.Option(None, "--db", help="State DB URL (default: $RCA_APP_DB_URL).")) -> None:
    """Create a key and print it (only its hash is stored)."""
    if role not in ROLES:
        typer.echo(f"error: --role must be one of {', '.join(ROLES)}, got {role!r}", err=True)
        raise typer.Exit(2)
    if not name.strip():
        typer.echo("error: --name is empty", err=True)
        raise typer.Exit(2)
    with _sessions(db)() as session:
        row, token = create_key(session, name=name, role=role)
    typer.echo(f"{token}\n", nl=False)
    typer.echo(f"created key {row.id} ({row.name}, {row.role}); store it now, it is not shown again", err=True)


@keys_app.command("revoke")
def revoke(key_id: str = typer.Argument(..., help="The key's id (key-...)."),
           db: str | None = typer.Option(None, "--db", help="State DB URL (default: $RCA_APP_DB_URL).")) -> None:
    """Revoke a key by id."""
    with _sessions(db)() as session:
        if not revoke_key(session, key_id=key_id):
            typer.echo(f"error: key '{key_id}' not found", err=True)
            raise typer.Exit(2)
    typer.echo(f"revoked {key_id}")
