"""Cluster-wide latency histograms, kept in one Redis hash by the Lua scripts.

A script that sees a duration (a job's end, its first start, an attempt's end, a
classifier decision) adds one to the bucket it falls in and the duration to the
sum, in the round trip it makes anyway: ``observe`` in ``common.lua``. Bucket
counts are stored per bucket (not cumulative); :func:`read` turns a scrape of the
hash into Prometheus histograms. The bucket bounds live here only: the scripts get
them as a generated Lua table (:func:`lua_preamble`).

Field names: ``<metric>|<label values...>|<le>`` for a bucket (``le`` the bound as
``%g`` writes it, or ``+Inf``) and ``<metric>|<label values...>|sum`` (microseconds).

The histograms count since the hash began. For "the last minute" (``laneway
status``) the scripts also count backend-call buckets and finished jobs per lane
(``finished|<lane>``) in short-lived hashes, one per :data:`RECENT_SLOT_SECONDS` of
Redis's clock (:func:`recent_key`), each gone :data:`RECENT_TTL_SECONDS` later.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
"""Seconds: from a cached fast-path answer to a long high-compute generation."""
CLASSIFIER = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
"""Seconds: rules answer in microseconds, an llm strategy in about a second."""


@dataclass(frozen=True, slots=True)
class HistogramSpec:
    name: str
    """The Prometheus name, ``_seconds`` included; stored under it without ``laneway_``."""
    labels: tuple[str, ...]
    help: str
    buckets: tuple[float, ...] = LATENCY

    @property
    def field(self) -> str:
        return self.name.removeprefix("laneway_")


HISTOGRAMS = (
    HistogramSpec(
        "laneway_job_latency_seconds",
        ("lane", "backend"),
        "Submit to succeeded, per succeeded job (queueing, classifying, retries included).",
    ),
    HistogramSpec(
        "laneway_queue_wait_seconds",
        ("lane",),
        "Submit to the first lane worker taking the job (classifier included).",
    ),
    HistogramSpec(
        "laneway_ttft_seconds",
        ("lane", "backend"),
        "Time to the first token of a streamed answer, from the start of its backend call.",
    ),
    HistogramSpec(
        "laneway_backend_call_seconds",
        ("lane", "backend"),
        "Duration of each backend call (attempt) that answered or failed.",
    ),
    HistogramSpec(
        "laneway_classifier_latency_seconds",
        ("strategy",),
        "Time the classifier took to decide a job's lane (cache lookups included).",
        CLASSIFIER,
    ),
)
BY_FIELD = {spec.field: spec for spec in HISTOGRAMS}


def bound_text(bound: float) -> str:
    """A bound as both Lua (``string.format('%g')``) and this module write it: 0.005, 1,
    2.5, 300."""
    return f"{bound:g}"


def lua_preamble() -> str:
    """``BUCKETS[metric] = {bound, ...}`` for ``observe`` in common.lua: one table per
    bucket layout, as every script builds it on each call."""
    layouts: dict[tuple[float, ...], str] = {}
    lines = []
    for spec in HISTOGRAMS:
        if spec.buckets not in layouts:
            layouts[spec.buckets] = name = f"BOUNDS_{len(layouts)}"
            lines.append(f"local {name} = {{{', '.join(repr(b) for b in spec.buckets)}}}")
    pairs = ", ".join(f"{spec.field} = {layouts[spec.buckets]}" for spec in HISTOGRAMS)
    lines.append(f"local BUCKETS = {{{pairs}}}")
    lines.append(f"local RECENT_SLOT = {RECENT_SLOT_SECONDS}")
    lines.append(f"local RECENT_TTL = {RECENT_TTL_SECONDS}")
    return "\n".join(lines) + "\n"


RECENT_SLOT_SECONDS = 10
RECENT_SLOTS = 6
"""Slots read for "the last minute": the current one and the five before it."""
RECENT_TTL_SECONDS = RECENT_SLOT_SECONDS * (RECENT_SLOTS + 2)
RECENT_PREFIX = "laneway:recent:"


def recent_key(slot_start: int) -> str:
    return f"{RECENT_PREFIX}{slot_start}"


def recent_window(now: float) -> tuple[list[str], float]:
    """The hashes covering the last minute at ``now`` (Redis's clock), and the seconds
    they cover: from the start of the oldest slot to ``now``, 50 to 60."""
    current = int(now) - int(now) % RECENT_SLOT_SECONDS
    starts = [current - i * RECENT_SLOT_SECONDS for i in range(RECENT_SLOTS)]
    return [recent_key(start) for start in starts], now - starts[-1]


SUM_SCALE = 1_000_000
"""Sums are kept as integer microseconds (HINCRBY: exact, and cheaper than floats)."""


@dataclass
class Series:
    """One labelled histogram as stored: per-bucket counts and the sum."""

    counts: dict[str, int] = field(default_factory=dict)
    total: float = 0.0

    def cumulative(self, bounds: tuple[float, ...]) -> list[tuple[str, float]]:
        """Prometheus buckets: cumulative counts, ending with ``+Inf`` (the count)."""
        out: list[tuple[str, float]] = []
        running = 0
        for bound in bounds:
            running += self.counts.get(bound_text(bound), 0)
            out.append((bound_text(bound), float(running)))
        running += self.counts.get("+Inf", 0)
        out.append(("+Inf", float(running)))
        return out

    @property
    def count(self) -> int:
        return sum(self.counts.values())

    def add(self, other: Series) -> None:
        for bound, count in other.counts.items():
            self.counts[bound] = self.counts.get(bound, 0) + count
        self.total += other.total

    def quantile(self, q: float, bounds: tuple[float, ...]) -> float | None:
        """The ``q`` quantile as Prometheus's ``histogram_quantile`` estimates it:
        linear within its bucket; the highest finite bound when it falls in ``+Inf``;
        None without observations."""
        cumulative = self.cumulative(bounds)
        total = cumulative[-1][1]
        if total == 0:
            return None
        rank = q * total
        below, lower = 0.0, 0.0
        for (_, running), bound in zip(cumulative, bounds, strict=False):
            if running >= rank:
                inside = running - below
                return lower + (bound - lower) * ((rank - below) / inside if inside else 1.0)
            below, lower = running, bound
        return bounds[-1]


def read(raw: Mapping[str, str]) -> dict[str, dict[tuple[str, ...], Series]]:
    """The stored hash as ``{metric field: {label values: series}}``; fields of unknown
    metrics or with the wrong number of labels are skipped."""
    out: dict[str, dict[tuple[str, ...], Series]] = {spec.field: {} for spec in HISTOGRAMS}
    for name, value in raw.items():
        metric, *labels, slot = name.split("|")
        spec = BY_FIELD.get(metric)
        if spec is None or len(labels) != len(spec.labels):
            continue
        series = out[metric].setdefault(tuple(labels), Series())
        if slot == "sum":
            series.total = int(value) / SUM_SCALE
        else:
            series.counts[slot] = int(value)
    return out
