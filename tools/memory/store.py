"""Incident memory: past incidents in one Chroma collection, searched by meaning with metadata filters.

Embedded ``PersistentClient`` by default, ``HttpClient`` when a URL is given. Ids are incident ids and
writes are upserts, so re-ingesting a history file updates records and never duplicates them.
Anything that makes the memory unusable (server down, unreadable folder, an embedding the stored
collection needs but this machine cannot load) raises ``MemoryUnavailable`` with a one-line reason,
so the engine can carry on without similar incidents.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import chromadb
import httpx
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.api.types import Documents, EmbeddingFunction
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import NotFoundError
from chromadb.utils.embedding_functions import config_to_embedding_function

from tools.memory.embeddings import (
    AUTO,
    DENSE,
    LEXICAL,
    OPENAI,
    EmbeddingUnavailable,
    OpenAIEmbeddingOptions,
    describe,
    kind_of,
    make_embedding,
    openai_embedding,
)
from tools.memory.history import parse_history
from tools.memory.models import HistoryIncident, IngestReport, SimilarIncident

logger = logging.getLogger(__name__)

DEFAULT_PATH = Path(".rca/memory")
_BATCH = 256
#: Filtered search fetches max(OVERSAMPLE, OVERSAMPLE_PER_HIT * k) nearest incidents unfiltered first.
OVERSAMPLE = 60
OVERSAMPLE_PER_HIT = 20


class MemoryUnavailable(RuntimeError):
    """The incident memory cannot be used right now; the message says where and why, in one line."""


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _epoch(value: datetime) -> int:
    if value.tzinfo is None:  # spec: naive timestamps are UTC
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp())


def incident_document(incident: HistoryIncident) -> str:
    """The text that is embedded: what happened and what it turned out to be."""
    parts = [incident.title, incident.description, incident.root_cause.summary, incident.postmortem or ""]
    return "\n".join(p.strip() for p in parts if p and p.strip())


def incident_metadata(incident: HistoryIncident) -> dict[str, str | int]:
    """Filterable fields; Chroma metadata cannot hold None, so absent values are left out."""
    meta: dict[str, str | int] = {
        "title": incident.title,
        "root_cause_kind": incident.root_cause.kind,
        "root_cause_summary": incident.root_cause.summary,
        "opened_at": _iso(incident.opened_at),
        "opened_at_ts": _epoch(incident.opened_at),
    }
    optional: dict[str, str | int | None] = {
        "metric": incident.metric,
        "root_cause_id": incident.root_cause.id,
        "severity": incident.severity,
        "closed_at": _iso(incident.closed_at) if incident.closed_at else None,
        "closed_at_ts": _epoch(incident.closed_at) if incident.closed_at else None,
    }
    meta.update({k: v for k, v in optional.items() if v is not None})
    return meta


@contextmanager
def _reachable(where: str) -> Iterator[None]:
    """Turn transport failures into MemoryUnavailable; bad arguments (ValueError) pass through."""
    try:
        yield
    except (httpx.HTTPError, ConnectionError, TimeoutError) as exc:
        raise MemoryUnavailable(f"{where} is unreachable: {str(exc) or type(exc).__name__}") from exc


def _http_client(url: str, *, connect_timeout_s: float, request_timeout_s: float) -> ClientAPI:
    """A Chroma HTTP client that fails fast: a heartbeat with a short timeout first, then bounded requests."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not a Chroma server URL: {url!r} (expected http://host:port)")
    ssl = parts.scheme == "https"
    port = parts.port or (443 if ssl else 8000)
    base = f"{parts.scheme}://{parts.hostname}:{port}"
    where = f"Chroma server at {base}"
    try:
        response = httpx.get(f"{base}/api/v2/heartbeat", timeout=connect_timeout_s)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise MemoryUnavailable(f"{where} is unreachable: {str(exc) or type(exc).__name__}") from exc
    with _reachable(where):
        client = chromadb.HttpClient(host=parts.hostname, port=port, ssl=ssl,
                                     settings=ChromaSettings(anonymized_telemetry=False))
    # Chroma's HTTP client has no timeout (httpx timeout=None); bound it so a stuck server cannot hang us.
    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = httpx.Timeout(request_timeout_s, connect=connect_timeout_s)
    return client


