"""Time to first token and total time: direct to a sim backend vs through laneway.

Both series run in one process against the same sim backend (ttft 50 ms,
200 tokens/s, 64 tokens), interleaved, so machine noise hits both alike.

    python bench/streaming.py [--requests 40]
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import httpx
import typer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import BENCH_MODEL, laneway_system

SIM = ["--profile", "medium", "--ttft-ms", "50", "--tokens-per-second", "200"]
BODY = {
    "messages": [{"role": "user", "content": "Tell me about lighthouses."}],
    "max_tokens": 64,
    "stream": True,
}


def timed_stream(client: httpx.Client, url: str, body: dict[str, object]) -> tuple[float, float]:
    started = time.perf_counter()
    first = None
    with client.stream("POST", url, json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data:") or line.endswith("[DONE]"):
                continue
            chunk = json.loads(line[5:])
            choices = chunk.get("choices") or []
            if first is None and choices and (choices[0].get("delta") or {}).get("content"):
                first = time.perf_counter()
    total = time.perf_counter() - started
    assert first is not None
    return (first - started) * 1000, total * 1000


def main(requests: int = typer.Option(40, help="streams per series")) -> None:
    with laneway_system({"fast-path": SIM, "general": SIM, "high-compute": SIM}) as system:
        direct_url = system.sim_urls["general"] + "/v1/chat/completions"
        laneway_url = system.api_url + "/v1/chat/completions"
        direct: list[tuple[float, float]] = []
        through: list[tuple[float, float]] = []
        with httpx.Client(timeout=60) as client:
            for _ in range(3):  # warm up both paths
                timed_stream(client, direct_url, {**BODY, "model": BENCH_MODEL})
                timed_stream(client, laneway_url, {**BODY, "model": "laneway/general"})
            for _ in range(requests):
                direct.append(timed_stream(client, direct_url, {**BODY, "model": BENCH_MODEL}))
                through.append(
                    timed_stream(client, laneway_url, {**BODY, "model": "laneway/general"})
                )

    def med(values: list[tuple[float, float]], i: int) -> float:
        return statistics.median(v[i] for v in values)

    print(f"{'':28}{'TTFT p50':>12}{'total p50':>12}")
    print(f"{'direct to the sim backend':28}{med(direct, 0):10.1f}ms{med(direct, 1):10.1f}ms")
    print(f"{'through laneway (OpenAI SSE)':28}{med(through, 0):10.1f}ms{med(through, 1):10.1f}ms")
    print(
        f"{'laneway adds':28}{med(through, 0) - med(direct, 0):10.1f}ms"
        f"{med(through, 1) - med(direct, 1):10.1f}ms"
    )


if __name__ == "__main__":
    typer.run(main)
