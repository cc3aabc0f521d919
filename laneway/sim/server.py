"""Running the sim backend under uvicorn."""

from __future__ import annotations

import asyncio
import signal
from types import FrameType

import uvicorn

from laneway.sim.app import create_app
from laneway.sim.config import SimConfig


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def serve(
    config: SimConfig, host: str = "127.0.0.1", port: int = 9101, fd: int | None = None
) -> None:
    """Serve until SIGINT/SIGTERM; prints one "listening" line once the socket is bound."""
    uv_config = uvicorn.Config(
        create_app(config),
        host=host,
        port=port,
        fd=fd,
        loop="uvloop",
        http="httptools",
        ws="none",
        lifespan="off",
        access_log=False,
        log_level="warning",
        # Don't let a hanging (fault-injected) request hold up shutdown.
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(uv_config)
    # uvicorn shuts down gracefully on these signals and then re-raises them, which lands here.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _exit_cleanly)
    with asyncio.Runner(loop_factory=uv_config.get_loop_factory()) as runner:
        runner.run(_serve_and_announce(server, config.name, host))


async def _serve_and_announce(server: uvicorn.Server, name: str, host: str) -> None:
    task = asyncio.create_task(server.serve())
    while not server.started and not task.done():
        await asyncio.sleep(0.005)
    if server.started:
        port = server.servers[0].sockets[0].getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        print(f"sim-backend {name} listening on http://{shown}:{port}/v1", flush=True)
    await task
