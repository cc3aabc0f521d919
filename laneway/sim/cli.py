"""``laneway sim-backend``: run a simulated OpenAI-compatible model server."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError

from laneway.net import is_loopback
from laneway.sim.config import SimConfig
from laneway.sim.faults import FaultSettings
from laneway.sim.profiles import PROFILES, get_profile
from laneway.sim.server import serve

_PROFILE_HELP = "Latency/size profile: " + "; ".join(
    f"{p.name} ({p.model}, ttft {p.ttft_ms:g} ms, "
    f"{'no delay' if not p.has_delay else f'{p.tokens_per_second:g} tok/s'}, "
    f"context {p.context_window}, {p.default_completion_tokens} tokens by default, "
    f"${p.price_per_1k_input:g}/${p.price_per_1k_output:g} per 1k tokens in/out)"
    for p in PROFILES.values()
)


def sim_backend(
    host: Annotated[
        str, typer.Option(help="Interface to bind; non-loopback needs --insecure.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(help="TCP port; 0 picks a free one (see the printed line).")
    ] = 9101,
    profile: Annotated[str, typer.Option(help=_PROFILE_HELP)] = "small",
    name: Annotated[
        str | None,
        typer.Option(help="Backend name for the x-sim-backend header; defaults to sim-<profile>."),
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Extra model name (alias) accepted besides the profile's.")
    ] = None,
    error_rate: Annotated[float, typer.Option(help="Fraction of requests answered 500.")] = 0.0,
    rate_limit_rate: Annotated[
        float, typer.Option(help="Fraction of requests answered 429 with Retry-After: 1.")
    ] = 0.0,
    hang_rate: Annotated[
        float, typer.Option(help="Fraction of requests that hang for --hang-seconds first.")
    ] = 0.0,
    hang_seconds: Annotated[float, typer.Option(help="How long a hanging request sleeps.")] = 3600,
    seed: Annotated[int, typer.Option(help="Seed of the fault draws (reproducible faults).")] = 0,
    max_concurrency: Annotated[
        int,
        typer.Option(
            help="Slots: requests served at once; the rest queue, first come first served. "
            "0 = unlimited."
        ),
    ] = 0,
    batch_slowdown: Annotated[
        float,
        typer.Option(
            help="Throughput shared as in a batching server: with n requests active each "
            "runs at 1/(1 + B*(n-1)) of the profile's speed (time to first token included). "
            "0 = every request at full speed however many run."
        ),
    ] = 0.0,
    ttft_ms: Annotated[
        float | None, typer.Option(help="Override the profile's time to first token (ms).")
    ] = None,
    tokens_per_second: Annotated[
        float | None,
        typer.Option(help="Override the profile's generation speed; 0 = no delay at all."),
    ] = None,
    context_window: Annotated[
        int | None, typer.Option(help="Override the profile's context window (tokens).")
    ] = None,
    price_input: Annotated[
        float | None, typer.Option(help="Override the price per 1k prompt tokens (USD).")
    ] = None,
    price_output: Annotated[
        float | None, typer.Option(help="Override the price per 1k completion tokens (USD).")
    ] = None,
    insecure: Annotated[
        bool, typer.Option(help="Allow binding to a non-loopback interface.")
    ] = False,
    fd: Annotated[
        int | None, typer.Option(help="Serve on this inherited listening socket instead.")
    ] = None,
) -> None:
    """Run a simulated OpenAI-compatible model server (for demos, tests and benchmarks).

    Fault settings can be changed at run time with POST /admin/faults; counters are at
    GET /admin/stats.
    """
    if not insecure and not is_loopback(host):
        raise typer.BadParameter(
            f"refusing to bind {host!r}, which is not a loopback address; pass --insecure "
            "to expose the sim backend beyond this machine",
            param_hint="--host",
        )
    if max_concurrency < 0:
        raise typer.BadParameter("must be >= 0", param_hint="--max-concurrency")
    if batch_slowdown < 0:
        raise typer.BadParameter("must be >= 0", param_hint="--batch-slowdown")
    try:
        base = get_profile(profile)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--profile") from None
    try:
        chosen = base.with_overrides(
            ttft_ms=ttft_ms,
            tokens_per_second=tokens_per_second,
            context_window=context_window,
            price_per_1k_input=price_input,
            price_per_1k_output=price_output,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    try:
        faults = FaultSettings(
            error_rate=error_rate,
            rate_limit_rate=rate_limit_rate,
            hang_rate=hang_rate,
            hang_seconds=hang_seconds,
            seed=seed,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        option = "--" + str(first["loc"][0]).replace("_", "-")
        raise typer.BadParameter(first["msg"], param_hint=option) from None
    config = SimConfig(
        profile=chosen,
        name=name or f"sim-{chosen.name}",
        alias=model,
        faults=faults,
        max_concurrency=max_concurrency,
        batch_slowdown=batch_slowdown,
    )
    serve(config, host, port, fd)
