"""``laneway classify``: classify one text, or evaluate a strategy on a labelled JSONL file.

laneway classify "what is the capital of peru" [--strategy S] [--max-tokens N]
laneway classify eval FILE.jsonl [--strategy S] [--errors]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from classifier.evaluate import Report, evaluate, load_items
from classifier.strategies import build_strategy
from classifier.strategies.base import Strategy
from laneway.lanes import LANES
from laneway.settings import ClassifierConfig, ConfigError, load_settings

STRATEGIES = ("auto", "keyword", "rules", "embedding", "llm", "cascade")


class _ClassifyGroup(TyperGroup):
    """Route ``classify "some text"`` to the hidden ``text`` command, so a free text and
    the ``eval`` subcommand can share one command name."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["text", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_ClassifyGroup,
    no_args_is_help=True,
    help="Classify a request into a lane, or evaluate a classifier strategy.",
)
console = Console()


def _config(strategy: str | None) -> ClassifierConfig:
    try:
        config = load_settings().classifier
    except ConfigError as exc:
        console.print(f"[yellow]{exc}[/yellow]\nusing default classifier settings")
        config = ClassifierConfig()
    if strategy:
        if strategy not in STRATEGIES:
            raise typer.BadParameter(
                f"choose one of {', '.join(STRATEGIES)}", param_hint="--strategy"
            )
        if strategy == "keyword":
            return config
        config = config.model_copy(update={"strategy": strategy})
    return config


def _strategy(name: str | None) -> Strategy:
    config = _config(name)
    return build_strategy(config, "keyword" if name == "keyword" else None)


StrategyOption = Annotated[
    str | None, typer.Option("--strategy", "-s", help=f"one of {', '.join(STRATEGIES)}")
]


@app.command("text", hidden=True)
def classify_text(
    text: Annotated[str, typer.Argument(help="the user message to classify")],
    strategy: StrategyOption = None,
    max_tokens: Annotated[int | None, typer.Option("--max-tokens", min=1)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Classify one user message."""
    request: dict[str, Any] = {"messages": [{"role": "user", "content": text}]}
    if max_tokens:
        request["max_tokens"] = max_tokens
    decision = _strategy(strategy).classify(request)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "lane": decision.lane,
                    "confidence": decision.confidence,
                    "reason": decision.reason,
                    "strategy": decision.strategy,
                }
            )
        )
        return
    console.print(
        f"[bold]{decision.lane}[/bold]  confidence {decision.confidence:.2f}  ({decision.strategy})"
    )
    console.print(decision.reason, markup=False, highlight=False)


def print_report(report: Report, title: str, show_errors: bool = False) -> None:
    summary = Table(title=title)
    for column in ("n", "accuracy", "macro-F1", "worst family", "p50 ms", "p90 ms", "p99 ms"):
        summary.add_column(column, justify="right")
    worst, worst_acc = report.worst_family
    lat = report.latency_ms
    summary.add_row(
        str(report.n),
        f"{report.accuracy:.3f}",
        f"{report.macro_f1:.3f}",
        f"{worst} {worst_acc:.2f}",
        f"{lat['p50']:.2f}",
        f"{lat['p90']:.2f}",
        f"{lat['p99']:.2f}",
    )
    console.print(summary)
    lanes = Table(title="per lane")
    for column in ("lane", "precision", "recall", "F1", "n"):
        lanes.add_column(column, justify="right")
    for lane, m in report.per_lane.items():
        lanes.add_row(
            lane, f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}", str(int(m["n"]))
        )
    console.print(lanes)
    confusion = Table(title="confusion (rows: gold, columns: predicted)")
    confusion.add_column("gold")
    for lane in LANES:
        confusion.add_column(lane, justify="right")
    for gold in LANES:
        confusion.add_row(gold, *(str(report.confusion[gold][p]) for p in LANES))
    console.print(confusion)
    families = Table(title="accuracy per source family")
    families.add_column("family")
    families.add_column("accuracy", justify="right")
    families.add_column("n", justify="right")
    for family, (accuracy, n) in report.per_family.items():
        families.add_row(family, f"{accuracy:.3f}", str(n))
    console.print(families)
    if show_errors:
        errors = Table(title="errors")
        for column in ("id", "gold", "predicted", "reason"):
            errors.add_column(column)
        for item, decision in report.errors:
            errors.add_row(item.id, item.label, decision.lane, decision.reason[:90])
        console.print(errors)


@app.command("eval")
def eval_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="labelled JSONL")],
    strategy: StrategyOption = None,
    errors: Annotated[bool, typer.Option("--errors", help="list misclassified items")] = False,
) -> None:
    """Accuracy, macro-F1, confusion matrix, per-family accuracy and latency on FILE."""
    chosen = _strategy(strategy)
    report = evaluate(chosen.classify, load_items(file))
    print_report(report, f"{chosen.name} on {file.name}", errors)


def main() -> None:  # pragma: no cover - console entry for `python -m classifier.cli`
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