class IncidentMemory:
    """Store and search past incidents. Build it with ``IncidentMemory.open(...)``."""

    def __init__(self, *, client: ClientAPI, collection: Collection, function: EmbeddingFunction[Documents],
                 location: str, fallback_reason: str | None = None) -> None:
        self._client = client
        self._collection = collection
        self._function = function
        self.location = location
        self.fallback_reason = fallback_reason

    @classmethod
    def open(cls, *, path: Path | None = None, url: str | None = None, collection: str = "incidents",
             embedding: str = AUTO, openai: OpenAIEmbeddingOptions | None = None,
             connect_timeout_s: float = 2.0, request_timeout_s: float = 30.0) -> IncidentMemory:
        """Open (or create) the collection in an embedded store at ``path`` or on the server at ``url``.

        ``embedding`` is ``auto`` | ``dense`` | ``lexical`` | ``openai``. An existing collection keeps
        the embedding it was built with (rebuilt from its persisted config); ``auto`` accepts it,
        an explicit different choice raises ``MemoryUnavailable`` rather than mixing vector spaces.
        """
        if path is not None and url is not None:
            raise ValueError("give either path or url for the incident memory, not both")
        if url:
            location = f"Chroma server at {url}"
            client = _http_client(url, connect_timeout_s=connect_timeout_s, request_timeout_s=request_timeout_s)
        else:
            folder = Path(path) if path is not None else DEFAULT_PATH
            location = f"Chroma store at {folder}"
            try:
                folder.mkdir(parents=True, exist_ok=True)
                client = chromadb.PersistentClient(path=str(folder),
                                                   settings=ChromaSettings(anonymized_telemetry=False))
            except Exception as exc:  # chroma raises assorted errors for unusable folders
                raise MemoryUnavailable(f"{location} cannot be opened: {exc}") from exc
        with _reachable(location):
            coll, function, fallback = cls._collection_for(client, name=collection, embedding=embedding,
                                                           openai=openai, location=location)
        return cls(client=client, collection=coll, function=function, location=location, fallback_reason=fallback)

    @staticmethod
    def _collection_for(client: ClientAPI, *, name: str, embedding: str, openai: OpenAIEmbeddingOptions | None,
                        location: str) -> tuple[Collection, EmbeddingFunction[Documents], str | None]:
        try:
            existing = client.get_collection(name, embedding_function=None)
        except (NotFoundError, ValueError):
            existing = None
        if existing is None:
            try:
                function, fallback = make_embedding(embedding, openai=openai)
            except EmbeddingUnavailable as exc:
                raise MemoryUnavailable(f"{location}: {exc}") from exc
            coll = client.get_or_create_collection(
                name, embedding_function=function,  # type: ignore[arg-type]  # chroma's generic is invariant
                configuration={"hnsw": {"space": "cosine"}},
                metadata={"description": "rca incident memory: past closed incidents"})
            return coll, function, fallback
        persisted: dict[str, Any] = existing.configuration_json.get("embedding_function") or {}
        stored_name = persisted.get("name", "")
        try:
            if stored_name == OPENAI and openai is not None:
                function = openai_embedding(openai)
            else:
                function = config_to_embedding_function(persisted)
        except (EmbeddingUnavailable, ValueError) as exc:
            raise MemoryUnavailable(
                f"{location}: collection {name!r} was built with embedding {stored_name!r}, "
                f"which cannot be loaded here: {exc}") from exc
        if kind_of(function) not in (DENSE, LEXICAL, OPENAI):  # e.g. Chroma's default, which downloads a model
            raise MemoryUnavailable(f"{location}: collection {name!r} uses embedding {stored_name!r}, "
                                    "which the incident memory does not support offline")
        if embedding != AUTO and kind_of(function) != embedding:
            raise MemoryUnavailable(
                f"{location}: collection {name!r} uses {kind_of(function)} embeddings, not {embedding}; "
                "open it with embedding='auto' or use another collection/path")
        coll = client.get_collection(name, embedding_function=function)  # type: ignore[arg-type]  # as above
        return coll, function, None

    @property
    def embedding(self) -> str:
        """The active embedding kind: dense | lexical | openai."""
        return kind_of(self._function)

    @property
    def embedding_description(self) -> str:
        """Human line naming the active embedding, with the fallback reason when there was one."""
        text = describe(self._function)
        return f"{text} [fallback: {self.fallback_reason}]" if self.fallback_reason else text

    def count(self) -> int:
        """Number of incidents stored."""
        with _reachable(self.location):
            return self._collection.count()

    def upsert(self, incidents: Sequence[HistoryIncident]) -> int:
        """Insert or update incidents by id; returns how many distinct incidents are now stored from them."""
        return self._upsert(incidents)[0]

    def _upsert(self, incidents: Sequence[HistoryIncident]) -> tuple[int, int]:
        """Upsert, skipping incidents stored with the same text and metadata (no re-embedding).

        The engine re-ingests a scenario's history on every run; unchanged lines then cost one
        lookup instead of a model call. Returns (distinct incidents, of which unchanged).
        """
        latest = {incident.id: incident for incident in incidents}  # a later duplicate id wins
        items = list(latest.values())
        unchanged = 0
        with _reachable(self.location):
            for start in range(0, len(items), _BATCH):
                chunk = items[start:start + _BATCH]
                docs = [incident_document(i) for i in chunk]
                metas = [incident_metadata(i) for i in chunk]
                stored = self._collection.get(ids=[i.id for i in chunk], include=["documents", "metadatas"])
                known = {sid: (doc, dict(meta or {})) for sid, doc, meta in
                         zip(stored["ids"], stored["documents"] or [], stored["metadatas"] or [], strict=False)}
                todo = [n for n, item in enumerate(chunk) if known.get(item.id) != (docs[n], metas[n])]
                unchanged += len(chunk) - len(todo)
                if todo:
                    self._collection.upsert(ids=[chunk[n].id for n in todo], documents=[docs[n] for n in todo],
                                            metadatas=[metas[n] for n in todo])
        return len(items), unchanged

    def ingest_file(self, path: Path) -> IngestReport:
        """Parse a history file and upsert its valid lines; bad lines are reported, never stored.

        The file is fully parsed before anything is written, and writes are upserts only, so a bad
        or partly bad file never removes what the store already holds.
        """
        incidents, errors = parse_history(path)
        stored, unchanged = self._upsert(incidents) if incidents else (0, 0)
        for error in errors:
            logger.warning("%s line %d skipped: %s", path, error.line, error.message)
        return IngestReport(path=Path(path), lines=len(incidents) + len(errors), ingested=stored,
                            unchanged=unchanged, skipped=len(errors), errors=errors, total=self.count(),
                            embedding=self.embedding)

    def search(self, *, text: str, k: int = 3, metric: str | None = None, cause_kind: str | None = None,
               opened_after: datetime | None = None, opened_before: datetime | None = None,
               min_score: float = 0.0) -> list[SimilarIncident]:
        """The ``k`` most similar past incidents, best first, optionally filtered by metadata.

        Filtered searches first take the nearest ``OVERSAMPLE`` incidents unfiltered and filter them
        here: Chroma's own metadata-filtered query costs tens of ms per 10k incidents, this costs a few.
        When fewer than ``k`` of those candidates match, Chroma's filtered query runs instead, so the
        answer is the same either way.
        """
        if not text or not text.strip():
            raise ValueError("search text is empty")
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        lo = _epoch(opened_after) if opened_after is not None else None
        hi = _epoch(opened_before) if opened_before is not None else None
        conditions: list[dict[str, Any]] = []
        if metric:
            conditions.append({"metric": {"$eq": metric}})
        if cause_kind:
            conditions.append({"root_cause_kind": {"$eq": cause_kind}})
        if lo is not None:
            conditions.append({"opened_at_ts": {"$gte": lo}})
        if hi is not None:
            conditions.append({"opened_at_ts": {"$lte": hi}})

        def keep(meta: dict[str, Any]) -> bool:
            ts = meta.get("opened_at_ts")
            return ((not metric or meta.get("metric") == metric)
                    and (not cause_kind or meta.get("root_cause_kind") == cause_kind)
                    and (lo is None or (ts is not None and ts >= lo))
                    and (hi is None or (ts is not None and ts <= hi)))

        include: Any = ["metadatas", "distances"]
        with _reachable(self.location):
            vector = self._function([text])[0]
            if not conditions:
                rows = _rows(self._collection.query(query_embeddings=[vector], n_results=k, include=include))
            else:
                pool = max(OVERSAMPLE, OVERSAMPLE_PER_HIT * k)
                candidates = _rows(self._collection.query(query_embeddings=[vector], n_results=pool, include=include))
                rows = [row for row in candidates if keep(row[1])][:k]
                if len(rows) < k and len(candidates) == pool:  # not enough among the nearest: ask Chroma
                    where = conditions[0] if len(conditions) == 1 else {"$and": conditions}
                    rows = _rows(self._collection.query(query_embeddings=[vector], n_results=k,
                                                        where=where,  # type: ignore[arg-type]  # a chroma Where
                                                        include=include))
        hits: list[SimilarIncident] = []
        for incident_id, meta, distance in rows:
            score = max(0.0, min(1.0, 1.0 - distance))
            if score < min_score:
                continue
            hits.append(SimilarIncident(
                id=incident_id, score=round(score, 4), title=str(meta.get("title", "")),
                metric=_opt(meta.get("metric")), root_cause_kind=str(meta.get("root_cause_kind", "")),
                root_cause_id=_opt(meta.get("root_cause_id")),
                root_cause_summary=str(meta.get("root_cause_summary", "")), opened_at=_opt(meta.get("opened_at"))))
        return hits


def _rows(result: Any) -> list[tuple[str, dict[str, Any], float]]:
    """(id, metadata, distance) triples of a single-query Chroma result, nearest first."""
    ids = result["ids"][0] if result["ids"] else []
    metas = (result.get("metadatas") or [[]])[0] or [{}] * len(ids)
    distances = (result.get("distances") or [[]])[0] or [1.0] * len(ids)
    return [(i, dict(m or {}), float(d)) for i, m, d in zip(ids, metas, distances, strict=True)]


def _opt(value: object) -> str | None:
    return None if value is None else str(value)
