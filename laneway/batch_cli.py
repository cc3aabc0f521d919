"""``laneway batch``: run a JSONL file of requests as a batch (resumable), list, inspect
and cancel batches, through the Files and Batch API of a laneway API (or OpenAI's).

Exit codes: 0 done, 1 an error (API unreachable or refusing, a batch that ended
cancelled or expired), 2 bad input (a line, a failed validation, a state file of another
input), 3 ``run`` finished with some lines failed (their errors are in the output),
130 interrupted.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from laneway import runfile
from laneway.batch_client import ApiRefused, ApiUnreachable, BatchApi
from laneway.batch_run import BatchRun, RunError
from laneway.settings import ConfigError

app = typer.Typer(
    no_args_is_help=True,
    help="Batches (OpenAI's Batch API): run a JSONL file of requests, list, status, cancel.",
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

ApiOption = Annotated[
    str | None,
    typer.Option(
        "--api",
        envvar="LANEWAY_API_URL",
        help="API root (default: the running `laneway up`, else the config's api.port)",
    ),
]
KeyOption = Annotated[
    str | None,
    typer.Option("--api-key", envvar="LANEWAY_API_KEY", help="API key", show_default=False),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="YAML config file (default: $LANEWAY_CONFIG or ./laneway.yaml)"
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="print OpenAI's Batch objects as JSON")]


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]{message}[/red]")
    return typer.Exit(code)


def _client(api: str | None, api_key: str | None, config: Path | None) -> BatchApi:
    try:
        url = api.rstrip("/") if api else runfile.api_url(config)
    except ConfigError as exc:
        raise _fail(str(exc), 2) from None
    return BatchApi(url, api_key)


def _api_error(exc: ApiUnreachable | ApiRefused) -> typer.Exit:
    if isinstance(exc, ApiUnreachable):
        return _fail(f"{exc}. Is `laneway up` running? Or name the API with --api.")
    return _fail(str(exc))


class RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-- lines/s" if speed is None else f"{speed:,.1f} lines/s")


class ProgressReporter:
    """The live bar of ``batch run``: done / total, failed, lines per second, ETA."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID | None = None

    def start(self, total: int, done: int, failed: int) -> None:
        if self.task is None:
            self.task = self.progress.add_task("starting", total=total, failed=failed)
        self.progress.update(self.task, completed=done, failed=failed)

    def update(self, done: int, failed: int, status: str) -> None:
        if self.task is not None:
            self.progress.update(self.task, completed=done, failed=failed, description=status)

    def note(self, text: str) -> None:
        self.progress.console.print(text, highlight=False)


@app.command()
def run(
    input_file: Annotated[Path, typer.Argument(help="JSONL file of batch requests")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="where the results go, in input order")
    ],
    completion_window: Annotated[str, typer.Option(help="the batches' completion_window")] = "24h",
    force: Annotated[bool, typer.Option(help="replace an existing output file")] = False,
    reconnect_timeout: Annotated[
        float, typer.Option(help="seconds to keep retrying an unreachable API")
    ] = 60,
    api: ApiOption = None,
    api_key: KeyOption = None,
    config: ConfigOption = None,
) -> None:
    """Run INPUT_FILE as a batch and write one result line per request to OUTPUT, in
    input order, with a live progress bar. Interrupted (Ctrl-C, a lost connection, a
    restarted API), the same command resumes: no finished line is sent again."""
    progress = Progress(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[red]{task.fields[failed]} failed[/red]"),
        RateColumn(),
        TimeRemainingColumn(),
        console=err,
    )
    with _client(api, api_key, config) as client:
        batch_run = BatchRun(
            client,
            input_file,
            output,
            ProgressReporter(progress),
            window=completion_window,
            reconnect_seconds=reconnect_timeout,
            force=force,
        )
        try:
            with progress:
                result = batch_run.run()
        except RunError as exc:
            raise _fail(str(exc), exc.exit_code) from None
        except (ApiUnreachable, ApiRefused) as exc:
            raise _api_error(exc) from None
        except KeyboardInterrupt:
            err.print(
                "interrupted: the batch goes on on the server; run the same command again "
                f"to resume (or `laneway batch cancel`). State: {output}.batch.json"
            )
            raise typer.Exit(130) from None
    err.print(
        f"{result.total} lines: {result.succeeded} succeeded, {result.failed} failed → {output}"
        f" (batch {', '.join(result.batch_ids)})"
    )
    if result.failed:
        raise typer.Exit(3)


