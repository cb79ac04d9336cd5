import numpy as np
import pytest
from chromadb.utils.embedding_functions import config_to_embedding_function

from tools.memory import embeddings
from tools.memory.embeddings import (
    HashingEmbedding,
    MiniLMOnnxEmbedding,
    OpenAIEmbeddingOptions,
    make_embedding,
)


def _cos(a, b):
    return float(np.dot(a, b))


def test_dense_embedding_is_semantic_and_normalised():
    ef = MiniLMOnnxEmbedding()
    a, b, c = ef(["Full client IP addresses written to analytics logs",
                  "Unmasked visitor network addresses showing up in telemetry",
                  "Moderators cannot keep up with the review queue"])
    assert a.shape == (384,)
    assert abs(np.linalg.norm(a) - 1) < 1e-4
    assert _cos(a, b) > _cos(a, c) + 0.1


def test_dense_batching_does_not_change_vectors():
    ef = MiniLMOnnxEmbedding(batch_size=2)
    texts = ["short", "a much longer text about consent banners and trackers firing early", "mid length text"]
    together = np.stack(ef(texts))
    alone = np.stack([ef([t])[0] for t in texts])
    assert np.allclose(together, alone, atol=1e-4)


def test_hashing_embedding_is_deterministic_and_lexical():
    ef = HashingEmbedding(dim=256)
    a1, a2, b, empty = ef(["IP addresses logged", "ip address logging", "consent banner", ""])
    assert np.allclose(a1, HashingEmbedding(dim=256)(["IP addresses logged"])[0])
    assert _cos(a1, a2) > 0.9 and abs(_cos(a1, b)) < 0.5
    assert abs(np.linalg.norm(empty) - 1) < 1e-6


@pytest.mark.parametrize("ef", [MiniLMOnnxEmbedding(max_length=128), HashingEmbedding(dim=512)])
def test_registered_and_rebuilt_from_config(ef):
    rebuilt = config_to_embedding_function({"name": ef.name(), "config": ef.get_config()})
    assert type(rebuilt) is type(ef) and rebuilt.get_config() == ef.get_config()
    assert np.allclose(rebuilt(["same text"])[0], ef(["same text"])[0])


def test_auto_falls_back_to_lexical_when_dense_cannot_load(monkeypatch):
    def broken(*args, **kwargs):
        raise embeddings.EmbeddingUnavailable("no model here")

    monkeypatch.setattr(embeddings, "_load_minilm", broken)
    ef, reason = make_embedding("auto")
    assert isinstance(ef, HashingEmbedding) and reason == "no model here"
    with pytest.raises(embeddings.EmbeddingUnavailable):
        make_embedding("dense")


def test_auto_prefers_dense():
    ef, reason = make_embedding("auto")
    assert isinstance(ef, MiniLMOnnxEmbedding) and reason is None


def test_openai_option_is_configured_without_persisting_the_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    options = OpenAIEmbeddingOptions(model="text-embedding-3-small", base_url="http://127.0.0.1:9/v1",
                                     api_key="sk-test-not-real")
    ef, _ = make_embedding("openai", openai=options)
    assert ef.name() == "openai"
    config = ef.get_config()
    assert config["model_name"] == "text-embedding-3-small" and config["api_base"] == "http://127.0.0.1:9/v1"
    assert "sk-test-not-real" not in repr(config)
    assert embeddings.describe(ef).startswith("openai (text-embedding-3-small")


def test_openai_without_key_is_unavailable(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(embeddings.EmbeddingUnavailable, match="OPENAI_API_KEY"):
        make_embedding("openai", openai=OpenAIEmbeddingOptions())


def test_unknown_kind_is_rejected():
    with pytest.raises(ValueError, match="unknown embedding"):
        make_embedding("bm25")
