"""``laneway usage``: tokens, cost and timings of finished jobs, as a table.

Reads the hourly usage totals straight from Redis (every tenant; ``--tenant`` for
one), as ``GET /v1/usage`` does for a tenant over HTTP.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import redis
import typer
from rich.console import Console
from rich.table import Table

from laneway.runfile import command_settings
from laneway.settings import ConfigError
from laneway.usage import GROUPS, GroupBy, Totals, UsageReport, parse_since, read_usage

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def usage_table(report: UsageReport) -> Table:
    since = time.strftime("%Y-%m-%d %H:%M", time.gmtime(report.start))
    until = time.strftime("%Y-%m-%d %H:%M", time.gmtime(report.end))
    table = Table(title=f"usage {since} → {until} UTC", title_justify="left")
    table.add_column(report.group_by or "", style="bold")
    for name in ("jobs", "failed", "prompt tok", "completion tok", "cost"):
        table.add_column(name, justify="right")
    for name in ("queue wait ms", "ttft ms", "backend s"):
        table.add_column(name, justify="right")

    def row(key: str, totals: Totals, style: str | None = None) -> None:
        view = totals.view()
        estimated = f" ({view['estimated_jobs']} est.)" if view["estimated_jobs"] else ""
        table.add_row(
            key,
            f"{view['jobs']:,}",
            f"{view['failed']:,}",
            f"{view['prompt_tokens']:,}",
            f"{view['completion_tokens']:,}{estimated}",
            f"{view['cost']:.4f}",
            _ms(view["mean_queue_wait_ms"]),
            _ms(view["mean_ttft_ms"]),
            f"{view['backend_ms'] / 1000:,.1f}",
            style=style,
        )

    for key, totals in sorted(report.groups.items(), key=lambda kv: (-kv[1].cost, kv[0])):
        row(key or "(none)", totals)
    row("total", report.total, "bold" if report.groups else None)
    return table


def usage_command(
    since: Annotated[
        str, typer.Option(help="how far back: 30m, 24h, 7d, 2w (whole hours are counted)")
    ] = "24h",
    by: Annotated[str | None, typer.Option(help=f"split by one of: {', '.join(GROUPS)}")] = None,
    tenant: Annotated[str | None, typer.Option(help="one tenant's usage only")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="YAML config file [default: $LANEWAY_CONFIG or ./laneway.yaml]"
        ),
    ] = None,
) -> None:
    """Jobs, tokens, cost, mean queue wait and time to first token, and backend time of
    the jobs that finished in the last ``--since``, in total or ``--by`` lane, backend,
    model or tenant."""
    try:
        seconds = parse_since(since)
    except ValueError as exc:
        err.print(f"[red]--since: {exc}[/red]")
        raise typer.Exit(2) from None
    if by is not None and by not in GROUPS:
        err.print(f"[red]--by must be one of {', '.join(GROUPS)}, not {by!r}[/red]")
        raise typer.Exit(2)
    group: GroupBy | None = by  # narrowed by the check above
    try:
        settings = command_settings(config)
    except ConfigError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    client = redis.Redis.from_url(
        settings.redis_url, decode_responses=True, socket_connect_timeout=3
    )
    try:
        report = read_usage(client, time.time() - seconds, None, group, tenant)
    except (redis.RedisError, OSError) as exc:
        err.print(
            f"[red]cannot reach Redis at {settings.redis_url} ({exc}). Start the system with "
            "`laneway up` (other commands then find it), or point LANEWAY_REDIS_URL or "
            "--config at your Redis.[/red]"
        )
        raise typer.Exit(1) from None
    if as_json:
        groups = {key: totals.view() for key, totals in report.groups.items()}
        body = {"start": report.start, "end": report.end, "group_by": group, "tenant": tenant}
        out.print_json(json.dumps({**body, "total": report.total.view(), "groups": groups}))
        return
    out.print(usage_table(report))
