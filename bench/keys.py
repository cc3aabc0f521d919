"""What API keys cost a submit, side by side in one run.

``POST /v1/jobs`` (answered 202 once the job is written; no workers run, so only
admission is measured), interleaved request by request:
  (a) an API with no keys at all (open, loopback),
  (b) an environment key (``LANEWAY_API_KEYS``: no Redis call to authenticate),
  (c) a stored key without limits (one round trip to look it up),
  (d) a stored key with RPM, TPM and monthly limits (plus one round trip for the
      limits' Lua script).
(a) runs on its own API and Redis database: once a key is stored, a Redis asks
every request for one.

    python bench/keys.py [--requests 500]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx
import typer
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import LANEWAY, summary
from laneway.net import free_port, wait_for_port
from laneway.redis_server import EmbeddedRedis
from laneway.supervisor import Supervisor

ENV_KEY = "bench-env-key"
BODY = {"messages": [{"role": "user", "content": "hi"}], "route": "general", "max_tokens": 16}


def start_api(
    supervisor: Supervisor, name: str, redis_url: str, base: Path, env: dict[str, str]
) -> str:
    config = base / f"{name}.yaml"
    # deep queues: nothing consumes the jobs during the run
    lanes = {
        lane: {"max_queue_depth": 1_000_000} for lane in ("fast-path", "general", "high-compute")
    }
    config.write_text(yaml.safe_dump({"redis_url": redis_url, "lanes": lanes}))
    port = free_port()
    supervisor.spawn(
        name, [*LANEWAY, "api", "--port", str(port)], {**env, "LANEWAY_CONFIG": str(config)}
    )
    if not wait_for_port("127.0.0.1", port, 30):
        raise RuntimeError(f"{name} did not start")
    return f"http://127.0.0.1:{port}"


def create_key(redis_url: str, env: dict[str, str], *options: str) -> str:
    result = subprocess.run(
        [*LANEWAY, "keys", "create", "--json", "--tenant", "bench", *options],
        env={**env, "LANEWAY_REDIS_URL": redis_url},
        capture_output=True,
        text=True,
        check=True,
    )
    return str(json.loads(result.stdout)["key"])


def main(requests: int = typer.Option(500, help="rounds (one request per series each)")) -> None:
    with TemporaryDirectory(prefix="laneway-bench-keys-") as tmp:
        base = Path(tmp)
        redis = EmbeddedRedis(base / "redis").start()
        supervisor = Supervisor(base)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LANEWAY_")}
        try:
            open_url = redis.url.rsplit("/", 1)[0] + "/0"
            keyed_url = redis.url.rsplit("/", 1)[0] + "/1"
            plain_key = create_key(keyed_url, env)
            limited_key = create_key(
                keyed_url,
                env,
                "--rpm",
                "1000000",
                "--tpm",
                "100000000",
                "--monthly-tokens",
                "1000000000",
            )
            open_api = start_api(supervisor, "api-open", open_url, base, env)
            keyed_api = start_api(
                supervisor, "api-keyed", keyed_url, base, {**env, "LANEWAY_API_KEYS": ENV_KEY}
            )
            series = {
                "(a) no keys": (open_api, None),
                "(b) environment key": (keyed_api, ENV_KEY),
                "(c) stored key, no limits": (keyed_api, plain_key),
                "(d) stored key with limits": (keyed_api, limited_key),
            }
            timings: dict[str, list[float]] = {name: [] for name in series}
            with httpx.Client(timeout=30) as client:
                for round_ in range(requests + 20):
                    for name, (url, key) in series.items():
                        headers = {"Authorization": f"Bearer {key}"} if key else {}
                        started = time.perf_counter()
                        response = client.post(f"{url}/v1/jobs", json=BODY, headers=headers)
                        elapsed = (time.perf_counter() - started) * 1000
                        if response.status_code != 202:
                            raise RuntimeError(f"{name}: {response.status_code} {response.text}")
                        if round_ >= 20:  # warm-up rounds are not counted
                            timings[name].append(elapsed)
            print(f"POST /v1/jobs → 202, {requests} interleaved rounds")
            for name, values in timings.items():
                print(f"  {name:30s} {summary(values)}")
        finally:
            supervisor.stop()
            redis.stop()


if __name__ == "__main__":
    typer.run(main)
