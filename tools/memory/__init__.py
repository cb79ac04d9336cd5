"""Incident memory: have we seen this before, and what was it then?"""

from tools.memory.embeddings import EmbeddingUnavailable, OpenAIEmbeddingOptions
from tools.memory.history import parse_history
from tools.memory.models import HistoryIncident, IngestReport, LineError, RootCause, SimilarIncident
from tools.memory.store import IncidentMemory, MemoryUnavailable

__all__ = [
    "EmbeddingUnavailable",
    "HistoryIncident",
    "IncidentMemory",
    "IngestReport",
    "LineError",
    "MemoryUnavailable",
    "OpenAIEmbeddingOptions",
    "RootCause",
    "SimilarIncident",
    "parse_history",
]
