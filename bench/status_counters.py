"""What the last minute's counters (for ``laneway status``) cost Redis per job.

Each finished job adds ``count_recent`` twice in scripts it runs anyway (its
backend call's bucket, its lane's finished count): a TIME, an HINCRBY and an
EXPIRE each, on a durable (AOF) Redis as ``laneway up`` runs it. This runs them
in a loop inside one script, beside the same loop without them, and prints the
median microseconds per job over several rounds, and, for scale, the cost of
one of the counters every finished job already adds to (an HINCRBY).

    python bench/status_counters.py [--jobs 20000] [--rounds 7]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

import redis
import typer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from laneway.histograms import lua_preamble
from laneway.redis_server import EmbeddedRedis

LOOP = """
for i = 1, tonumber(ARGV[1]) do
  if ARGV[2] == 'recent' then
    count_recent('backend_call_seconds|general|general-a|0.05')
    count_recent('finished|general')
  elseif ARGV[2] == 'counter' then
    count('finished|succeeded|general|general-a')
  end
end
return 0
"""


def main(
    jobs: int = typer.Option(20000, help="jobs per round"),
    rounds: int = typer.Option(7, help="rounds of each series, interleaved"),
) -> None:
    common = (resources.files("laneway") / "lua" / "common.lua").read_text()
    with tempfile.TemporaryDirectory() as folder:
        server = EmbeddedRedis(Path(folder)).start()
        try:
            client = redis.Redis.from_url(server.url)
            script = client.register_script(lua_preamble() + common + LOOP)
            series: dict[str, list[float]] = {"without": [], "recent": [], "counter": []}
            for _ in range(rounds):
                for name in series:
                    started = time.perf_counter()
                    script(args=[jobs, name])
                    series[name].append((time.perf_counter() - started) / jobs * 1e6)
            client.close()
        finally:
            server.stop()
    without, recent, counter = (statistics.median(series[k]) for k in series)
    print(f"loop alone:                    {without:.2f} µs per job (median of {rounds})")
    print(f"added by the last minute's:    {recent - without:.2f} µs per job")
    print(f"one existing counter, for scale: {counter - without:.2f} µs per job")


if __name__ == "__main__":
    typer.run(main)
