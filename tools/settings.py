"""All runtime settings in one place, read from the environment (prefix ``RCA_``) or a ``.env`` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the service; the defaults run the embedded demo with no configuration at all."""

    model_config = SettingsConfigDict(env_prefix="RCA_", env_file=".env", extra="ignore")

    workspace_dir: Path = Field(Path(".rca/workspace"), description="Scenario/workspace folder served by the API.")
    warehouse_url: str | None = Field(None, description="SQLAlchemy URL; unset = embedded DuckDB over data/.")
    warehouse_dialect: str | None = Field(None, description="sqlglot dialect override for warehouse_url.")
    app_db_url: str = Field("sqlite:///.rca/rca.db", description="The service's own state (SQLite or Postgres).")
    chroma_path: Path = Field(Path(".rca/memory"), description="Embedded Chroma folder for incident memory.")
    chroma_url: str | None = Field(None, description="Chroma server URL; overrides chroma_path when set.")
    embedding: str = Field("auto", description="Incident-memory embedding: auto | dense | lexical | openai.")
    llm_base_url: str | None = Field(None, description="OpenAI-compatible endpoint (OpenAI, Azure, vLLM, Ollama).")
    llm_model: str = Field("gpt-4o-mini", description="Chat model name at llm_base_url.")
    llm_api_key: SecretStr | None = Field(None, description="No key = the deterministic offline analyst.")
    query_timeout_s: float = Field(30.0, gt=0, description="Wall-clock cap on one warehouse query.")
    max_rows: int = Field(10_000, gt=0, description="Row cap forced on every guarded query.")
    engine_max_rows: int = Field(200_000, gt=0, description="Row cap on the engine's own aggregate queries "
                                 "(cells, not events); a cut result is reported, never silent.")
    max_agent_steps: int = Field(12, gt=0, description="Tool-call cap before the agent must answer.")
    llm_timeout_s: float = Field(60.0, gt=0, description="Wall-clock cap on one chat-completions request.")
    llm_max_retries: int = Field(3, ge=0, description="Retries (exponential backoff) on 429 / 5xx / timeouts.")
    llm_max_tokens: int = Field(2048, gt=0, description="Output-token cap sent with every request.")
    llm_max_tokens_field: Literal["max_completion_tokens", "max_tokens"] = Field(
        "max_completion_tokens", description="Request field carrying the cap (max_tokens for older servers).")
    llm_temperature: float = Field(0.0, ge=0, description="Sampling temperature (0 = as repeatable as it gets).")
    llm_token_budget: int = Field(200_000, gt=0, description="Tokens one investigation or chat turn may spend.")
    llm_sql_repairs: int = Field(3, ge=0, description="How often a rejected or failing SQL goes back to the model.")
    llm_tool_output_chars: int = Field(6000, gt=200, description="Cap on one tool result shown to the model.")
    artifacts_dir: Path = Field(Path(".rca/artifacts"), description="Charts and other files the agent draws.")
    lookback_hours: int = Field(72, gt=0, description="How far before the anomaly to look for candidate changes.")
    auth_disabled: bool = Field(False, description="Dev only: every request acts as admin; never in production.")
    workers: int = Field(2, gt=0, le=64, description="Investigations run at once in the service's worker pool.")
    worker_mode: Literal["process", "thread"] = Field(
        "process", description="Run the engine in warm worker processes (API stays responsive) or threads.")
    max_attempts: int = Field(2, gt=0, description="Runs of one investigation (restarts included) before it fails.")
    rate_limit_per_minute: int = Field(600, gt=0, description="Requests per minute per API key.")
    max_request_bytes: int = Field(1_000_000, gt=0, description="Largest request body the API accepts.")
    impact_k: int = Field(10, gt=0, description="Impact counts under k are suppressed (k-anonymity).")
    # --- Slack bot (api/slack) ---
    slack_signing_secret: SecretStr | None = Field(
        None, description="Slack app signing secret; unset = /slack/events answers 503 (bot off).")
    slack_bot_token: SecretStr | None = Field(
        None, description="Bot token (xoxb-...) of the default installation (single workspace).")
    slack_api_url: str = Field("https://slack.com/api/", description="Slack Web API base URL (tests: a mock).")
    public_base_url: str = Field("http://127.0.0.1:8000", description="The service's URL as users reach it "
                                 "(links to full reports in Slack).")
    # --- end Slack bot ---
    host: str = "127.0.0.1"
    port: int = 8000


@lru_cache
def get_settings() -> Settings:
    """Cached process-wide settings (tests build their own ``Settings`` instead)."""
    return Settings()
