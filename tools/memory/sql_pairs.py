"""Verified question -> SQL pairs in a Chroma collection: the few most similar go into the SQL prompt.

A pair is added when a responder marks an answer right. Embeddings are the incident memory's offline ones
(no model download at run time); the workspace name is metadata, so pairs of one warehouse stay with it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import chromadb
from chromadb.api.models.Collection import Collection
from chromadb.config import Settings as ChromaSettings
from pydantic import BaseModel

from tools.memory.embeddings import AUTO, make_embedding

COLLECTION = "sql_pairs"


class SqlPair(BaseModel):
    """One verified pair and how close it is to the question asked."""

    question: str
    sql: str
    workspace: str = ""
    score: float = 0.0


class SqlPairStore:
    """Add and search verified pairs; open with ``SqlPairStore.open(path=...)``."""

    def __init__(self, collection: Collection) -> None:
        self._collection = collection

    @classmethod
    def open(cls, *, path: Path, embedding: str = AUTO) -> SqlPairStore:
        Path(path).mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False))
        function, _ = make_embedding(embedding)
        coll = client.get_or_create_collection(COLLECTION, embedding_function=function,  # type: ignore[arg-type]
                                               configuration={"hnsw": {"space": "cosine"}})
        return cls(coll)

    def add(self, *, question: str, sql: str, workspace: str = "") -> str:
        """Upsert a verified pair (the same question in the same workspace replaces the old SQL)."""
        pid = hashlib.sha256(f"{workspace}\n{question.strip().lower()}".encode()).hexdigest()[:16]
        self._collection.upsert(ids=[pid], documents=[question], metadatas=[{"sql": sql, "workspace": workspace}])
        return pid

    def similar(self, question: str, *, k: int = 3, workspace: str | None = None) -> list[SqlPair]:
        """The ``k`` nearest verified pairs (of ``workspace`` when given)."""
        n = self._collection.count()
        if n == 0:
            return []
        where = {"workspace": workspace} if workspace else None
        res = self._collection.query(query_texts=[question], n_results=min(k, n), where=where)  # type: ignore
        out = []
        docs, metas, dists = (res["documents"] or [[]])[0], (res["metadatas"] or [[]])[0], (res["distances"] or [[]])[0]
        for doc, meta, dist in zip(docs, metas, dists, strict=False):
            out.append(SqlPair(question=doc, sql=str(meta["sql"]), workspace=str(meta.get("workspace", "")),
                               score=round(1.0 - float(dist), 4)))
        return out

    def count(self) -> int:
        return self._collection.count()
