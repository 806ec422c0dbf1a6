"""The service's own Prometheus metrics (beyond Ray Serve's built-in ones), via ``ray.serve.metrics``.

Ray exports them on its metrics endpoint (``make serve``: 127.0.0.1:8080) with a ``ray_`` prefix and
the deployment, replica and application as tags. ``ops/grafana-dashboard.json`` is built on these
names; ``tests/e2e/test_metrics.py`` scrapes them from a running service.
"""

from __future__ import annotations

from ray.serve.metrics import Counter, Gauge, Histogram

LATENCY_BOUNDARIES_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]
SIZE_BOUNDARIES = [1, 2, 4, 8, 16, 32, 64, 128, 256]
RATE_BOUNDARIES = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500]


class VLMMetrics:
    def __init__(self) -> None:
        self.admission_group = Histogram(
            "qvs_admission_group_size",
            description="Requests admitted (prefilled) together.",
            boundaries=SIZE_BOUNDARIES,
        )
        self.decode_batch = Histogram(
            "qvs_decode_batch_size", description="Sequences advanced by one decode step.", boundaries=SIZE_BOUNDARIES
        )
        self.queue_wait = Histogram(
            "qvs_queue_wait_seconds",
            description="From reaching the VLM replica to the start of its prefill.",
            boundaries=LATENCY_BOUNDARIES_S,
        )
        self.time_to_first_token = Histogram(
            "qvs_time_to_first_token_seconds",
            description="From reaching the VLM replica to its first generated token.",
            boundaries=LATENCY_BOUNDARIES_S,
        )
        self.output_tokens_per_second = Histogram(
            "qvs_output_tokens_per_second",
            description="Per request: output tokens over the time after its first token.",
            boundaries=RATE_BOUNDARIES,
        )
        self.output_tokens = Counter("qvs_output_tokens_total", description="Generated tokens.")
        self.requests = Counter(
            "qvs_generation_requests_total", description="Finished generations by outcome.", tag_keys=("outcome",)
        )


class ValidationMetrics:
    def __init__(self) -> None:
        self.rejections = Counter(
            "qvs_validation_rejections_total",
            description="Requests the validator refused, by error code and HTTP status.",
            tag_keys=("reason", "status"),
        )


class ModerationMetrics:
    def __init__(self) -> None:
        self.decisions = Counter(
            "qvs_moderation_decisions_total",
            description="Final (audited) policy decisions by direction and action.",
            tag_keys=("direction", "action"),
        )
        self.categories = Counter(
            "qvs_moderation_category_total",
            description="Categories that fired, by direction and the category's action.",
            tag_keys=("category", "direction", "action"),
        )
        self.guard_latency = Histogram(
            "qvs_guard_latency_seconds", description="Guard-model calls.", boundaries=LATENCY_BOUNDARIES_S
        )
        self.guard_failures = Counter(
            "qvs_guard_failures_total", description="Guard-model calls that failed or answered unparseably."
        )
        self.audit_healthy = Gauge("qvs_audit_healthy", description="1 while the audit store accepts writes.")
        self.audit_pending = Gauge("qvs_audit_pending_records", description="Journaled, not yet in the database.")
        self.audit_failures = Counter("qvs_audit_write_failures_total", description="Decisions not journaled.")


class ImageScreenMetrics:
    def __init__(self) -> None:
        self.screen_latency = Histogram(
            "qvs_image_screen_seconds",
            description="Per image and screen: decode, ocr, codes (QR and barcodes), nsfw.",
            boundaries=LATENCY_BOUNDARIES_S,
            tag_keys=("screen",),
        )
        self.reads = Counter(
            "qvs_image_screen_reads_total",
            description="Images read by the ImageScreen deployment, by outcome (ok, failed).",
            tag_keys=("outcome",),
        )


class IngressMetrics:
    def __init__(self) -> None:
        self.cache = Counter(
            "qvs_cache_requests_total",
            description="Chat completions by response-cache result: hit, miss (stored) or skip (not cacheable).",
            tag_keys=("result",),
        )
