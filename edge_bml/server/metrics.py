"""Prometheus metrics of one server: requests by path and status, latency of each look stage."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from edge_bml.pipeline import STAGES

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServerMetrics:
    """A private registry per app, so several apps (tests) never share counters."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "edge_bml_requests", "HTTP requests by route and status", ["route", "status"], registry=self.registry
        )
        self.stages = Histogram(
            "edge_bml_stage_seconds", "Latency of each look stage", ["stage"], buckets=BUCKETS, registry=self.registry
        )

    def observe_look(self, timings_ms: dict[str, float]) -> None:
        for stage in STAGES:
            if stage in timings_ms:
                self.stages.labels(stage=stage).observe(timings_ms[stage] / 1000.0)

    def text(self) -> bytes:
        return generate_latest(self.registry)
