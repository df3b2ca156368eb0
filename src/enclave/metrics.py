"""Prometheus metrics, in a registry per gateway (so several can live in one process, as in tests)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)

# Engine statistics exported at scrape time: name in stats() -> (metric name, kind, help).
_ENGINE_SERIES = {
    "queue_depth": ("enclave_engine_queue_depth", "gauge", "Requests waiting for a free sequence."),
    "active_sequences": ("enclave_engine_active_sequences", "gauge", "Sequences being decoded now."),
    "tokens_per_second": ("enclave_engine_tokens_per_second", "gauge", "Generated tokens/s, last 10 s."),
    "prompt_tokens": ("enclave_engine_prompt_tokens", "counter", "Prompt tokens admitted."),
    "cached_prompt_tokens": ("enclave_engine_prefix_cache_tokens", "counter", "Prompt tokens reused from cache."),
    "prefix_lookups": ("enclave_engine_prefix_cache_lookups", "counter", "Requests checked for a cached prefix."),
    "prefix_hits": ("enclave_engine_prefix_cache_hits", "counter", "Requests that reused a cached prefix."),
    "generated_tokens": ("enclave_engine_generated_tokens", "counter", "Tokens sampled."),
    "decode_steps": ("enclave_engine_decode_steps", "counter", "llama_decode calls."),
    "busy_seconds": ("enclave_engine_busy_seconds", "counter", "Seconds the engine spent decoding."),
    "malformed_events": (
        "enclave_upstream_malformed_events",
        "counter",
        "Stream events from an upstream that were not OpenAI chunks (skipped).",
    ),
}


class EngineCollector(Collector):
    """Reads each engine's statistics when Prometheus scrapes, so nothing is updated on the hot path."""

    def __init__(self, sources: Callable[[], Iterable[tuple[str, dict[str, float]]]]) -> None:
        self._sources = sources

    def collect(self) -> Iterator[Metric]:
        families: dict[str, GaugeMetricFamily | CounterMetricFamily] = {}
        for key, (name, kind, doc) in _ENGINE_SERIES.items():
            cls = GaugeMetricFamily if kind == "gauge" else CounterMetricFamily
            families[key] = cls(name, doc, labels=["model"])
        for model, stats in self._sources():
            for key, family in families.items():
                if key in stats:
                    family.add_metric([model], stats[key])
        yield from families.values()


class LedgerCollector(Collector):
    """The background writer's queue and the rows it set aside, read at scrape time."""

    def __init__(self, pending: Callable[[], int], set_aside: Callable[[], dict[str, int]]) -> None:
        self._pending = pending
        self._set_aside = set_aside

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "enclave_ledger_pending_rows",
            "Usage rows, audit entries and dead letters waiting to be written.",
            value=self._pending(),
        )
        dead = CounterMetricFamily(
            "enclave_ledger_dead_letters",
            "Rows the database refused for what they held, "
            "set aside (GET /admin/dead-letters) so the rows behind them are written.",
            labels=["kind"],
        )
        counts = self._set_aside()
        for kind in ("usage", "audit", "retained"):
            dead.add_metric([kind], counts.get(kind, 0))
        yield dead


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "enclave_requests",
            "Inference requests by outcome.",
            ["model", "endpoint", "status"],
            registry=self.registry,
        )
        self.tokens = Counter("enclave_tokens", "Tokens processed.", ["model", "kind"], registry=self.registry)
        self.latency = Histogram(
            "enclave_request_duration_seconds",
            "Request time, start to last token.",
            ["model", "endpoint"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.time_to_first_token = Histogram(
            "enclave_time_to_first_token_seconds",
            "Time until the first generated text.",
            ["model"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )

        self.routed = Counter(
            "enclave_routed_requests",
            "Requests by the target that answered and the rule that chose it.",
            ["model", "target", "zone", "rule"],
            registry=self.registry,
        )
        self.failovers = Counter(
            "enclave_target_failures",
            "Attempts that failed before the first token and were failed over.",
            ["model", "target"],
            registry=self.registry,
        )

        self.guard_findings = Counter(
            "enclave_guard_findings",
            "Sensitive values found in requests, by type (never values).",
            ["entity_type"],
            registry=self.registry,
        )

    def watch_ledger(self, pending: Callable[[], int], set_aside: Callable[[], dict[str, int]]) -> None:
        self.registry.register(LedgerCollector(pending, set_aside))

    def watch_engines(self, sources: Callable[[], Iterable[tuple[str, dict[str, float]]]]) -> None:
        self.registry.register(EngineCollector(sources))

    def render(self) -> bytes:
        return generate_latest(self.registry)
