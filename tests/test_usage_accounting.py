"""Pure logic of usage accounting and the stored histograms (laneway/usage.py,
laneway/histograms.py), and the Lua helpers that write them, on a real Redis."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources

import pytest
import redis

from laneway import histograms, keys
from laneway.redis_server import EmbeddedRedis
from laneway.usage import (
    HOUR,
    Totals,
    aggregate,
    estimated_usage,
    hour_range,
    parse_since,
    read_usage,
)


@pytest.fixture
def scratch(redis_server: EmbeddedRedis) -> Iterator[redis.Redis]:
    """A database of its own: what these tests write never reaches the system's metrics."""
    client = redis.Redis.from_url(redis_server.url.rsplit("/", 1)[0] + "/10", decode_responses=True)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


def run_lua(client: redis.Redis, body: str, job_keys: list[str], *args: str) -> object:
    """``body`` with the helpers every laneway script gets (the bucket table, common.lua)."""
    common = (resources.files("laneway") / "lua" / "common.lua").read_text()
    source = histograms.lua_preamble() + common + "\n" + body
    return client.eval(source, len(job_keys), *job_keys, *args)


def test_observe_puts_each_duration_in_its_bucket_and_sum(scratch: redis.Redis) -> None:
    for seconds in (0.003, 0.3, 0.5, 7, 1000):
        run_lua(
            scratch, "observe('ttft_seconds', 'general|g1', tonumber(ARGV[1]))", [], str(seconds)
        )
    stored = histograms.read(scratch.hgetall(keys.HISTOGRAMS))
    series = stored["ttft_seconds"][("general", "g1")]
    assert series.counts == {"0.005": 1, "0.5": 2, "10": 1, "+Inf": 1}
    assert series.total == pytest.approx(0.003 + 0.3 + 0.5 + 7 + 1000)
    buckets = dict(series.cumulative(histograms.LATENCY))
    assert buckets["0.005"] == 1 and buckets["0.25"] == 1 and buckets["0.5"] == 3
    assert buckets["5"] == 3 and buckets["10"] == 4 and buckets["300"] == 4
    assert buckets["+Inf"] == 5 == series.count


