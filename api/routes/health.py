"""Liveness for load balancers and the on-call engineer."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import SettingsDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(settings: SettingsDep) -> dict[str, object]:
    """Process is up; says which workspace it serves and whether an LLM is configured."""
    return {"status": "ok", "workspace": str(settings.workspace_dir),
            "llm": "configured" if settings.llm_api_key else "offline analyst"}
