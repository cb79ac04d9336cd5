"""Model access: one ``ChatOpenAI`` on any OpenAI-compatible endpoint, or None (= the offline analyst).

Every request carries ``max_tokens``, a timeout and bounded retries with exponential backoff (the openai
client retries 429, 5xx and timeouts itself, honouring ``Retry-After``).
"""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel

from tools.settings import Settings


def llm_configured(settings: Settings) -> bool:
    """An LLM is used only when a key or a base URL is set; otherwise the deterministic analyst runs."""
    return settings.llm_api_key is not None or settings.llm_base_url is not None


def build_chat_model(settings: Settings) -> BaseChatModel | None:
    """The chat model the settings describe, or None when none is configured."""
    if not llm_configured(settings):
        return None
    from langchain_openai import ChatOpenAI

    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else "not-needed"  # vLLM / Ollama
    # langchain-openai renames max_tokens to max_completion_tokens; servers that predate the new name get
    # the old field through extra_body, which is sent as is
    legacy = settings.llm_max_tokens_field == "max_tokens"
    return ChatOpenAI(model=settings.llm_model, base_url=settings.llm_base_url, api_key=key,
                      timeout=settings.llm_timeout_s, max_retries=settings.llm_max_retries,
                      max_tokens=None if legacy else settings.llm_max_tokens,
                      extra_body={"max_tokens": settings.llm_max_tokens} if legacy else None,
                      temperature=settings.llm_temperature, stream_usage=True)
