"""``laneway keys``: create, list and revoke stored API keys.

``create`` prints the new key once, alone on stdout (``KEY=$(laneway keys create
--tenant acme)``), and what was made on stderr; Redis keeps only the key's hash.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import redis
import typer
from rich.console import Console

from laneway.apikeys import ApiKeyError, KeyStore, Limits, StoredKey, check_lanes
from laneway.runfile import command_settings
from laneway.settings import ConfigError

app = typer.Typer(
    no_args_is_help=True,
    help="API keys stored in Redis, with a tenant, lanes and limits (only their hash is kept).",
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="YAML config file [default: $LANEWAY_CONFIG or ./laneway.yaml]"
    ),
]
Limit = Annotated[int | None, typer.Option(min=1)]


def _store(config: Path | None) -> KeyStore:
    """The keys of the running ``laneway up`` (its run file), unless told otherwise."""
    try:
        settings = command_settings(config)
    except ConfigError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    return KeyStore(redis.Redis.from_url(settings.redis_url, decode_responses=True))


def _redis_down(exc: redis.RedisError) -> typer.Exit:
    err.print(
        f"[red]cannot reach Redis ({exc}). Start the system with `laneway up` (other "
        "commands then find it), or point LANEWAY_REDIS_URL or --config at your Redis.[/red]",
        highlight=False,
    )
    return typer.Exit(1)


def _when(moment: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(moment)) if moment else "-"


def _limit(value: int | None) -> str:
    return "-" if value is None else str(value)


def _as_dict(record: StoredKey) -> dict[str, object]:
    return {
        "id": record.id,
        "prefix": record.prefix,
        "tenant": record.tenant,
        "lanes": list(record.lanes) if record.lanes else None,
        "rpm": record.limits.rpm,
        "tpm": record.limits.tpm,
        "monthly_tokens": record.limits.monthly_tokens,
        "created_at": record.created_at,
        "last_used_at": record.last_used_at,
        "revoked_at": record.revoked_at,
    }


@app.command("create")
def create(
    tenant: Annotated[str, typer.Option(help="the tenant the key acts for")],
    lanes: Annotated[
        list[str] | None,
        typer.Option(
            "--lanes", help="lanes it may use, comma-separated or repeated [default: all]"
        ),
    ] = None,
    rpm: Limit = None,
    tpm: Limit = None,
    monthly_tokens: Limit = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="print the key and its record as JSON")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Make a key; it is printed once (only its hash is stored).

    --rpm: requests per minute; --tpm: tokens per minute; --monthly-tokens: tokens per
    calendar month (UTC). A request counts its prompt (about 4 characters a token)
    plus its max_tokens.
    """
    store = _store(config)
    try:
        key, record = store.create(tenant, check_lanes(lanes), Limits(rpm, tpm, monthly_tokens))
    except ApiKeyError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    except redis.RedisError as exc:
        raise _redis_down(exc) from None
    if as_json:
        print(json.dumps({"key": key, **_as_dict(record)}))
        return
    print(key)
    lanes_text = ", ".join(record.lanes) if record.lanes else "all lanes"
    err.print(
        f"created {record.id} for tenant {record.tenant} ({lanes_text}; "
        f"{record.limits.describe()}). The key above is shown only now: store it."
    )


@app.command("list")
def list_keys(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON lines")] = False,
    config: ConfigOption = None,
) -> None:
    """Every stored key, revoked ones too (never the keys themselves).

    Shows id, prefix, tenant, lanes, limits, when made and when last used.
    """
    try:
        records = _store(config).list()
    except redis.RedisError as exc:
        raise _redis_down(exc) from None
    if as_json:
        for record in records:
            print(json.dumps(_as_dict(record)))
        return
    header = ("id", "prefix", "tenant", "lanes", "rpm", "tpm", "monthly", "created", "last used")
    rows = [header] + [
        (
            record.id,
            record.prefix + "…",
            record.tenant,
            ",".join(record.lanes) if record.lanes else "all",
            _limit(record.limits.rpm),
            _limit(record.limits.tpm),
            _limit(record.limits.monthly_tokens),
            _when(record.created_at),
            _when(record.last_used_at),
        )
        for record in records
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row, shown in zip(rows, [None, *records], strict=True):
        line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        if shown is not None and not shown.active:
            line += f"  revoked {_when(shown.revoked_at)}"
        out.print(line.rstrip(), markup=False)
    if not records:
        err.print("no stored keys (create one with `laneway keys create --tenant NAME`)")


@app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(metavar="ID", help="the key's id (or the key itself)")],
    config: ConfigOption = None,
) -> None:
    """Revoke a key: from now on it answers 401. Its record stays, marked revoked."""
    try:
        record = _store(config).revoke(key_id)
    except redis.RedisError as exc:
        raise _redis_down(exc) from None
    if record is None:
        err.print(
            f"[red]no stored key {key_id!r}[/red]"
            if key_id.startswith("key_")
            else "[red]no such stored key[/red]"
        )
        raise typer.Exit(1)
    out.print(f"revoked {record.id} (tenant {record.tenant})", markup=False)
