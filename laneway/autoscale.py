"""``laneway worker --lane L --autoscale MAX,MIN``: worker processes for one lane, more
while its queue is deep, fewer once it has drained.

Celery's own ``--autoscale`` grows and shrinks a pool inside one worker, but only pools
that implement ``grow``/``shrink`` (prefork): lane workers run the threads pool, which
does not. So laneway scales whole worker processes instead, as KEDA does with pods on
Kubernetes (deploy/k8s/keda.yaml) and on the same signal — the lane's waiting messages:

- up at once to ``ceil(waiting / concurrency)`` workers (one worker per ``concurrency``
  waiting jobs beyond what the running workers have already reserved), at most MAX;
- down one worker at a time once fewer would do and that has held for
  ``scale_down_after`` seconds, never below MIN. A worker is stopped with SIGTERM:
  Celery's warm shutdown finishes its running jobs (up to ``task_time_limit``) and
  gives back what it had reserved.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import redis

from laneway.lanes import Lane, queue_for
from laneway.processes import terminate
from laneway.settings import Settings
from laneway.supervisor import Child, Supervisor
from laneway.wire import queue_keys

__all__ = ["LaneAutoscaler", "ScalePolicy", "desired_workers", "parse_autoscale"]


@dataclass(frozen=True)
class ScalePolicy:
    min_workers: int
    max_workers: int
    concurrency: int
    """Jobs one worker runs at once (and reserves from the queue)."""
    scale_down_after: float = 30.0
    """Seconds fewer workers must have sufficed before one is stopped."""

    def __post_init__(self) -> None:
        if not 0 <= self.min_workers <= self.max_workers or self.max_workers < 1:
            raise ValueError("autoscale needs 0 <= MIN <= MAX and MAX >= 1")
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")


def parse_autoscale(value: str) -> tuple[int, int]:
    """``MAX,MIN`` (Celery's order) or ``MAX``: returns (min, max)."""
    parts = [p.strip() for p in value.split(",")]
    try:
        numbers = [int(p) for p in parts if p]
    except ValueError:
        raise ValueError(f"--autoscale takes MAX,MIN (whole numbers), not {value!r}") from None
    if len(numbers) == 1:
        numbers.append(min(1, numbers[0]))
    if len(numbers) != 2:
        raise ValueError(f"--autoscale takes MAX,MIN, not {value!r}")
    return min(numbers), max(numbers)


def desired_workers(policy: ScalePolicy, current: int, waiting: int, below_for: float) -> int:
    """How many workers to run: ``waiting`` messages in the lane's queue now; fewer
    workers have sufficed for ``below_for`` seconds."""
    wanted = max(
        policy.min_workers, min(policy.max_workers, math.ceil(waiting / policy.concurrency))
    )
    if wanted > current:
        return wanted
    if current > wanted and below_for >= policy.scale_down_after:
        return current - 1
    return max(policy.min_workers, min(policy.max_workers, current))


@dataclass
class LaneAutoscaler:
    settings: Settings
    lane: Lane
    policy: ScalePolicy
    worker_argv: list[str]
    supervisor: Supervisor
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    interval: float = 1.0
    running: list[Child] = field(default_factory=list)
    stopping: list[tuple[Child, float]] = field(default_factory=list)
    below_since: float | None = None
    started: int = 0

    def waiting(self, client: redis.Redis) -> int:
        with client.pipeline(transaction=False) as pipe:
            for key in queue_keys(queue_for(self.lane)):
                pipe.llen(key)
            return sum(int(n) for n in pipe.execute())

    def step(self, waiting: int, now: float) -> int:
        """One decision: start or stop workers; returns how many run."""
        self.reap(now)
        current = len(self.running)
        wanted = math.ceil(waiting / self.policy.concurrency)
        if wanted < current:
            self.below_since = self.below_since if self.below_since is not None else now
        else:
            self.below_since = None
        below_for = now - self.below_since if self.below_since is not None else 0.0
        target = desired_workers(self.policy, current, waiting, below_for)
        while len(self.running) < target:
            self.start_one()
        if len(self.running) > target:
            self.stop_one(now)
            self.below_since = now  # the next stop waits a full period again
        return len(self.running)

    def start_one(self) -> None:
        self.started += 1
        name = f"worker-{self.lane}-{self.started}"
        self.running.append(self.supervisor.spawn(name, self.worker_argv, self.env))
        self.report(f"{self.lane}: started {name} ({len(self.running)} running)")

    def stop_one(self, now: float) -> None:
        child = self.running.pop()  # the newest: the oldest keep their warm connections
        child.process.send_signal(signal.SIGTERM)
        self.supervisor.children.remove(child)
        # Celery's warm shutdown waits for running jobs; past the hard time limit it is stuck
        self.stopping.append((child, now + self.settings.worker.task_time_limit + 10))
        self.report(f"{self.lane}: stopping {child.name} ({len(self.running)} running)")

    def reap(self, now: float) -> None:
        still = []
        for child, kill_at in self.stopping:
            if child.process.poll() is None and now >= kill_at:
                child.process.kill()
            if child.process.poll() is None:
                still.append((child, kill_at))
            else:
                child.log.close()
        self.stopping = still
        # a worker that died on its own is replaced at the next step
        for child in [c for c in self.running if c.process.poll() is not None]:
            self.running.remove(child)
            self.supervisor.children.remove(child)
            self.report(f"{self.lane}: {child.name} exited ({child.process.returncode})")

    def report(self, line: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        print(f"[autoscale {stamp}] {line}", file=sys.stderr, flush=True)

    def run(self, client: redis.Redis) -> None:
        """Scale until SIGTERM or SIGINT, then stop every worker gracefully."""
        done = False

        def _stop(signum: int, frame: FrameType | None) -> None:
            nonlocal done
            done = True

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        try:
            while not done:
                try:
                    waiting = self.waiting(client)
                except redis.RedisError as exc:
                    self.report(f"cannot read the queue ({exc}); keeping {len(self.running)}")
                    waiting = -1
                if waiting >= 0:
                    self.step(waiting, time.monotonic())
                time.sleep(self.interval)
        finally:
            grace = self.settings.worker.task_time_limit + 10
            for child in self.running:
                child.process.send_signal(signal.SIGTERM)
            for child in [*self.running, *(c for c, _ in self.stopping)]:
                terminate(child.process, grace)


def run_autoscaled(
    settings: Settings,
    lane: Lane,
    policy: ScalePolicy,
    worker_args: list[str],
    data_dir: Path | None = None,
) -> None:
    """Run ``laneway worker --lane lane`` processes between the policy's bounds."""
    argv = [sys.executable, "-m", "laneway.cli", "worker", "--lane", lane, *worker_args]
    supervisor = Supervisor(data_dir or settings.data_dir / f"autoscale-{lane}")
    scaler = LaneAutoscaler(settings, lane, policy, argv, supervisor)
    scaler.report(
        f"{lane}: {policy.min_workers}..{policy.max_workers} workers of concurrency "
        f"{policy.concurrency}; logs in {supervisor.log_dir}"
    )
    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    try:
        scaler.run(client)
    finally:
        client.close()
