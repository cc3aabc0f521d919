"""``laneway classify``: classify a text, evaluate a strategy, teach it the user's examples.

laneway classify "what is the capital of peru" [--strategy S] [--max-tokens N]
laneway classify eval [FILE.jsonl] [--strategy S] [--errors] [--folds N] [--json]
laneway classify train FILE [--holdout 0.25] [--json]
laneway classify export [--output FILE] [--tenant T] [--client-routed-only]
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from classifier.bank import BankError, Example, load_bank, load_examples, load_user_examples
from classifier.calibration import (
    DEFAULT_BINS,
    DEFAULT_FOLDS,
    Reliability,
    as_items,
    held_out_decisions,
    holdout_split,
    reliability,
)
from classifier.evaluate import Report, evaluate, load_items, score
from classifier.strategies import FullHead, build_strategy, embeddings_available
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
err = Console(stderr=True)


def _fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[red]{message}[/red]", highlight=False)
    raise typer.Exit(code)


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


def _strategy(name: str | None, full_head: FullHead = "background") -> Strategy:
    config = _config(name)
    return build_strategy(config, "keyword" if name == "keyword" else None, full_head=full_head)


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
    timed = report.n > 0 and any(report.latency_ms.values())
    columns = ["n", "accuracy", "macro-F1", "worst family"]
    for column in columns + (["p50 ms", "p90 ms", "p99 ms"] if timed else []):
        summary.add_column(column, justify="right")
    worst, worst_acc = report.worst_family
    lat = report.latency_ms
    row = [str(report.n), f"{report.accuracy:.3f}", f"{report.macro_f1:.3f}"]
    row.append(f"{worst} {worst_acc:.2f}")
    if timed:
        row += [f"{lat['p50']:.2f}", f"{lat['p90']:.2f}", f"{lat['p99']:.2f}"]
    summary.add_row(*row)
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


def print_reliability(table: Reliability, title: str) -> None:
    out = Table(title=title, caption="gap > 0: more confident than accurate")
    for column in ("confidence", "n", "mean confidence", "accuracy", "gap"):
        out.add_column(column, justify="right")
    for b in table.bins:
        out.add_row(
            f"{b.low:.1f}-{b.high:.1f}",
            str(b.n),
            f"{b.mean_confidence:.3f}",
            f"{b.accuracy:.3f}",
            f"{b.gap:+.3f}",
        )
    out.add_row("all", str(table.n), "", f"{table.accuracy:.3f}", f"ECE {table.ece:.3f}")
    console.print(out)


def _reliability(report: Report, bins: int) -> Reliability:
    return reliability([d.confidence for d in report.decisions], report.correct, bins)


def _resolved(config: ClassifierConfig, strategy: str | None) -> str:
    name = strategy or config.strategy
    if name == "auto":
        return "cascade" if embeddings_available() else "rules"
    return name


def _trainable(name: str) -> bool:
    return name in ("embedding", "cascade")


def _bank_strategy(config: ClassifierConfig, name: str, bank: Sequence[Example]) -> Strategy:
    """``name`` with its embedding heads trained on ``bank`` (MiniLM head built now)."""
    return build_strategy(config, name, bank=bank, full_head="now")


def _load_user_file(path: Path) -> list[Example]:
    try:
        return load_user_examples(path)
    except BankError as exc:
        _fail(str(exc))


@app.command("eval")
def eval_command(
    file: Annotated[
        Path | None,
        typer.Argument(
            exists=True,
            dir_okay=False,
            help="labelled JSONL to score; without it, held-out splits of the example bank",
        ),
    ] = None,
    strategy: StrategyOption = None,
    errors: Annotated[bool, typer.Option("--errors", help="list misclassified items")] = False,
    folds: Annotated[
        int, typer.Option("--folds", min=2, help="held-out folds (whole template groups)")
    ] = DEFAULT_FOLDS,
    bins: Annotated[int, typer.Option("--bins", min=2, help="confidence bins")] = DEFAULT_BINS,
    bank_file: Annotated[
        Path | None,
        typer.Option(
            "--bank",
            exists=True,
            dir_okay=False,
            help="hold out groups of this example file (YAML/JSONL) instead of the bank's",
        ),
    ] = None,
    by_file: Annotated[
        bool,
        typer.Option(
            "--by-file",
            help="hold out one whole bank file per fold (leave-one-file-out) instead of "
            "folds of template groups",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Accuracy, confusion, per-family scores and a reliability table, on FILE or the bank.

    On FILE (labelled JSONL): also latency. Without FILE: on the example bank (packaged +
    classifier.examples_file, or --bank), each fold of template groups decided by heads
    trained without it.
    """
    config = _config(strategy)
    if file is not None and bank_file is not None:
        _fail("give FILE or --bank, not both")
    if by_file and bank_file is not None:
        _fail("--by-file holds out the bank's files; it does not apply to --bank")
    if file is not None:
        chosen = _strategy(strategy, full_head="now")  # score the whole model, not a warm-up
        report = evaluate(chosen.classify, load_items(file))
        title = f"{chosen.name} on {file.name}"
    else:
        name = _resolved(config, strategy)
        try:
            if bank_file:
                bank = load_examples(bank_file)
            else:
                bank = load_bank(config.examples_file, group_by_file=by_file)
        except BankError as exc:
            _fail(str(exc))
        if by_file:
            folds = len({e.group for e in bank})
        items = as_items(bank)
        source = bank_file.name if bank_file else "the example bank"
        if _trainable(name):
            err.print(f"training {folds} held-out folds of the bank ({len(bank)} examples)")
            decided = held_out_decisions(
                bank,
                lambda train: _bank_strategy(config, name, train),
                folds,
                lambda done, total: err.print(f"  fold {done}/{total} done"),
            )
            title = (
                f"{name}, each of {folds} bank files held out in turn, on {source}"
                if by_file
                else f"{name}, {folds} folds of template groups held out, on {source}"
            )
        else:
            decided = build_strategy(config, name).classify_batch([i.request for i in items])
            title = f"{name} (nothing trained) on {source}"
        report = score(items, decided)
    table = _reliability(report, bins)
    if as_json:
        typer.echo(json.dumps({"title": title, **report.as_dict(), "reliability": table.as_dict()}))
        return
    print_report(report, title, errors)
    print_reliability(table, f"reliability: {title}")