def _when(moment: int | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(moment)) if moment else "-"


@app.command("list")
def list_batches(
    limit: Annotated[int, typer.Option(min=1, help="how many, newest first")] = 20,
    as_json: JsonOption = False,
    api: ApiOption = None,
    api_key: KeyOption = None,
    config: ConfigOption = None,
) -> None:
    """The batches of the key's tenant, newest first."""
    batches: list[dict[str, Any]] = []
    with _client(api, api_key, config) as client:
        try:
            for batch in client.batches():
                batches.append(batch)
                if len(batches) >= limit:
                    break
        except (ApiUnreachable, ApiRefused) as exc:
            raise _api_error(exc) from None
    if as_json:
        out.print_json(json.dumps(batches))
        return
    table = Table()
    table.add_column("batch", no_wrap=True)  # whole, to copy
    for column in ("status", "done / total", "failed", "created", "endpoint"):
        table.add_column(column)
    for batch in batches:
        counts = batch["request_counts"]
        table.add_row(
            batch["id"],
            batch["status"],
            f"{counts['completed'] + counts['failed']} / {counts['total']}",
            str(counts["failed"]),
            _when(batch.get("created_at")),
            batch["endpoint"],
        )
    out.print(table)


def _one(
    action: str, batch_id: str, api: str | None, api_key: str | None, config: Path | None
) -> dict[str, Any]:
    with _client(api, api_key, config) as client:
        try:
            return client.cancel(batch_id) if action == "cancel" else client.batch(batch_id)
        except (ApiUnreachable, ApiRefused) as exc:
            raise _api_error(exc) from None


def _print_batch(batch: dict[str, Any]) -> None:
    table = Table(show_header=False, box=None)
    counts = batch["request_counts"]
    table.add_row("batch", batch["id"])
    table.add_row("status", batch["status"])
    lines = f"{counts['total']} total, {counts['completed']} succeeded, {counts['failed']} failed"
    table.add_row("lines", lines)
    table.add_row("endpoint", batch["endpoint"])
    table.add_row("input file", batch["input_file_id"])
    for name in ("output_file_id", "error_file_id"):
        if batch.get(name):
            table.add_row(name.removesuffix("_id").replace("_", " "), batch[name])
    for name in ("created_at", "in_progress_at", "completed_at", "expires_at", "cancelled_at"):
        if batch.get(name):
            table.add_row(name.removesuffix("_at").replace("_", " "), _when(batch[name]))
    if batch.get("metadata"):
        table.add_row("metadata", json.dumps(batch["metadata"]))
    out.print(table)
    for error in (batch.get("errors") or {}).get("data") or []:
        out.print(f"  line {error.get('line')}: {error.get('message')} [{error.get('code')}]")


def _show(batch: dict[str, Any], as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps(batch))
    else:
        _print_batch(batch)


@app.command()
def status(
    batch_id: Annotated[str, typer.Argument(help="batch id")],
    as_json: JsonOption = False,
    api: ApiOption = None,
    api_key: KeyOption = None,
    config: ConfigOption = None,
) -> None:
    """A batch's status, line counts, files and validation errors."""
    _show(_one("status", batch_id, api, api_key, config), as_json)


@app.command()
def cancel(
    batch_id: Annotated[str, typer.Argument(help="batch id")],
    as_json: JsonOption = False,
    api: ApiOption = None,
    api_key: KeyOption = None,
    config: ConfigOption = None,
) -> None:
    """Cancel a batch: lines not yet started never run, finished ones are kept."""
    _show(_one("cancel", batch_id, api, api_key, config), as_json)
