"""Small realistic history shared by the memory tests."""

from __future__ import annotations

import json
from pathlib import Path

HISTORY = [
    {"id": "INC-1", "title": "Raw client IPs in analytics event logs",
     "description": "Full IPv4 addresses found in the analytics events table; truncation was skipped.",
     "metric": "raw_ip_share", "opened_at": "2024-03-04T08:00:00Z", "closed_at": "2024-03-05T16:00:00Z",
     "severity": "SEV2", "root_cause": {"kind": "change", "id": "deploy-2231",
                                        "summary": "Analytics SDK upgrade dropped the IP truncation step."},
     "postmortem": "Contract test fails the build when an event carries a full IP."},
    {"id": "INC-2", "title": "Marketing pixels firing before consent",
     "description": "Ad pixel and analytics tags loaded before the cookie banner was answered.",
     "metric": "pre_consent_tracker_rate", "opened_at": "2024-06-12T10:00:00Z",
     "root_cause": {"kind": "change", "id": "gtm-188", "summary": "Tag manager trigger changed to all pages."}},
    {"id": "INC-3", "title": "Deletion requests breaching the 30-day SLA",
     "description": "Account erasure requests older than 30 days piled up; the erasure pipeline stalled.",
     "metric": "deletion_sla_breach_rate", "opened_at": "2025-01-10T09:00:00Z", "severity": "SEV1",
     "root_cause": {"kind": "upstream", "id": "vendor_api_error_rate",
                    "summary": "Email vendor rate limits starved the erasure queue."}},
    {"id": "INC-4", "title": "Moderation queue backlog over 48 hours",
     "description": "Items waiting for human review grew to 120k after the auto-action classifier was rolled back.",
     "metric": "moderation_backlog", "opened_at": "2025-04-14T09:00:00Z",
     "root_cause": {"kind": "upstream", "summary": "Classifier rollback sent everything to humans."}},
    {"id": "INC-5", "title": "IPv6 addresses stored untruncated in clickstream",
     "description": "After enabling IPv6 at the edge, clickstream rows carried complete IPv6 addresses.",
     "metric": "raw_ip_share", "opened_at": "2025-07-19T11:00:00Z",
     "root_cause": {"kind": "change", "id": "cfg-edge-ipv6", "summary": "Anonymiser regex only matched IPv4."},
     "reporter": "extra keys are tolerated"},
    {"id": "INC-6", "title": "Age gate bypass after sign-up config change",
     "description": "A config change removed the age gate step for one region.",
     "opened_at": "2025-11-02T10:00:00", "severity": "SEV1",
     "root_cause": {"kind": "segment", "id": "region=EU", "summary": "Sign-up config change in one region."}},
]


def write_history(path: Path, rows: list[dict | str]) -> Path:
    """Write rows (dicts as JSON, strings verbatim) one per line."""
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path
