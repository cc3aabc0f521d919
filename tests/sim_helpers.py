"""Starting real sim-backend processes from tests (no mocks)."""

from __future__ import annotations

import queue
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from laneway.processes import terminate

REPO_ROOT = Path(__file__).resolve().parents[1]
_LISTENING = re.compile(r"listening on (http://\S+)/v1")


@dataclass
class SimBackendProcess:
    process: subprocess.Popen[str]
    root: str
    """``http://host:port``; the OpenAI API root is :attr:`base_url`."""

    @property
    def base_url(self) -> str:
        return self.root + "/v1"

    def stop(self, timeout: float = 5.0) -> int:
        """Terminate (SIGTERM, then SIGKILL if needed) and return the exit code."""
        code = terminate(self.process, timeout)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return code


def start_sim_backend(*args: str, port: int = 0, timeout: float = 15.0) -> SimBackendProcess:
    """Run ``python -m laneway.sim --port <port> *args`` and wait until /health answers.

    With ``port=0`` the OS picks a free port, read back from the "listening" line.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "laneway.sim", "--port", str(port), *args],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        root = _wait_for_listening_line(process, timeout)
        _wait_for_health(root, timeout)
    except BaseException:
        process.kill()
        process.wait()
        raise
    return SimBackendProcess(process, root)


def _wait_for_listening_line(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    stdout = process.stdout
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    try:
        line = lines.get(timeout=timeout)
    except queue.Empty:
        raise TimeoutError(f"sim backend printed nothing within {timeout} s") from None
    match = _LISTENING.search(line)
    if match is None:
        raise RuntimeError(f"sim backend failed to start (exit {process.poll()}): {line!r}")
    return match.group(1)


def _wait_for_health(root: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(root + "/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{root}/health did not answer 200 within {timeout} s")
        time.sleep(0.05)