def test_a_finished_job_adds_tokens_cost_and_timings_to_its_hour(scratch: redis.Redis) -> None:
    finished = 1_800_000_000.5
    usage = {"prompt_tokens": 12, "completion_tokens": 30, "total_tokens": 42, "estimated": True}
    job = "laneway:job:job_" + "a" * 32
    scratch.hset(
        job,
        mapping={
            "lane": "general",
            "backend": "g1",
            "model": "m",
            "tenant": "acme",
            "cost": "0.25",
            "created_at": str(finished - 2),
            "finished_at": str(finished),
            "usage": json.dumps(usage),
            "ttft_ms": "40",
            "queue_wait_ms": "15.5",
            "backend_us": "1500000",
            "usage_ttl": "3600",
        },
    )
    run_lua(scratch, "count_finished(KEYS[1], 'succeeded')", [job])
    hour = int(finished // HOUR * HOUR)
    stored = scratch.hgetall(keys.usage_hour(hour))
    prefix = "acme|general|g1|m|"
    assert stored[prefix + "succeeded"] == "1" and prefix + "failed" not in stored
    assert stored[prefix + "prompt_tokens"] == "12" and stored[prefix + "completion_tokens"] == "30"
    assert stored[prefix + "estimated"] == "1" and stored[prefix + "cost_e8"] == "25000000"
    assert stored[prefix + "queue_wait_us"] == "15500" and stored[prefix + "started"] == "1"
    assert stored[prefix + "ttft_us"] == "40000" and stored[prefix + "backend_us"] == "1500000"
    # the hour's totals expire usage_ttl after the hour ends
    assert scratch.expiretime(keys.usage_hour(hour)) == hour + HOUR + 3600
    stats = scratch.hgetall(keys.STATS)
    assert stats["tokens|general|g1|m|prompt"] == "12"
    assert stats["tokens|general|g1|m|completion"] == "30"
    assert float(stats["cost|general|g1|m"]) == 0.25
    latency = histograms.read(scratch.hgetall(keys.HISTOGRAMS))["job_latency_seconds"]
    assert latency[("general", "g1")].counts == {"2.5": 1}
    report = read_usage(scratch, hour, hour + HOUR, "tenant")
    assert report.total.prompt_tokens == 12 and report.groups["acme"].jobs == 1
    view = report.total.view()
    assert view["mean_queue_wait_ms"] == 15.5 and view["mean_ttft_ms"] == 40
    assert view["backend_ms"] == 1500 and view["cost"] == 0.25 and view["jobs"] == 1


def test_a_job_without_usage_ttl_or_usage_still_counts_where_it_can(scratch: redis.Redis) -> None:
    job = "laneway:job:job_" + "b" * 32
    scratch.hset(job, mapping={"lane": "general", "tenant": "acme", "finished_at": "100"})
    # a job from before usage accounting (no usage_ttl): counted, no hourly totals
    run_lua(scratch, "count_finished(KEYS[1], 'failed')", [job])
    assert scratch.hget(keys.STATS, "finished|failed|general|") == "1"
    assert not scratch.keys("laneway:usage:*")


def test_aggregate_groups_and_keeps_to_the_tenant() -> None:
    hours = hour_range(0, 2 * HOUR)
    hashes = [
        {"a|general|g1|m1|succeeded": "2", "a|general|g1|m1|cost_e8": "50000000"},
        {"b|general|g1|m1|failed": "7", "a|fast-path|f1|m2|cancelled": "1"},
        {"a|fast-path|f1|m2|prompt_tokens": "9", "junk": "1"},
    ]
    mine = aggregate(hashes, hours, "lane", "a")
    assert mine.total.jobs == 3 and mine.total.prompt_tokens == 9
    assert set(mine.groups) == {"general", "fast-path"}
    assert mine.groups["general"].cost == 0.5
    everyone = aggregate(hashes, hours, "tenant", None)
    assert everyone.groups["b"].jobs == 7 and everyone.total.jobs == 10


def test_totals_ignore_measures_they_do_not_know() -> None:
    totals = Totals()
    totals.add("succeeded", "2")
    totals.add("a_later_measure", "5")
    assert totals.jobs == 2


def test_hour_range_covers_whole_hours() -> None:
    assert list(hour_range(HOUR + 1, HOUR + 2)) == [HOUR]
    assert list(hour_range(HOUR, 3 * HOUR)) == [HOUR, 2 * HOUR]
    assert list(hour_range(HOUR - 1, 2 * HOUR + 1)) == [0, HOUR, 2 * HOUR]


def test_parse_since() -> None:
    assert parse_since("24h") == 24 * HOUR
    assert parse_since("90m") == 5400 and parse_since("2w") == 14 * 86400
    for bad in ("", "24", "h", "-1h", "1y"):
        with pytest.raises(ValueError):
            parse_since(bad)


def test_estimated_usage_counts_prompt_and_answer_text() -> None:
    request = {"messages": [{"role": "user", "content": "x" * 40}]}
    body = {"choices": [{"message": {"role": "assistant", "content": "y" * 20}}]}
    assert estimated_usage(request, body) == {
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "total_tokens": 15,
        "estimated": True,
    }
    completion = estimated_usage({"prompt": "abcd"}, {"choices": [{"text": "abcdefgh"}]})
    assert completion["prompt_tokens"] == 1 and completion["completion_tokens"] == 2


def test_lua_writes_every_bound_as_the_exporter_does(scratch: redis.Redis) -> None:
    for spec in histograms.HISTOGRAMS:
        labels = ("x",) * len(spec.labels)
        for bound in spec.buckets:
            run_lua(scratch, f"observe('{spec.field}', '{'|'.join(labels)}', {bound!r})", [])
        stored = histograms.read(scratch.hgetall(keys.HISTOGRAMS))[spec.field][labels]
        assert stored.counts == {histograms.bound_text(b): 1 for b in spec.buckets}, spec.name
        assert stored.total == pytest.approx(sum(spec.buckets))
