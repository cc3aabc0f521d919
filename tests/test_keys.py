"""API keys with limits and lanes, and a bind guard that reads the keys the API reads.

These tests run their own Redis, classifier, general-lane worker and API processes:
stored keys switch authentication on for every API on a Redis, which must not reach
the session's shared system.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import redis

from laneway.net import free_port, wait_for_port
from laneway.redis_server import EmbeddedRedis
from laneway.supervisor import Supervisor
from tests.sim_helpers import SimBackendProcess
from tests.system import LANEWAY, System, chat, sim_backend_config, write_config

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def keyed(
    tmp_path_factory: pytest.TempPathFactory, sims: dict[str, SimBackendProcess]
) -> Iterator[System]:
    base = tmp_path_factory.mktemp("keys")
    server = EmbeddedRedis(base / "redis", durable=False).start()
    config = write_config(
        base / "laneway.yaml",
        server.url,
        {
            "fast-path": [sim_backend_config("fast-a", sims["fast-a"], "sim-small")],
            "general": [sim_backend_config("general-a", sims["general-a"], "sim-medium")],
            "high-compute": [sim_backend_config("high-a", sims["high-a"], "sim-large")],
        },
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LANEWAY_")}
    env.update(LANEWAY_CONFIG=str(config), PYTHONUNBUFFERED="1", COLUMNS="200")
    system = System(config=config, redis_url=server.url, supervisor=Supervisor(base), env=env)
    try:
        system.start_worker("classify")
        system.start_worker("general")
        system.api_url = system.start_api()
        system.wait_ready(["classify", "general"])
        yield system
    finally:
        system.supervisor.stop()
        server.stop()


def cli(
    system: System, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LANEWAY, *args],
        env={**system.env, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )


def create_key(system: System, *options: str) -> dict[str, Any]:
    result = cli(system, "keys", "create", "--json", *options)
    assert result.returncode == 0, result.stderr
    created: dict[str, Any] = json.loads(result.stdout)
    return created


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def jobs_of(system: System, tenant: str) -> int:
    return int(system.redis.zcard(f"laneway:tenant:{tenant}:jobs"))


def submitted(system: System) -> int:
    return int(system.redis.hget("laneway:stats", "submitted") or 0)


def one_line(text: str) -> str:
    return " ".join(text.split())


# -- the key list in the environment, and the bind guard ------------------------------


def api_command(system: System, host: str, env: dict[str, str], *extra: str) -> Any:
    return cli(system, "api", "--host", host, "--port", "1", *extra, env=env)


def test_a_list_of_only_commas_does_not_open_the_bind(tmp_path: Path) -> None:
    # no Redis either: with no key in the list, the guard must not depend on one
    env = {k: v for k, v in os.environ.items() if not k.startswith("LANEWAY_")}
    env["LANEWAY_REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"
    env["COLUMNS"] = "200"
    for keys in (",", " , ", ":", ",:tenant"):
        result = subprocess.run(
            [*LANEWAY, "api", "--host", "0.0.0.0", "--port", "1"],
            env={**env, "LANEWAY_API_KEYS": keys},
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
        assert result.returncode == 2, (keys, result.stderr)
        assert "refusing to listen on 0.0.0.0 without API keys" in one_line(result.stderr)
        assert "malformed" in result.stderr


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ("good-key:a,,other-key:b", "entry 2 has no key"),
        ("secret one:a", "entry 1: the key contains whitespace"),
        ("dup-secret:alice,dup-secret:bob", "entry 2 repeats the key of entry 1"),
        ("ok-secret:bad tenant", "entry 1: tenant 'bad tenant' is not a valid name"),
    ],
)
def test_malformed_key_entries_stop_the_api_on_any_address(
    keyed: System, keys: str, problem: str
) -> None:
    for host in ("127.0.0.1", "0.0.0.0"):
        result = api_command(keyed, host, {"LANEWAY_API_KEYS": keys})
        assert result.returncode == 2, result.stderr
        message = one_line(result.stderr)
        assert problem in message
        assert "secret" not in message  # the message names entries, never a key


def test_without_keys_an_open_bind_is_refused_even_with_a_reachable_redis(
    tmp_path: Path, redis_server: EmbeddedRedis
) -> None:
    # a fresh Redis database with no stored keys
    url = redis_server.url.rsplit("/", 1)[0] + "/7"
    redis.Redis.from_url(url).flushdb()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LANEWAY_")}
    env.update(LANEWAY_REDIS_URL=url, COLUMNS="200")
    result = subprocess.run(
        [*LANEWAY, "api", "--host", "0.0.0.0", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "refusing to listen on 0.0.0.0 without API keys" in one_line(result.stderr)
    assert "laneway keys create" in one_line(result.stderr)


def start_public_api(system: System, env: dict[str, str] | None = None) -> str:
    port = free_port()
    system.supervisor.spawn(
        f"api-public-{port}",
        [*LANEWAY, "api", "--host", "0.0.0.0", "--port", str(port)],
        {**system.env, **(env or {})},
    )
    if not wait_for_port("127.0.0.1", port, 30):
        raise RuntimeError(f"the API did not start; see {system.supervisor.log_dir}")
    return f"http://127.0.0.1:{port}"


DOCS_AND_METRICS = ("/metrics", "/docs", "/redoc", "/openapi.json")


def test_stored_keys_let_the_api_listen_beyond_loopback_with_pages_closed(
    keyed: System,
) -> None:
    key = create_key(keyed, "--tenant", "ops")["key"]
    url = start_public_api(keyed)  # no LANEWAY_API_KEYS: the stored key is enough
    with httpx.Client(base_url=url, timeout=30) as client:
        for path in DOCS_AND_METRICS:
            refused = client.get(path)
            assert refused.status_code == 401, path
            assert refused.json()["error"]["code"] == "invalid_api_key"
            assert client.get(path, headers=bearer(key)).status_code == 200, path
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code in (200, 503)
        assert client.post("/v1/jobs", json=chat("hi")).status_code == 401


def test_pages_open_when_the_settings_say_so(keyed: System) -> None:
    keys = {"LANEWAY_API_KEYS": "env-page-key:ops"}
    closed = start_public_api(keyed, keys)
    opened = start_public_api(
        keyed, {**keys, "LANEWAY_API__OPEN_METRICS": "true", "LANEWAY_API__OPEN_DOCS": "true"}
    )
    for path in DOCS_AND_METRICS:
        assert httpx.get(closed + path).status_code == 401, path
        assert httpx.get(closed + path, headers=bearer("env-page-key")).status_code == 200
        assert httpx.get(opened + path).status_code == 200, path
    assert httpx.post(f"{opened}/v1/jobs", json=chat("hi")).status_code == 401


def test_on_loopback_the_pages_stay_open_and_can_be_closed(keyed: System) -> None:
    create_key(keyed, "--tenant", "ops")
    with httpx.Client(base_url=keyed.api_url, timeout=30) as client:
        for path in DOCS_AND_METRICS:
            assert client.get(path).status_code == 200, path
    closed = keyed.start_api(env={"LANEWAY_API__OPEN_METRICS": "false"})
    assert httpx.get(f"{closed}/metrics").status_code == 401
    assert httpx.get(f"{closed}/docs").status_code == 200


# -- stored keys: create, list, revoke -------------------------------------------------


def every_value(client: redis.Redis) -> Iterator[str]:
    for name in client.scan_iter(count=1000):
        yield name
        kind = client.type(name)
        if kind == "string":
            yield str(client.get(name))
        elif kind == "hash":
            for field, value in client.hgetall(name).items():
                yield f"{field}={value}"
        elif kind == "list":
            yield from client.lrange(name, 0, -1)
        elif kind == "set":
            yield from client.smembers(name)
        elif kind == "zset":
            yield from client.zrange(name, 0, -1)
        elif kind == "stream":
            yield from (json.dumps(fields) for _, fields in client.xrange(name))


def test_keys_create_list_revoke(keyed: System) -> None:
    created = cli(keyed, "keys", "create", "--tenant", "acme", "--lanes", "general", "--rpm", "50")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()  # printed alone, once
    assert key.startswith("lw-") and len(key) == 51 and key[3:].isalnum()
    assert "shown only now" in created.stderr

    with keyed.client(key) as client:
        accepted = client.post("/v1/jobs", json=chat("hi", route="general"))
        assert accepted.status_code == 202, accepted.text
        assert keyed.redis.hget(f"laneway:job:{accepted.json()['id']}", "tenant") == "acme"

    listed = cli(keyed, "keys", "list")
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if key[:9] in line)
    key_id, prefix, tenant, lanes, rpm, tpm, monthly, *_ = row.split()
    assert key_id.startswith("key_") and prefix == key[:9] + "…"
    assert (tenant, lanes, rpm, tpm, monthly) == ("acme", "general", "50", "-", "-")
    records = [
        json.loads(line) for line in cli(keyed, "keys", "list", "--json").stdout.splitlines()
    ]
    record = next(r for r in records if r["id"] == key_id)
    assert record["last_used_at"] and record["created_at"] <= record["last_used_at"]
    assert key not in listed.stdout + json.dumps(records)

    # Redis holds the key's hash only: the key is nowhere in it
    assert all(key not in value for value in every_value(keyed.redis))

    revoked = cli(keyed, "keys", "revoke", key_id)
    assert revoked.returncode == 0, revoked.stderr
    with keyed.client(key) as client:
        refused = client.post("/v1/jobs", json=chat("hi", route="general"))
        assert refused.status_code == 401
        assert refused.json()["error"]["message"] == "this API key was revoked"
        assert client.get(f"/v1/jobs/{accepted.json()['id']}").status_code == 401
    after = cli(keyed, "keys", "list").stdout
    assert "revoked" in next(line for line in after.splitlines() if key_id in line)
    assert cli(keyed, "keys", "revoke", "key_000000000000").returncode == 1


def test_a_key_can_be_revoked_by_its_value(keyed: System) -> None:
    key = create_key(keyed, "--tenant", "acme")["key"]
    assert cli(keyed, "keys", "revoke", key).returncode == 0
    assert (
        httpx.post(f"{keyed.api_url}/v1/jobs", json=chat("hi"), headers=bearer(key)).status_code
        == 401
    )


def test_once_keys_exist_every_request_needs_one_and_env_keys_still_work(
    keyed: System,
) -> None:
    create_key(keyed, "--tenant", "acme")
    api = keyed.start_api(env={"LANEWAY_API_KEYS": "env-key-1:envtenant"})
    with httpx.Client(base_url=api, timeout=30) as client:
        for headers in ({}, bearer("lw-" + "0" * 48), bearer("nope")):
            refused = client.post("/v1/jobs", json=chat("hi"), headers=headers)
            assert refused.status_code == 401, headers
        accepted = client.post("/v1/jobs", json=chat("hi"), headers=bearer("env-key-1"))
        assert accepted.status_code == 202
        assert "x-ratelimit-limit-requests" not in accepted.headers  # env keys: no limits
        assert keyed.redis.hget(f"laneway:job:{accepted.json()['id']}", "tenant") == "envtenant"


def test_bad_key_options_are_refused(keyed: System) -> None:
    for options in (("--tenant", "bad tenant"), ("--tenant", "t", "--lanes", "nowhere")):
        result = cli(keyed, "keys", "create", *options)
        assert result.returncode == 2, options
    assert cli(keyed, "keys", "create", "--tenant", "t", "--rpm", "0").returncode == 2


# -- limits ------------------------------------------------------------------------------


def test_requests_per_minute(keyed: System) -> None:
    key = create_key(keyed, "--tenant", "rpm-tenant", "--rpm", "3")["key"]
    before = submitted(keyed)
    with keyed.client(key) as client:
        for left in (2, 1, 0):
            accepted = client.post("/v1/jobs", json=chat("hi", route="general"))
            assert accepted.status_code == 202, accepted.text
            assert accepted.headers["x-ratelimit-limit-requests"] == "3"
            assert accepted.headers["x-ratelimit-remaining-requests"] == str(left)
            assert accepted.headers["x-ratelimit-reset-requests"].endswith("s")
        refused = client.post("/v1/jobs", json=chat("hi", route="general"))
        # answers that take nothing from the limits still say where they stand
        for read in (client.get(f"/v1/jobs/{accepted.json()['id']}"), client.get("/v1/models")):
            assert read.status_code == 200
            assert read.headers["x-ratelimit-limit-requests"] == "3"
            assert read.headers["x-ratelimit-remaining-requests"] == "0"
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert (error["type"], error["code"]) == ("requests", "rate_limit_exceeded")
    assert "requests per min (RPM): Limit 3" in error["message"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 20
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    assert refused.headers["x-ratelimit-limit-requests"] == "3"
    assert jobs_of(keyed, "rpm-tenant") == 3 and submitted(keyed) == before + 3


def test_tokens_per_minute_count_the_prompt_and_max_tokens(keyed: System) -> None:
    key = create_key(keyed, "--tenant", "tpm-tenant", "--tpm", "100")["key"]
    body = chat("hi", route="general", max_tokens=60)  # 1 prompt token + 60
    with keyed.client(key) as client:
        accepted = client.post("/v1/jobs", json=body)
        assert accepted.status_code == 202, accepted.text
        assert accepted.headers["x-ratelimit-limit-tokens"] == "100"
        assert accepted.headers["x-ratelimit-remaining-tokens"] == "39"
        refused = client.post("/v1/jobs", json=body)
        assert refused.status_code == 429
        error = refused.json()["error"]
        assert (error["type"], error["code"]) == ("tokens", "rate_limit_exceeded")
        assert "Requested 61" in error["message"]
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.headers["x-ratelimit-remaining-tokens"] == "39"
        # more than a minute's worth can never pass: said so, and no Retry-After
        too_large = client.post("/v1/jobs", json=chat("hi", route="general", max_tokens=500))
        assert too_large.status_code == 429
        assert "Request too large" in too_large.json()["error"]["message"]
        assert "Retry-After" not in too_large.headers
        small = client.post("/v1/jobs", json=chat("hi", route="general", max_tokens=20))
        assert small.status_code == 202
    assert jobs_of(keyed, "tpm-tenant") == 2


def test_monthly_token_quota(keyed: System) -> None:
    key = create_key(keyed, "--tenant", "quota-tenant", "--monthly-tokens", "50")["key"]
    body = chat("hi", route="general", max_tokens=20)
    with keyed.client(key) as client:
        first = client.post("/v1/jobs", json=body)
        assert first.status_code == 202
        assert first.headers["x-laneway-remaining-monthly-tokens"] == "29"
        assert client.post("/v1/jobs", json=body).status_code == 202
        refused = client.post("/v1/jobs", json=body)
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["code"] == "rate_limit_exceeded" and "Monthly token quota" in error["message"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 31 * 86_400
    assert jobs_of(keyed, "quota-tenant") == 2
    month = time.strftime("%Y-%m", time.gmtime())
    assert keyed.redis.get(f"laneway:quota:{_key_id(keyed, key)}:{month}") == "42"


def _key_id(system: System, key: str) -> str:
    for line in cli(system, "keys", "list", "--json").stdout.splitlines():
        record = json.loads(line)
        if key.startswith(record["prefix"]):
            return str(record["id"])
    raise AssertionError("key not listed")


def test_two_api_processes_share_a_limit(keyed: System) -> None:
    key = create_key(keyed, "--tenant", "shared-tenant", "--rpm", "4")["key"]
    other = keyed.start_api()
    statuses = []
    for i in range(6):
        url = keyed.api_url if i % 2 else other
        response = httpx.post(
            f"{url}/v1/jobs", json=chat("hi", route="general"), headers=bearer(key), timeout=30
        )
        statuses.append(response.status_code)
    assert statuses == [202, 202, 202, 202, 429, 429]
    assert jobs_of(keyed, "shared-tenant") == 4


def test_the_openai_client_sees_rate_limit_errors_and_headers(keyed: System) -> None:
    key = create_key(keyed, "--tenant", "sdk-tenant", "--rpm", "2")["key"]
    client = openai.OpenAI(base_url=f"{keyed.api_url}/v1", api_key=key, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="laneway/general", messages=[{"role": "user", "content": "hi"}], max_tokens=5
    )
    assert raw.parse().choices[0].message.content
    assert raw.headers["x-ratelimit-remaining-requests"] == "1"
    stream = client.chat.completions.with_raw_response.create(
        model="laneway/general",
        messages=[{"role": "user", "content": "hi"}],
        max_tokens=5,
        stream=True,
    )
    assert stream.headers["x-ratelimit-remaining-requests"] == "0"
    assert [c for c in stream.parse() if c.choices]
    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(
            model="laneway/general", messages=[{"role": "user", "content": "hi"}]
        )
    assert refused.value.status_code == 429
    assert refused.value.code == "rate_limit_exceeded"
    assert refused.value.response.headers["retry-after"]


def test_limits_refill_as_the_minute_goes_on(keyed: System) -> None:
    # 120 a minute: the bucket holds 120 and gains one every half second
    key = create_key(keyed, "--tenant", "refill-tenant", "--rpm", "120")["key"]
    with keyed.client(key) as client:
        accepted = 0
        while (response := client.post("/v1/jobs", json=chat("hi", route="general"))).is_success:
            accepted += 1
            assert accepted < 240, "the limit never refused a request"
        assert response.status_code == 429 and accepted >= 120
        assert response.headers["Retry-After"] == "1"
        time.sleep(0.5)  # the passing of time is what refills the bucket
        assert client.post("/v1/jobs", json=chat("hi", route="general")).status_code == 202


# -- lanes ---------------------------------------------------------------------------------


def test_a_lane_limited_key_cannot_force_another_lane(keyed: System) -> None:
    key = create_key(keyed, "--tenant", "lanes-tenant", "--lanes", "general,high-compute")["key"]
    with keyed.client(key) as client:
        for body in (chat("hi", route="fast-path"), chat("hi", model="laneway/fast-path")):
            refused = client.post("/v1/jobs", json=body)
            assert refused.status_code == 403, refused.text
            error = refused.json()["error"]
            assert (error["type"], error["code"]) == ("permission_error", "lane_not_allowed")
        forced = client.post("/v1/jobs", json=chat("hi", route="high-compute"))
        assert forced.status_code == 202
    sdk = openai.OpenAI(base_url=f"{keyed.api_url}/v1", api_key=key, max_retries=0)
    for model in ("laneway/fast-path", "sim-small"):  # a lane alias, a fast-path model
        with pytest.raises(openai.PermissionDeniedError):
            sdk.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    assert jobs_of(keyed, "lanes-tenant") == 1


def test_classified_jobs_of_a_lane_limited_key_stay_in_its_lanes(keyed: System) -> None:
    key = create_key(keyed, "--tenant", "lanes-tenant2", "--lanes", "general,high-compute")["key"]
    with keyed.client(key) as client:
        # "hi" is a fast-path request; the key may not use fast-path
        job_id = client.post("/v1/jobs", json=chat("hi")).json()["id"]
        job = client.get(f"/v1/jobs/{job_id}", params={"wait": 20}).json()
    assert job["status"] == "succeeded", job
    assert job["lane"] == "general" and job["backend"] == "general-a"
    assert "may not use fast-path" in job["reason"]
    assert keyed.redis.hget(f"laneway:job:{job_id}", "lanes") == "general,high-compute"


# -- keys stay out of logs ---------------------------------------------------------------


def test_keys_never_reach_the_logs(keyed: System) -> None:
    key = create_key(keyed, "--tenant", "quiet", "--rpm", "1")["key"]
    with keyed.client(key) as client:
        client.post("/v1/jobs", json=chat("hi"))
        client.post("/v1/jobs", json=chat("hi"))  # refused: 429
    httpx.post(f"{keyed.api_url}/v1/jobs", json=chat("hi"), headers=bearer(key + "x"))
    logs = list(keyed.supervisor.log_dir.glob("*.log"))
    assert any("api" in log.name for log in logs)
    for log in logs:
        text = log.read_text(errors="replace")
        assert key not in text, log.name
        assert key[3:] not in text, log.name


def test_the_watchdog_keeps_an_unclassified_job_in_its_keys_lanes(
    keyed: System, sims: dict[str, SimBackendProcess], tmp_path: Path
) -> None:
    # A Redis database with no classifier: the lane worker's watchdog routes the job
    # once classifier.unclassified_after_seconds pass (shortened: the mechanism is
    # what is tested here), normally to general, which this key may not use.
    url = keyed.redis_url.rsplit("/", 1)[0] + "/3"
    config = write_config(
        tmp_path / "laneway.yaml",
        url,
        {"high-compute": [sim_backend_config("high-a", sims["high-a"], "sim-large")]},
        classifier={"strategy": "rules", "unclassified_after_seconds": 1},
    )
    env = {**keyed.env, "LANEWAY_CONFIG": str(config)}
    alone = System(config=config, redis_url=url, supervisor=keyed.supervisor, env=env)
    alone.start_worker("high-compute", "worker-high-compute-watchdog")
    api = alone.start_api()
    alone.wait_ready(["high-compute"])
    key = create_key(alone, "--tenant", "wd", "--lanes", "high-compute")["key"]
    with httpx.Client(base_url=api, headers=bearer(key), timeout=30) as client:
        job_id = client.post("/v1/jobs", json=chat("hi")).json()["id"]
        job = client.get(f"/v1/jobs/{job_id}", params={"wait": 20}).json()
    assert job["status"] == "succeeded", job
    assert (job["lane"], job["strategy"]) == ("high-compute", "fallback")
    assert "did not answer" in job["reason"] and "may not use general" in job["reason"]


# -- the pieces, on their own --------------------------------------------------------------


def test_key_list_parsing() -> None:
    from laneway.apikeys import ApiKeyError, KeyRing

    ring = KeyRing.parse(" k1:alice , k2 ,k3:bob", "X")
    assert ring.keys == (("k1", "alice"), ("k2", "default"), ("k3", "bob"))
    assert ring.tenant_for("k2") == "default" and ring.tenant_for("k4") is None
    assert not KeyRing.parse("  ", "X").enabled
    for text in (",", "k1,", ":t", "a b", "k:a,k:a", "k:a:b"):
        with pytest.raises(ApiKeyError):
            KeyRing.parse(text, "X")
    assert "k1" not in repr(ring)


def test_reset_durations_and_months() -> None:
    import calendar

    from api.ratelimit import duration, month_window

    assert [duration(ms) for ms in (0, 12, 1000, 1500, 17_280, 360_000, 3_723_000)] == [
        "0ms", "12ms", "1s", "1.5s", "17.28s", "6m0s", "1h2m3s",
    ]  # fmt: skip
    december = calendar.timegm((2025, 12, 31, 23, 59, 59))
    assert month_window(december) == ("2025-12", calendar.timegm((2026, 1, 1, 0, 0, 0)))
    assert month_window(december + 1) == ("2026-01", calendar.timegm((2026, 2, 1, 0, 0, 0)))


def test_nearest_allowed_lane() -> None:
    from laneway.lanes import excluded_lanes, nearest_lane

    assert nearest_lane("fast-path", ["general", "high-compute"]) == "general"
    assert nearest_lane("high-compute", ["fast-path"]) == "fast-path"
    assert nearest_lane("general", ["fast-path", "high-compute"]) == "high-compute"
    assert excluded_lanes(["general"]) == ["fast-path", "high-compute"]
