"""Feedback: a responder marks an investigation's conclusion right or wrong, with the true cause."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.common import Text


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    correct: bool = Field(description="Was the top-ranked cause the real one?")
    true_cause: Text | None = Field(None, min_length=1, max_length=200,
                                    description="The real cause's id (change / experiment / metric / segment).")
    comment: Text = Field("", max_length=5000)

    @model_validator(mode="after")
    def _cause_when_wrong(self) -> FeedbackIn:
        if not self.correct and not self.true_cause:
            raise ValueError("true_cause is required when correct is false")
        return self


class FeedbackOut(BaseModel):
    id: int
    investigation_id: str
    incident_id: str
    correct: bool
    concluded_cause: str | None = Field(description="The investigation's top cause when the feedback was given.")
    true_cause: str | None
    comment: str
    created_by: str | None
    created_at: datetime


class FeedbackStats(BaseModel):
    total: int
    correct: int
    accuracy: float | None = Field(description="Share marked correct (None with no feedback).")
