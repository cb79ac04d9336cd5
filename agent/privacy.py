"""Redaction before anything reaches the model, a trace or a report: PII values and raw unit ids become tokens.

Two nets: the known values of the catalog's PII columns and of every metric's unit column (read locally,
never shown), and patterns for what PII looks like wherever it hides (emails, IPs, long hex / UUID ids,
phone numbers) - free text such as change descriptions is not in any column list.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

from tools.workspace import Workspace

PATTERNS: dict[str, re.Pattern[str]] = {
    "email": re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    "ip": re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b|\b(?:[0-9a-fA-F]{1,4}:){3,7}[0-9a-fA-F]{1,4}\b"),
    "uuid": re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
    # long hex ids, not the digits of a float ("5.055173295452148e-41")
    "hex_id": re.compile(r"(?<![.\d])\b(?=[0-9a-fA-F]*[a-fA-F])(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{12,}\b(?![-+]\d)"),
    "phone": re.compile(r"\+\d[\d -]{8,}\d"),
}
_TOKEN = re.compile(r"[\w@+-]+(?:[.:][\w@+-]+)*")
MAX_KNOWN = 500_000  # distinct PII / unit values loaded for matching; patterns still catch the rest


def _tag(kind: str, value: str) -> str:
    return f"<{kind}:{hashlib.sha256(value.encode()).hexdigest()[:6]}>"


def _tagger(kind: str) -> Callable[[re.Match[str]], str]:
    return lambda m: _tag(kind, m.group())


class Redactor:
    """Replace PII with stable tags (same value, same tag) so the model can still count and compare."""

    def __init__(self, known: dict[str, str] | None = None) -> None:
        self.known = known or {}  # value -> kind (the column it came from)

    @classmethod
    def for_workspace(cls, ws: Workspace) -> Redactor:
        """Load the distinct values of PII and unit columns straight from the warehouse (local only)."""
        cols: dict[str, set[str]] = {t: set(c) for t, c in ws.catalog.pii.items()}
        for m in ws.catalog.metrics.values():
            if m.unit:
                cols.setdefault(m.table, set()).add(m.unit)
        schema = ws.warehouse.schema()
        known: dict[str, str] = {}
        for table, columns in cols.items():
            for column in sorted(columns):
                if table not in schema or column not in schema[table]:
                    continue
                q = f'SELECT DISTINCT CAST("{column}" AS VARCHAR) FROM "{table}" LIMIT {MAX_KNOWN}'
                try:  # deliberately not through the guard: this read never leaves the process
                    rows = ws.warehouse.run(q, timeout_s=ws.settings.query_timeout_s, max_rows=MAX_KNOWN).rows
                except Exception:  # noqa: BLE001 - an unreadable column leaves the patterns as the net
                    continue
                for (v,) in rows:
                    text = str(v) if v is not None else ""
                    if len(text) >= 4 and not (text.isdigit() and len(text) < 8):  # not a count in a sentence
                        known[text] = column
        return cls(known)

    def text(self, value: str) -> str:
        """Redact one string."""
        if self.known:
            value = _TOKEN.sub(lambda m: _tag(self.known[m.group()], m.group()) if m.group() in self.known
                               else m.group(), value)
        for kind, pattern in PATTERNS.items():
            value = pattern.sub(_tagger(kind), value)
        return value

    def value(self, value: Any) -> Any:
        """Redact any JSON-like value, recursively (keys too)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value

    def leaks(self, text: str) -> list[str]:
        """The raw PII values found in ``text`` (tests and the trace audit use it)."""
        found = [v for v in self.known if v in text]
        for pattern in PATTERNS.values():
            found += [m.group() for m in pattern.finditer(text)]
        return found
