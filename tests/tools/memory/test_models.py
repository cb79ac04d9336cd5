from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from tests.tools.memory.samples import HISTORY
from tools.memory.models import HistoryIncident, SimilarIncident


def test_history_incident_accepts_spec_line_and_ignores_extra_keys():
    incident = HistoryIncident.model_validate(HISTORY[4])
    assert incident.id == "INC-5"
    assert incident.root_cause.kind == "change" and incident.root_cause.id == "cfg-edge-ipv6"
    assert incident.closed_at is None and incident.postmortem is None
    assert not hasattr(incident, "reporter")


def test_naive_timestamps_are_utc():
    incident = HistoryIncident.model_validate(HISTORY[5])
    assert incident.opened_at == datetime(2025, 11, 2, 10, tzinfo=UTC)


@pytest.mark.parametrize("missing", ["id", "title", "description", "opened_at", "root_cause"])
def test_required_fields(missing):
    row = {k: v for k, v in HISTORY[0].items() if k != missing}
    with pytest.raises(ValidationError) as info:
        HistoryIncident.model_validate(row)
    assert missing in str(info.value)


def test_root_cause_needs_kind_and_summary():
    row = dict(HISTORY[0], root_cause={"id": "deploy-1"})
    with pytest.raises(ValidationError) as info:
        HistoryIncident.model_validate(row)
    assert "kind" in str(info.value) and "summary" in str(info.value)


def test_similar_incident_score_is_bounded():
    with pytest.raises(ValidationError):
        SimilarIncident(id="x", score=1.5, title="t", root_cause_kind="change", root_cause_summary="s")
