"""Privacy and trust-and-safety metrics: each one an event table plus its catalog definition.

A theme turns simulated events and a per-row boolean outcome into a warehouse table with realistic columns
(pii included) and says how the metric is written in ``catalog.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evals.generator.common import PLATFORMS, REGIONS, VERSION_LIST, Coded, ColumnTable, Events, Population, hexes

DIMENSIONS = ["platform", "region", "app_version"]


@dataclass(frozen=True)
class Theme:
    """One rate metric: ``flag`` is the per-row outcome the rate averages."""

    metric: str
    table: str
    ts_col: str
    flag: str
    description: str
    base: float
    text_pool: str
    effect: float
    higher_is_worse: bool = True
    affected_when: str | None = None
    pii: tuple[str, ...] = ()
    id_col: str | None = None
    choice: bool = False  # the consent theme stores a categorical choice instead of a boolean

    @property
    def value_sql(self) -> str:
        if self.choice:
            return "avg(case when choice = 'reject_all' then 1.0 else 0.0 end)"
        return f"avg(case when {self.flag} then 1.0 else 0.0 end)"

    def catalog_entry(self, *, with_unit: bool = True) -> dict[str, object]:
        entry: dict[str, object] = {
            "description": self.description, "table": self.table, "timestamp": self.ts_col,
            "value": self.value_sql,
        }
        if with_unit:
            entry["unit"] = "user_id"
            if self.affected_when:
                entry["affected_when"] = self.affected_when
        entry["dimensions"] = list(DIMENSIONS)
        entry["higher_is_worse"] = self.higher_is_worse
        return entry

    def frame(self, rng: np.random.Generator, ev: Events, pop: Population, flag: np.ndarray) -> ColumnTable:
        """The warehouse table: time, ids, pii, dimensions, outcome (``choice`` for consent events)."""
        data: ColumnTable = {self.ts_col: ev.ts}
        if self.id_col:
            data[self.id_col] = np.char.add(self.id_col[:3] + "-", hexes(rng, len(ev), 12))
        data["user_id"] = Coded(ev.user, pop.user_id)
        if "device_id" in self.pii:
            data["device_id"] = Coded(ev.user, pop.device_id)
        if "ip_address" in self.pii:
            data["ip_address"] = Coded(ev.user, pop.ip_address)
        data["platform"] = Coded(ev.platform, np.asarray(PLATFORMS))
        data["region"] = Coded(ev.region, np.asarray(REGIONS))
        data["app_version"] = Coded(pop.app_code[ev.user], np.asarray(VERSION_LIST))
        if self.choice:
            other = np.where(rng.random(len(ev)) < 0.8, 1, 2)
            data["choice"] = Coded(np.where(flag, 0, other), np.asarray(["reject_all", "accept_all", "customize"]))
        else:
            data[self.flag] = flag
        return data

    @property
    def pii_columns(self) -> list[str]:
        return ["user_id", *[c for c in ("device_id", "ip_address") if c in self.pii]]


THEMES: dict[str, Theme] = {t.metric: t for t in [
    Theme("raw_ip_log_rate", "analytics_logs", "logged_at", "payload_has_raw_ip",
          "Share of analytics log rows whose payload contains a raw (unmasked) IP address.", 0.004, "logging", 0.06,
          affected_when="payload_has_raw_ip", pii=("device_id", "ip_address")),
    Theme("trackers_before_consent_rate", "page_loads", "loaded_at", "tracker_before_consent",
          "Share of page loads where a third-party tracker request fired before the consent choice.", 0.02,
          "consent", 0.04, affected_when="tracker_before_consent", pii=("ip_address",)),
    Theme("consent_reject_rate", "consent_events", "event_time", "choice",
          "Share of consent prompts answered 'reject all'.", 0.30, "consent", -0.10, higher_is_worse=False,
          pii=("device_id",), choice=True),
    Theme("user_report_rate", "feed_sessions", "session_start", "reported",
          "Share of feed sessions in which the user reported a post, comment or account.", 0.02, "reports", 0.03,
          affected_when="reported", pii=("device_id",), id_col="session_id"),
    Theme("deletion_sla_breach_rate", "deletion_requests", "checked_at", "sla_breached",
          "Share of account deletion requests checked in the bucket that were past their erasure SLA.", 0.03,
          "deletion", 0.06, affected_when="sla_breached", id_col="request_id"),
    Theme("consent_prompt_shown_rate", "consent_checks", "checked_at", "prompt_shown",
          "Share of eligible first sessions in which the consent prompt was shown.", 0.95, "consent", -0.08,
          higher_is_worse=False, affected_when="not prompt_shown", pii=("ip_address",)),
    Theme("deletion_completion_rate", "deletion_jobs", "run_at", "completed",
          "Share of deletion jobs that completed every erasure step.", 0.97, "deletion", -0.06, higher_is_worse=False,
          affected_when="not completed", id_col="job_id"),
]}
