"""A real llama.cpp server (llama-cpp-python) with a tiny generated model, for tests.

Nothing here is downloaded at test time: ``make test-llamacpp`` builds
llama-cpp-python into ``.venv-llamacpp`` (outside git) and the model is written
by ``shared/llamacpp/make_tiny_gguf.py`` (random weights, word-salad output).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, NoReturn

import httpx
import pytest

from laneway.net import free_port
from laneway.processes import terminate

REPO_ROOT = Path(__file__).resolve().parents[1]
PYTHON_ENV = "LANEWAY_LLAMACPP_PYTHON"
"""Environment variable naming the llama venv's python (``make test-llamacpp`` sets it)."""
DEFAULT_PYTHON = REPO_ROOT / ".venv-llamacpp" / "bin" / "python"
SCRIPT_ENV = "LANEWAY_LLAMACPP_SCRIPT"
"""Optional override for the path of ``make_tiny_gguf.py``."""
SCRIPT_CANDIDATES = (
    REPO_ROOT.parent / "shared" / "llamacpp" / "make_tiny_gguf.py",  # CI: shared/ beside the repo
    REPO_ROOT / "shared" / "llamacpp" / "make_tiny_gguf.py",
)
MODEL_DIR = REPO_ROOT / ".laneway" / "llamacpp"
"""Generated .gguf files live here (git-ignored)."""
RUN_HINT = "run `make test-llamacpp`, which builds .venv-llamacpp and runs this module"


def _die_with_parent() -> None:
    """The server gets SIGTERM if the test process dies, so no server outlives a crash."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _fail(message: str) -> NoReturn:
    pytest.fail(f"llama.cpp tests cannot run: {message}; {RUN_HINT}", pytrace=False)


def llama_python() -> Path:
    """The llama venv's python, checked to import ``llama_cpp.server``; fails the test if not."""
    configured = os.environ.get(PYTHON_ENV)
    path = Path(configured) if configured else DEFAULT_PYTHON
    if not path.is_absolute():
        path = REPO_ROOT / path
    if not path.exists():
        _fail(f"no llama-cpp-python venv at {path} (set {PYTHON_ENV} to its python)")
    probe = subprocess.run(
        [str(path), "-c", "import llama_cpp.server.app, gguf, numpy"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if probe.returncode != 0:
        _fail(f"{path} cannot import llama_cpp.server, gguf and numpy: {probe.stderr.strip()}")
    return path


def tiny_gguf_script() -> Path:
    """``make_tiny_gguf.py`` from the ``shared/`` checkout beside the repo."""
    configured = os.environ.get(SCRIPT_ENV)
    candidates = (Path(configured),) if configured else SCRIPT_CANDIDATES
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    _fail(f"make_tiny_gguf.py not found (looked at {', '.join(map(str, candidates))})")


def make_tiny_model(python: Path, name: str, *args: str) -> Path:
    """Write ``.laneway/llamacpp/<name>.gguf`` unless an up-to-date one exists."""
    script = tiny_gguf_script()
    MODEL_DIR.mkdir(parents=True, exist_ok=True)
    model = MODEL_DIR / f"{name}.gguf"
    if model.is_file() and model.stat().st_mtime >= script.stat().st_mtime:
        return model
    partial = model.with_suffix(".gguf.partial")
    done = subprocess.run(
        [str(python), str(script), str(partial), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{script} failed ({done.returncode}): {done.stderr.strip()}")
    partial.replace(model)
    return model


@dataclass
class LlamaServer:
    """A ``python -m llama_cpp.server`` child process."""

    process: subprocess.Popen[bytes]
    root: str
    alias: str
    n_ctx: int
    log_path: Path
    log: IO[bytes]

    @property
    def base_url(self) -> str:
        """The OpenAI API root, as laneway's backend config wants it."""
        return self.root + "/v1"

    def log_tail(self, chars: int = 3000) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self, timeout: float = 10.0) -> int:
        code = terminate(self.process, timeout)
        self.log.close()
        return code


def start_llama_server(
    python: Path,
    model: Path,
    log_path: Path,
    *,
    alias: str = "tiny",
    n_ctx: int = 512,
    timeout: float = 60.0,
    extra_args: tuple[str, ...] = (),
) -> LlamaServer:
    """Start the server and wait until ``GET /v1/models`` answers 200.

    The server has no ``/health`` (404) and refuses connections for about a
    second while it loads the model.
    """
    port = free_port()
    log = log_path.open("wb")
    argv = [
        str(python),
        "-m",
        "llama_cpp.server",
        "--model",
        str(model),
        "--model_alias",
        alias,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        str(n_ctx),
        "--n_threads",
        "2",
        *extra_args,
    ]
    process = subprocess.Popen(
        argv,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        cwd=REPO_ROOT,
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,
    )
    server = LlamaServer(process, f"http://127.0.0.1:{port}", alias, n_ctx, log_path, log)
    try:
        _wait_for_models(server, timeout)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_for_models(server: LlamaServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"llama.cpp server exited with {server.process.returncode} while loading:\n"
                + server.log_tail()
            )
        try:
            response = httpx.get(server.base_url + "/models", timeout=2.0)
            if response.status_code == 200:
                return
        except httpx.TransportError:
            pass  # still loading: connections are refused
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{server.base_url}/models did not answer 200 within {timeout} s:\n"
                + server.log_tail()
            )
        time.sleep(0.1)
