"""Read ``history.jsonl`` leniently: a bad line is reported with its number and skipped, the rest kept."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from tools.memory.models import HistoryIncident, LineError


def _describe(error: ValidationError) -> str:
    """One short sentence per problem, naming the key: ``root_cause.summary: Field required``."""
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "line"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def parse_history(path: Path) -> tuple[list[HistoryIncident], list[LineError]]:
    """Parse every line of a history file; raise only if the file itself cannot be read.

    Returns the valid incidents in file order (a later line with the same id wins when stored)
    and one ``LineError`` per rejected line. Blank lines are ignored.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"history file not found: {path}")
    incidents: list[HistoryIncident] = []
    errors: list[LineError] = []
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, raw in enumerate(handle, start=1):
            text = raw.strip()
            if not text:
                continue
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                errors.append(LineError(line=number, message=f"not valid JSON: {exc.msg} at column {exc.colno}"))
                continue
            if not isinstance(data, dict):
                errors.append(LineError(line=number, message=f"expected a JSON object, got {type(data).__name__}"))
                continue
            try:
                incidents.append(HistoryIncident.model_validate(data))
            except ValidationError as exc:
                errors.append(LineError(line=number, message=_describe(exc)))
    return incidents, errors
