"""Classifier benchmark: quality and speed of each strategy on a labelled JSONL file.

    python bench/classifier.py [--devset PATH] [--burst 500] [--threads 8] [--cold]
    python bench/classifier.py --cold-start [--runs 3]

Prints, per strategy: accuracy, macro-F1, worst source family, p50/p99 latency of one
request (cache misses, one call each) and burst throughput through the micro-batcher
(``--threads`` threads each classifying its share of ``--burst`` requests, the way one
classifier worker with a threads pool sees a burst), and start-up cost: "ready s" is the
time until the strategy answers, "full s" until its MiniLM head is built too (on a cold
cache that happens in the background; the quality and speed columns wait for it).
``--cold`` uses an empty temporary cache directory (a fresh machine). Then the default
strategy per family is printed for every strategy with trained heads.

``--cold-start`` measures instead what a classifier process started on a fresh machine
sees, in new processes with an empty cache directory (``--runs`` times, median): the
seconds from process start (imports included) to its first answer, and to its full
(MiniLM) head: with the heads shipped in ``classifier/heads/``; with a user examples file
(the heads are trained at start, the full head from the shipped bank vectors plus the
file's own texts); and with nothing shipped (a changed bank: train the quick head, then
encode the whole bank in the background).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from classifier.batcher import MicroBatcher  # noqa: E402
from classifier.evaluate import Item, Report, evaluate, load_items  # noqa: E402
from classifier.strategies import build_strategy, embeddings_available  # noqa: E402
from classifier.strategies.base import Strategy  # noqa: E402
from laneway.settings import ClassifierConfig  # noqa: E402

DEFAULT_DEVSET = next(
    (
        p / "shared" / "classifier-devset.jsonl"
        for p in (ROOT.parent, ROOT.parent.parent)  # a checkout, or a worktree in wt/
        if (p / "shared" / "classifier-devset.jsonl").is_file()
    ),
    ROOT.parent / "shared" / "classifier-devset.jsonl",
)

COLD_START = """
import time
started = time.perf_counter()
import sys
from pathlib import Path
import classifier.strategies.embedding as embedding
examples_file = None
if sys.argv[1] == "without":
    embedding.PACKAGED_HEADS_DIR = Path(sys.argv[2]) / "no-packaged-heads"
if sys.argv[1] == "user":
    examples_file = Path(sys.argv[2]) / "mine.yaml"
    examples_file.write_text(
        "fast-path:\\n  - run the weekly churn digest for the us accounts\\n"
        "  - run the daily churn digest for the eu accounts\\n"
        "general:\\n  - draft the quarterly churn commentary for the board\\n"
    )
from classifier.strategies import build_strategy
from laneway.settings import ClassifierConfig
strategy = build_strategy(ClassifierConfig(examples_file=examples_file), "auto")
strategy.classify({"messages": [{"role": "user", "content": "Explain how tides work."}]})
answered = time.perf_counter() - started
strategy.model.wait_ready()
print(answered, time.perf_counter() - started)
"""


def cold_start(runs: int) -> int:
    """Seconds to the first answer and to the full head, of fresh processes on an empty
    cache, with and without the shipped heads."""
    console = Console()
    table = Table(title=f"cold start: new process, empty cache (median of {runs})")
    for column in ("heads", "first answer s", "full head s"):
        table.add_column(column, justify="right")
    for mode in ("with", "user", "without"):
        answers, fulls = [], []
        for _ in range(runs):
            with tempfile.TemporaryDirectory(prefix="laneway-cold-") as empty:
                env = {**os.environ, "LANEWAY_CACHE_DIR": empty}
                done = subprocess.run(
                    [sys.executable, "-c", COLD_START, mode, empty],
                    capture_output=True,
                    text=True,
                    env=env,
                    cwd=ROOT,
                    check=True,
                )
            answer, full = (float(x) for x in done.stdout.split()[-2:])
            answers.append(answer)
            fulls.append(full)
        label = {
            "with": "shipped (classifier/heads/)",
            "user": "user examples file: trained at start, shipped bank vectors",
            "without": "changed bank: trained at start, every text encoded",
        }[mode]
        table.add_row(label, f"{statistics.median(answers):.1f}", f"{statistics.median(fulls):.1f}")
    console.print(table)
    return 0


def burst_throughput(strategy: Strategy, items: list[Item], total: int, threads: int) -> float:
    requests = [items[i % len(items)].request for i in range(total)]
    batcher = MicroBatcher(strategy, max_batch=64)
    shares = [requests[i::threads] for i in range(threads)]
    barrier = threading.Barrier(threads + 1)

    def worker(share: list[dict[str, object]]) -> None:
        barrier.wait()
        for request in share:
            batcher.classify(request)

    pool = [threading.Thread(target=worker, args=(s,)) for s in shares]
    for thread in pool:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - start
    batcher.close()
    return total / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devset", type=Path, default=DEFAULT_DEVSET)
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--strategies", default="keyword,rules,embedding,cascade,auto")
    parser.add_argument("--cold", action="store_true", help="start from an empty cache dir")
    parser.add_argument(
        "--cold-start", action="store_true", help="time fresh processes on an empty cache"
    )
    parser.add_argument("--runs", type=int, default=3, help="--cold-start runs per mode")
    args = parser.parse_args(argv)
    if args.cold_start:
        return cold_start(args.runs)
    with tempfile.TemporaryDirectory(prefix="laneway-bench-cache-") as empty:
        if args.cold:
            os.environ["LANEWAY_CACHE_DIR"] = empty
        return run(args)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING)
    items = load_items(args.devset)
    config = ClassifierConfig()
    console = Console()
    table = Table(title=f"classifier strategies on {args.devset.name} ({len(items)} items)")
    for column in (
        "strategy",
        "accuracy",
        "macro-F1",
        "worst family",
        "p50 ms",
        "p99 ms",
        "burst /s",
        "ready s",
        "full s",
    ):
        table.add_column(column, justify="right")
    reports: dict[str, Report] = {}
    for name in args.strategies.split(","):
        if name in ("embedding", "cascade") and not embeddings_available():
            table.add_row(name, "-", "-", "embeddings extra not installed", "-", "-", "-", "-", "-")
            continue
        started = time.perf_counter()
        strategy = build_strategy(config, name)
        built = time.perf_counter() - started
        model = getattr(strategy, "model", strategy)
        wait_ready = getattr(model, "wait_ready", None)
        if wait_ready is not None:
            wait_ready()
        full = time.perf_counter() - started
        report = evaluate(strategy.classify, items, warmup=5)
        reports[name] = report
        rate = burst_throughput(strategy, items, args.burst, args.threads)
        worst, worst_acc = report.worst_family
        label = f"{name} ({strategy.name})" if name == "auto" else name
        table.add_row(
            label,
            f"{report.accuracy:.3f}",
            f"{report.macro_f1:.3f}",
            f"{worst} {worst_acc:.2f}",
            f"{report.latency_ms['p50']:.2f}",
            f"{report.latency_ms['p99']:.2f}",
            f"{rate:.0f}",
            f"{built:.1f}",
            f"{full:.1f}",
        )
    console.print(table)
    for name, report in reports.items():
        if name in ("embedding", "cascade", "auto"):
            console.print(
                f"{name} per family: "
                + ", ".join(f"{k} {a:.2f}" for k, (a, _) in report.per_family.items())
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
