"""The run file: where a running ``laneway up`` can be found by every other command.

``laneway up`` writes ``run.json`` in its data directory (Redis, API and Flower URLs and
the effective config) and removes it when it stops. Other commands read it when they are
not told otherwise, so ``laneway dead list`` or ``laneway submit`` talk to the system
that ``up`` started, embedded Redis included.
"""

from __future__ import annotations

import json
import os
from contextlib import suppress
from dataclasses import asdict, dataclass
from pathlib import Path

from laneway.settings import Settings, load_settings

RUN_FILE = "run.json"


@dataclass(frozen=True)
class RunInfo:
    pid: int
    redis_url: str
    api_url: str
    flower_url: str | None
    config: str
    """The effective config file every process of this run reads."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write(data_dir: Path, info: RunInfo) -> Path:
    path = data_dir / RUN_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(info), indent=2) + "\n")
    tmp.replace(path)
    return path


def read(data_dir: Path) -> RunInfo | None:
    """The run in ``data_dir``, or None when there is none or its ``up`` has died."""
    try:
        info = RunInfo(**json.loads((data_dir / RUN_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return None
    return info if _alive(info.pid) and Path(info.config).is_file() else None


def remove(data_dir: Path, pid: int) -> None:
    """Remove the run file if it is ``pid``'s (a newer run may have replaced it)."""
    path = data_dir / RUN_FILE
    with suppress(OSError, ValueError, TypeError):
        if json.loads(path.read_text()).get("pid") == pid:
            path.unlink()


def current(config: str | Path | None = None) -> RunInfo | None:
    """The running ``laneway up`` of the configured data directory, unless a config is
    named (``--config`` or ``$LANEWAY_CONFIG``). :class:`ConfigError` on a bad config."""
    if config is not None or os.environ.get("LANEWAY_CONFIG"):
        return None
    return read(load_settings(None).data_dir.resolve())


def command_settings(config: str | Path | None = None) -> Settings:
    """What a command other than ``up`` runs with: ``--config``, else ``$LANEWAY_CONFIG``,
    else the running ``laneway up``'s effective config, else ``./laneway.yaml`` and the
    defaults. :class:`ConfigError` on a bad config."""
    run = current(config)
    return load_settings(run.config if run else config)


def api_url(config: str | Path | None = None) -> str:
    """The API of the running ``laneway up``, else the config's ``api.port`` on this
    machine. :class:`ConfigError` on a bad config."""
    run = current(config)
    if run:
        return run.api_url
    settings = load_settings(config)
    host = "127.0.0.1" if settings.api.host in ("0.0.0.0", "::", "") else settings.api.host
    return f"http://{host}:{settings.api.port}"
