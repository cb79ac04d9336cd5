"""The errors that mean "bad input" at every front door: one line for the CLI, a 4xx for the API."""

from __future__ import annotations

from agent.incident import InputError
from tools.catalog import CatalogError
from tools.warehouse import WarehouseError
from tools.workspace import GuardRejected

USER_ERRORS: tuple[type[BaseException], ...] = (InputError, CatalogError, WarehouseError, GuardRejected,
                                                FileNotFoundError)


def one_line(err: BaseException) -> str:
    """The error as one line, never a traceback."""
    return " ".join(str(err).split()) or type(err).__name__