def _accuracy_row(name: str, report: Report | None) -> tuple[str, str, str]:
    if report is None:
        return name, "-", "-"
    return name, f"{report.accuracy:.3f}", f"{report.macro_f1:.3f}"


@app.command("train")
def train_command(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="labelled YAML or JSONL")],
    strategy: StrategyOption = None,
    holdout: Annotated[
        float, typer.Option("--holdout", min=0.05, max=0.9, help="share held out to score")
    ] = 0.25,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Retrain the heads with FILE's examples; accuracy before and after on a held-out part.

    Then cache the heads for the bank + all of FILE, which a classifier started with
    classifier.examples_file: FILE loads at once.
    """
    config = _config(strategy)
    user = _load_user_file(file)
    name = _resolved(config, strategy)
    if not _trainable(name):
        _fail(f"the {name} strategy learns nothing from examples; train embedding or cascade")
    try:
        packaged = load_bank()
    except BankError as exc:
        _fail(str(exc))
    train, held = holdout_split(user, holdout, seed)
    before = after = None
    if held and train:
        items = as_items(held)
        err.print(f"scoring {len(held)} held-out examples of {file.name} before and after")
        before = score(
            items, _bank_strategy(config, name, packaged).classify_batch([e.request for e in held])
        )
        after = score(
            items,
            _bank_strategy(config, name, [*packaged, *train]).classify_batch(
                [e.request for e in held]
            ),
        )
    err.print(f"training on the bank plus all {len(user)} examples of {file.name}")
    final = _bank_strategy(config, name, [*packaged, *user])
    heads = getattr(final, "model", final)
    key = getattr(heads, "cache_key", None)
    in_use = config.examples_file is not None and Path(config.examples_file).resolve() == (
        file.resolve()
    )
    result = {
        "file": str(file),
        "examples": len(user),
        "trained_on": len(train),
        "held_out": len(held),
        "strategy": name,
        "before": before.as_dict() if before else None,
        "after": after.as_dict() if after else None,
        "heads_cache_key": key,
        "heads_were_cached": bool(getattr(heads, "loaded_from_cache", False)),
        "in_use": in_use,
    }
    if as_json:
        typer.echo(json.dumps(result))
        return
    table = Table(title=f"{name} on {len(held)} held-out examples of {file.name}")
    for column in ("heads trained on", "accuracy", "macro-F1"):
        table.add_column(column, justify="right")
    table.add_row(*_accuracy_row("packaged bank", before))
    table.add_row(*_accuracy_row(f"bank + {len(train)} of yours", after))
    console.print(table)
    if not held or not train:
        console.print("too few examples to hold some out: no before/after score")
    console.print(f"heads for the bank + all {len(user)} examples cached (key {key}).")
    if in_use:
        console.print("classifier.examples_file names this file: the next start uses them.")
    else:
        console.print(
            f"To use them, set classifier.examples_file: {file.resolve()} in laneway.yaml "
            "(or LANEWAY_CLASSIFIER__EXAMPLES_FILE) and restart the classifier."
        )


@app.command("export")
def export_command(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", dir_okay=False, help="JSONL file to write")
    ] = None,
    tenant: Annotated[str | None, typer.Option("--tenant", help="only this tenant's jobs")] = None,
    client_routed_only: Annotated[
        bool,
        typer.Option("--client-routed-only", help="only jobs whose client chose the lane (route)"),
    ] = False,
    config: Annotated[Path | None, typer.Option("--config", "-c", dir_okay=False)] = None,
) -> None:
    """Succeeded jobs as labelled JSONL: request + the lane that answered it.

    For review, then `laneway classify train`. Reads the job records in Redis (the running
    system's).
    """
    import redis

    from classifier.export import export_lines, finished_jobs
    from laneway.runfile import command_settings

    try:
        settings = command_settings(config)
    except ConfigError as exc:
        _fail(str(exc))
    client = redis.Redis.from_url(
        settings.redis_url, decode_responses=True, socket_connect_timeout=3
    )
    try:
        client.ping()
        lines = list(export_lines(finished_jobs(client, tenant), client_routed_only))
    except (redis.RedisError, OSError) as exc:
        _fail(f"cannot read jobs from Redis at {settings.redis_url} ({exc})", 1)
    text = "".join(line + "\n" for line in lines)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        err.print(f"wrote {len(lines)} labelled jobs to {output}")


def main() -> None:  # pragma: no cover - console entry for `python -m classifier.cli`
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
