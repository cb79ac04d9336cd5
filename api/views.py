"""Human views of a report (rich, for the terminal)."""

from __future__ import annotations

from rich.console import Console
from rich.markdown import Markdown
from rich.table import Table

from agent.report import Report


def print_report(report: Report, console: Console) -> None:
    """The ranked causes as a table, then the narrative."""
    a = report.anomaly
    console.print(f"[bold]{report.incident_id}[/bold] · {report.metric}: {a.baseline:.4g} → {a.observed:.4g} "
                  f"({a.start} .. {a.end}, onset {a.onset})")
    table = Table(title="Candidate causes", title_justify="left")
    for c in ("rank", "kind", "id", "score", "effect", "p", "refutations"):
        table.add_column(c, overflow="fold")
    for rc in report.root_causes[:10]:
        refs = " ".join(("✓" if v else "✗") + k for k, v in rc.refutations.items())
        table.add_row(str(rc.rank), rc.kind, rc.id, f"{rc.score:.2f}",
                      "" if rc.effect is None else f"{rc.effect:.4g}",
                      "" if rc.p_value is None else f"{rc.p_value:.2g}", refs)
    console.print(table)
    console.print(Markdown(report.narrative))
