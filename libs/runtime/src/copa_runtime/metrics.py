"""Prometheus metrics of the runtime (one registry per process, served at ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "copa_http_requests_total", "HTTP requests", ["service", "method", "route", "status"]
)
HTTP_SECONDS = Histogram(
    "copa_http_request_seconds", "HTTP request duration", ["service", "method", "route"]
)
OUTBOX_PUBLISHED = Counter(
    "copa_outbox_published_total", "Events published from the outbox", ["service"]
)
OUTBOX_BATCH_SECONDS = Histogram(
    "copa_outbox_batch_seconds", "Time to publish one outbox batch", ["service"]
)
OUTBOX_BACKLOG = Gauge("copa_outbox_backlog", "Events committed but not yet published", ["service"])
CONSUMED = Counter(
    "copa_consumer_events_total",
    "Events consumed, by outcome (applied, duplicate, ignored, dead_letter)",
    ["service", "consumer", "outcome"],
)
CONSUMER_BATCH_SECONDS = Histogram(
    "copa_consumer_batch_seconds", "Time to apply one consumed batch", ["service", "consumer"]
)
CONSUMER_RETRIES = Counter(
    "copa_consumer_retries_total",
    "Batches retried after a failure",
    ["service", "consumer", "kind"],
)
