"""Step: past incidents like this one, from the incident memory (a scenario's history.jsonl is ingested first)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from agent.report import RetrievalData, SimilarOut
from agent.state import Investigation, StepTrail
from tools.settings import Settings


@dataclass
class SimilarFound:
    """What the memory returned (None if it failed) and the limitations met on the way."""

    incidents: list[SimilarOut] | None
    limitations: list[str] = field(default_factory=list)


@dataclass
class SimilarStepOut:
    incidents: list[SimilarOut]
    evidence_id: str | None
    trail: StepTrail


def find_similar(*, settings: Settings, text: str, history: Path | None) -> SimilarFound:
    """Past incidents like this one (None if the memory failed) and the limitations met on the way.

    Touches no investigation state, so it can run beside the causal steps (embedding and Chroma release the GIL).
    """
    limitations: list[str] = []
    try:
        from tools.memory import IncidentMemory, MemoryUnavailable
    except ImportError:
        return SimilarFound(None, ["incident memory not available in this build"])
    try:
        if history is not None:
            # A scenario's history is private to it: an ephemeral store, removed when done.
            with tempfile.TemporaryDirectory(prefix="rca-memory-") as tmp:
                memory = IncidentMemory.open(path=Path(tmp), embedding=settings.embedding)
                report = memory.ingest_file(history)
                for err in getattr(report, "errors", [])[:5]:
                    limitations.append(f"history.jsonl line {err.line}: {err.message} (skipped)")
                hits = memory.search(text=text, k=3)
        else:
            memory = IncidentMemory.open(path=settings.chroma_path if not settings.chroma_url else None,
                                         url=settings.chroma_url, embedding=settings.embedding)
            hits = memory.search(text=text, k=3)
    except (MemoryUnavailable, FileNotFoundError, OSError) as err:
        return SimilarFound(None, [*limitations, f"no similar incidents: {err}"])
    out = [SimilarOut(id=h.id, score=round(h.score, 4), title=h.title, root_cause_kind=h.root_cause_kind,
                      root_cause_summary=h.root_cause_summary) for h in hits]
    return SimilarFound(out, limitations)


def record_similar(inv: Investigation, found: SimilarFound, text: str) -> SimilarStepOut:
    """Add the retrieval to the evidence (and its limitations to the report)."""
    mark = inv.mark()
    inv.limitations.extend(found.limitations)
    if found.incidents is None:
        return SimilarStepOut(incidents=[], evidence_id=None, trail=inv.trail(mark))
    eid = inv.evidence.add("Similar past incidents", RetrievalData(
        query=text, results=[o.model_dump() for o in found.incidents]), method="incident memory (Chroma) search")
    return SimilarStepOut(incidents=found.incidents, evidence_id=eid, trail=inv.trail(mark))
