"""Flower, Celery's monitor, on laneway's broker, optionally on an inherited socket."""

from __future__ import annotations

import os
import signal
import socket
from types import FrameType

from laneway.settings import Settings
from laneway.worker import exit_now


def serve_flower(
    settings: Settings,
    address: str,
    port: int,
    fd: int | None = None,
    basic_auth: list[str] | None = None,
) -> None:
    """Run Flower until SIGINT/SIGTERM. With ``fd``, serve on that listening socket
    (bound by ``laneway up``, so the port cannot be taken between choice and bind)."""
    from flower.app import Flower
    from flower.options import options
    from flower.urls import settings as flower_settings
    from tornado.httpserver import HTTPServer

    from laneway.celery_app import create_app

    options.address = address
    options.port = port
    options.basic_auth = basic_auth or []
    # The HTTP API (workers, queues) is open on loopback without auth, as the UI is.
    if not basic_auth:
        os.environ.setdefault("FLOWER_UNAUTHENTICATED_API", "true")
    inherited = socket.socket(fileno=fd) if fd is not None else None

    class LanewayFlower(Flower):  # type: ignore[misc]
        def start_http_server(self) -> int:
            if inherited is None:
                bound: int = super().start_http_server()
                return bound
            inherited.setblocking(False)  # tornado's loop must never block in accept()
            server = HTTPServer(self, xheaders=self.options.xheaders)
            server.add_sockets([inherited])
            return int(inherited.getsockname()[1])

    app = LanewayFlower(capp=create_app(settings), options=options, **flower_settings)

    def _stop(signum: int, frame: FrameType | None) -> None:
        app.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    bound = app.start_http_server()
    print(f"flower listening on http://{address}:{bound}", flush=True)
    app.start()
    exit_now(0)
