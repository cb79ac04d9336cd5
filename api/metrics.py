"""Prometheus metrics, one registry per app (tests build many apps in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    """What an on-call dashboard needs: request rate/latency/status, investigation outcomes and durations."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("rca_http_requests_total", "HTTP requests by route and status",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("rca_http_request_seconds", "HTTP request latency by route", ["method", "route"],
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
                                 registry=self.registry)
        self.investigations = Counter("rca_investigations_total", "Finished investigations by outcome",
                                      ["status"], registry=self.registry)
        self.investigation_seconds = Histogram("rca_investigation_seconds", "Engine run time per investigation",
                                               buckets=(0.5, 1, 1.5, 2, 3, 5, 10, 30, 60, 120),
                                               registry=self.registry)
        self.in_flight = Gauge("rca_investigations_in_flight", "Investigations queued or running in this process",
                               registry=self.registry)
        self.sql_queries = Counter("rca_sql_queries_total", "Guarded SQL endpoint queries by outcome", ["outcome"],
                                   registry=self.registry)
