"""An active health prober: finds dead backends before jobs do, and revives them.

Each lane worker process runs one; a Redis lock per backend and interval means
one probe per backend per interval, however many workers run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

import httpx
import redis

from laneway import keys
from laneway.settings import BackendConfig
from workers.breaker import Breakers

log = logging.getLogger(__name__)


def probe(client: httpx.Client, backend: BackendConfig) -> bool:
    """``/health`` answers below 500; servers without one (llama.cpp) are tried on /v1/models."""
    root = backend.base_url.removesuffix("/v1")
    headers = {}
    key = backend.api_key()
    if key:
        headers["Authorization"] = f"Bearer {key}"
    try:
        response = client.get(f"{root}/health", headers=headers)
        if response.status_code == 404:
            response = client.get(f"{backend.base_url}/models", headers=headers)
    except httpx.HTTPError:
        return False
    return response.status_code < 500


class HealthProber:
    def __init__(
        self,
        client: redis.Redis,
        breakers: Breakers,
        backends: Sequence[BackendConfig],
        interval: float,
    ) -> None:
        self._redis = client
        self._breakers = breakers
        self._backends = list(backends)
        self._interval = interval
        self._http = httpx.Client(timeout=httpx.Timeout(2.0))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="laneway-prober", daemon=True)
        self._healthy: dict[str, bool] = {}
        """What the last probe of each backend found: only changes are logged."""

    def start(self) -> None:
        if self._backends:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            for backend in self._backends:
                try:
                    self.probe_once(backend)
                except redis.RedisError as exc:
                    log.warning("health prober: Redis unavailable (%s)", exc)

    def probe_once(self, backend: BackendConfig) -> bool | None:
        """Probe unless another worker did this interval; feed the breaker only on news."""
        lock_ms = int(self._interval * 1000)
        if not self._redis.set(keys.health_probe_lock(backend.name), "1", nx=True, px=lock_ms):
            return None
        healthy = probe(self._http, backend)
        self._breakers.refresh([backend.name])
        state = self._breakers.state(backend.name)
        if self._healthy.get(backend.name, True) != healthy:
            if healthy:
                log.info("health probe: %s answers again", backend.name)
            else:
                log.warning("health probe: %s is not answering", backend.name)
        self._healthy[backend.name] = healthy
        if not healthy:
            self._breakers.failure(backend)
        elif state.failures and (state.state != "open" or self._breakers.cooled_down(backend.name)):
            # the probe is the half-open call: it may close a breaker that has cooled down
            self._breakers.success(backend)
        return healthy
