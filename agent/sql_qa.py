"""SQL from a question: the model writes one query from the catalog and similar verified pairs; the guard
validates it; a rejection or a database error goes back (redacted) for at most N repairs.

"Refused" means no query ran: the model declined (REFUSE) or every attempt was rejected by the guard.
"""

from __future__ import annotations

import re
from typing import Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from agent.narrative import PROMPTS
from agent.privacy import Redactor
from tools.memory.sql_pairs import SqlPair, SqlPairStore
from tools.workspace import GuardRejected, WarehouseError, Workspace

SQL_BLOCK = re.compile(r"```(?:sql)?\s*(.*?)```", re.S | re.I)


class Attempt(BaseModel):
    sql: str
    error: str | None = None
    rule: str | None = None


class SqlAnswer(BaseModel):
    """What came of one question: rows (redacted), or why not, and every attempt on the way."""

    question: str
    status: Literal["ok", "refused", "error"]
    sql: str | None = None
    columns: list[str] = Field(default_factory=list)
    rows: list[list[object]] = Field(default_factory=list)
    attempts: list[Attempt] = Field(default_factory=list)
    examples: list[SqlPair] = Field(default_factory=list)
    message: str | None = None


def tables_text(ws: Workspace) -> tuple[str, str]:
    pii = {t: set(c) for t, c in ws.catalog.pii.items()}
    tables = "\n".join(f"- {t}(" + ", ".join(f"{c} {ty}{' PII' if c in pii.get(t, ()) else ''}"
                                             for c, ty in cols.items()) + ")"
                       for t, cols in sorted(ws.warehouse.schema().items()))
    metrics = "\n".join(f"- {n}: {m.value} over {m.table} (time column {m.timestamp}; unit {m.unit}; "
                        f"dimensions {', '.join(m.dimensions)}) -- {m.description}"
                        for n, m in ws.catalog.metrics.items())
    return tables, metrics


def extract_sql(text: str) -> str | None:
    """The SQL in a reply (a fenced block, else the bare text); None when the model refused."""
    if re.fullmatch(r"\W*REFUSE\W*", text.strip(), re.I):
        return None
    m = SQL_BLOCK.search(text)
    return (m.group(1) if m else text).strip().rstrip(";").strip() or None


def answer_question(*, ws: Workspace, question: str, model: BaseChatModel, redactor: Redactor,
                    examples: SqlPairStore | None = None, workspace_name: str = "", repairs: int | None = None,
                    history: list[AnyMessage] | None = None) -> SqlAnswer:
    """Ask, guard, run, repair; never raises for a bad query."""
    repairs = ws.settings.llm_sql_repairs if repairs is None else repairs
    shots = examples.similar(question, k=3, workspace=workspace_name or None) if examples else []
    tables, metrics = tables_text(ws)
    ex_text = "\n".join(f"Q: {p.question}\n```sql\n{p.sql}\n```" for p in shots) or "(none yet)"
    system = (PROMPTS / "sql_system.md").read_text().format(dialect=ws.catalog.dialect, tables=tables,
                                                             metrics=metrics, examples=ex_text)
    messages: list[AnyMessage] = [SystemMessage(content=redactor.text(system)), *(history or []),
                                  HumanMessage(content=redactor.text(question))]
    answer = SqlAnswer(question=redactor.text(question), status="error", examples=shots)
    for _ in range(repairs + 1):
        reply = model.invoke(messages)
        text = reply.content if isinstance(reply.content, str) else str(reply.content)
        sql = extract_sql(text)
        if sql is None:
            answer.status, answer.message = "refused", "the model declined: the question cannot be answered " \
                                                       "within the rules"
            return answer
        try:
            result = ws.query(sql)
        except GuardRejected as err:
            attempt = Attempt(sql=redactor.text(sql), error=redactor.text(str(err)), rule=err.rule)
        except WarehouseError as err:
            attempt = Attempt(sql=redactor.text(sql), error=redactor.text(f"database error: {err}"), rule="database")
        else:
            answer.attempts.append(Attempt(sql=redactor.text(result.sql)))
            answer.status, answer.sql, answer.columns = "ok", result.sql, result.columns
            answer.rows = redactor.value([list(r) for r in result.rows])
            return answer
        answer.attempts.append(attempt)
        repair = (PROMPTS / "sql_repair.md").read_text().format(sql=attempt.sql, error=attempt.error)
        messages += [AIMessage(content=redactor.text(text)), HumanMessage(content=repair)]
    guard_only = all(a.rule not in (None, "database") for a in answer.attempts)
    answer.status = "refused" if guard_only else "error"
    answer.message = f"no valid query after {repairs} repair(s): {answer.attempts[-1].error}"
    return answer
