"""Reading the responder's ticket: the direction they say the metric moved."""

from __future__ import annotations

from datetime import datetime

import pytest

from agent.incident import Incident, stated_direction


def _incident(title: str, description: str = "") -> Incident:
    return Incident(id="INC-1", title=title, description=description, detected_at=datetime(2026, 3, 1))


@pytest.mark.parametrize(("title", "description", "expected"), [
    ("Consent reject-all rate dropped", "", "down"),
    ("Fewer users rejecting tracking", "", "down"),
    ("User report rate spiking", "", "up"),
    ("Pre-consent tracker rate up", "", "up"),
    ("Deletion job completion rate down", "", "down"),
    ("PetSite latency degraded", "Alarm on PetSite latency (Average).", None),        # no direction word
    ("Report response SLA breaches", "Fewer reviewers were online; the backlog grew.", None),  # both ways
    ("Consent banner alert", "The share of sessions with a report is well above normal.", "up"),  # description
    ("Rate dropped, then spiked", "It went up afterwards.", "up"),   # title says both: the description decides
])
def test_the_stated_direction_comes_from_the_title_then_the_description(title: str, description: str,
                                                                        expected: str | None):
    assert stated_direction(_incident(title, description)) == expected


def test_direction_words_match_whole_words_only():
    assert stated_direction(_incident("Upload errors in the uploader", "Updated dashboards")) is None
    assert stated_direction(_incident("Droplet count", "")) is None
