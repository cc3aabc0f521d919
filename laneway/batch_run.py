"""``laneway batch run``: a JSONL file through the Batch API, resumable, output in input order.

Beside the output, two files carry a run across interruptions (Ctrl-C, a lost
connection, a restarted API or a crash of this process):

- ``OUTPUT.batch.json``, the state: the input's digest and, per *part* (a batch of this
  run), the name of its uploaded file, then the file id, then the batch id, each saved
  before the next step. A crash between two steps is recovered from the server: an
  upload whose id was not saved is found by its file name (unique to the run and part),
  a batch whose id was not saved by its input file id.
- ``OUTPUT.partial.jsonl``: the result lines of finished lines, appended when a part's
  batch ends (its output and error files), in any order.

Running again re-attaches to the part's batch while it is open; once it has ended its
finished lines are kept and, if some lines never ran (the batch was cancelled or
expired), a new part of only those lines is submitted. No finished line is sent again.
When every line has a result the output is written in input order (to a temporary file,
then renamed) and the state removed.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from laneway.batch_client import ENDED_STATUSES, ApiRefused, ApiUnreachable, BatchApi

UNRUN_CODES = frozenset({"batch_cancelled", "batch_expired", "cancelled", "deadline_exceeded"})
"""Error codes, in a cancelled or expired batch, of lines without a result: never
submitted, or their job cancelled (or timed out) in the queue by the batch's end. They are
submitted again in a new part."""
ENDPOINTS = ("/v1/chat/completions", "/v1/completions")


class RunError(Exception):
    """An expected end of a run, with a one-line message and an exit code."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class Reporter(Protocol):
    def start(self, total: int, done: int, failed: int) -> None: ...

    def update(self, done: int, failed: int, status: str) -> None: ...

    def note(self, text: str) -> None: ...


@dataclass(frozen=True)
class InputScan:
    custom_ids: list[str]
    """In input order."""
    endpoint: str
    digest: str


def scan_input(path: Path) -> InputScan:
    """Each non-blank line's ``custom_id`` in order, the endpoint, the file's digest.
    :class:`RunError` (exit code 2) for what the API would refuse anyway."""
    custom_ids: list[str] = []
    seen: set[str] = set()
    endpoint = ""
    digest = hashlib.sha256()
    try:
        stream = path.open("rb")
    except OSError as exc:
        raise RunError(f"cannot read {path}: {exc.strerror}", 2) from None
    with stream:
        for number, raw in enumerate(stream, 1):
            digest.update(raw)
            if not raw.strip():
                continue
            try:
                item = json.loads(raw)
            except ValueError as exc:
                raise RunError(f"{path}:{number}: not JSON ({exc})", 2) from None
            custom_id = item.get("custom_id") if isinstance(item, dict) else None
            if not isinstance(custom_id, str) or not custom_id:
                raise RunError(f"{path}:{number}: custom_id must be a non-empty string", 2)
            if custom_id in seen:
                raise RunError(f"{path}:{number}: custom_id {custom_id!r} is used twice", 2)
            url = item.get("url")
            if url not in ENDPOINTS or (endpoint and url != endpoint):
                expected = endpoint or " or ".join(ENDPOINTS)
                raise RunError(f"{path}:{number}: url must be {expected}, not {url!r}", 2)
            endpoint = url
            seen.add(custom_id)
            custom_ids.append(custom_id)
    if not custom_ids:
        raise RunError(f"{path} has no requests", 2)
    return InputScan(custom_ids, endpoint, digest.hexdigest())


@dataclass
class Part:
    number: int
    filename: str
    bytes: int
    lines: int
    file_id: str | None = None
    batch_id: str | None = None
    collected: bool = False


@dataclass
class RunState:
    input: str
    digest: str
    endpoint: str
    window: str
    run: str
    parts: list[Part] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> RunState | None:
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise RunError(f"cannot read the run state {path}: {exc}", 2) from None
        parts = [Part(**part) for part in data.pop("parts")]
        return cls(**data, parts=parts)

    def save(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("w") as stream:
            json.dump(asdict(self), stream, indent=2)
            stream.flush()
            os.fsync(stream.fileno())
        tmp.replace(path)


@dataclass(frozen=True)
class RunResult:
    total: int
    succeeded: int
    failed: int
    batch_ids: list[str]


@dataclass
class Finished:
    """The results kept so far: each custom_id's offset in the partial file."""

    offsets: dict[str, int]
    failed: int


def state_path(output: Path) -> Path:
    return output.with_name(output.name + ".batch.json")


def partial_path(output: Path) -> Path:
    return output.with_name(output.name + ".partial.jsonl")


@contextmanager
def _locked(output: Path) -> Iterator[None]:
    lock = output.with_name(output.name + ".lock")
    with lock.open("w") as stream:
        try:
            fcntl.flock(stream, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunError(f"another `laneway batch run` is writing {output}", 1) from None
        try:
            yield
        finally:
            fcntl.flock(stream, fcntl.LOCK_UN)
            lock.unlink(missing_ok=True)


def read_finished(path: Path) -> Finished:
    """The partial file's results by custom_id (the first of duplicates, which a crash
    while appending leaves behind; a torn last line is ignored)."""
    offsets: dict[str, int] = {}
    failed = 0
    with suppress(FileNotFoundError), path.open("rb") as stream:
        offset = 0
        for raw in stream:
            try:
                item = json.loads(raw)
                custom_id = item["custom_id"]
            except (ValueError, KeyError, TypeError):
                offset += len(raw)
                continue
            if custom_id not in offsets:
                offsets[custom_id] = offset
                failed += item.get("error") is not None
            offset += len(raw)
    return Finished(offsets, failed)


class BatchRun:
    """One ``laneway batch run``: see the module's docstring."""

    def __init__(
        self,
        api: BatchApi,
        input_path: Path,
        output: Path,
        reporter: Reporter,
        *,
        window: str = "24h",
        poll_seconds: float = 0.5,
        reconnect_seconds: float = 60,
        force: bool = False,
    ) -> None:
        self.api = api
        self.input = input_path
        self.output = output
        self.reporter = reporter
        self.window = window
        self.poll_seconds = poll_seconds
        self.reconnect_seconds = reconnect_seconds
        self.force = force
        self.state_file = state_path(output)
        self.partial = partial_path(output)

    def run(self) -> RunResult:
        with _locked(self.output):
            return self._run()

    def _run(self) -> RunResult:
        scan = scan_input(self.input)
        state = self._state(scan)
        while True:
            finished = read_finished(self.partial)
            part = state.parts[-1] if state.parts and not state.parts[-1].collected else None
            if part is None:
                remaining = [c for c in scan.custom_ids if c not in finished.offsets]
                if not remaining:
                    return self._finish(scan, state, finished)
                part = self._new_part(state, len(remaining))
            self.reporter.start(len(scan.custom_ids), len(finished.offsets), finished.failed)
            batch, watched = self._attach(state, part, scan, finished)
            if batch["status"] == "failed":
                self._validation_failed(state, part, batch)
            self._collect(batch)
            part.collected = True
            state.save(self.state_file)
            if watched and batch["status"] in ("cancelled", "expired"):
                left = len(scan.custom_ids) - len(read_finished(self.partial).offsets)
                raise RunError(
                    f"batch {batch['id']} ended {batch['status']}: its finished lines are "
                    f"kept in {self.partial.name}; run the same command again to submit the "
                    f"{left} lines that did not run",
                    1,
                )

    def _state(self, scan: InputScan) -> RunState:
        state = RunState.load(self.state_file)
        if state is not None:
            if state.digest != scan.digest:
                raise RunError(
                    f"{self.state_file} is the state of a run of another input ({state.input} "
                    f"changed since?); restore that input, or delete {self.state_file.name} "
                    f"and {self.partial.name} to start over",
                    2,
                )
            self.reporter.note(f"resuming the run recorded in {self.state_file.name}")
            return state
        if self.output.exists() and not self.force:
            raise RunError(
                f"{self.output} exists (a finished run?); pass --force to run the batch again "
                "and replace it",
                2,
            )
        self.partial.unlink(missing_ok=True)
        state = RunState(
            str(self.input.resolve()), scan.digest, scan.endpoint, self.window, secrets.token_hex(6)
        )
        state.save(self.state_file)
        return state

    def _new_part(self, state: RunState, lines: int) -> Part:
        number = len(state.parts) + 1
        size = self.input.stat().st_size if number == 1 else 0
        part = Part(number, f"laneway-run-{state.run}-part{number}.jsonl", size, lines)
        state.parts.append(part)
        state.save(self.state_file)
        return part

    def _part_input(self, part: Part, finished: Finished) -> Path:
        """The lines of ``part``: the input itself for the first part, else a file beside
        the output of the lines without a result, in input order."""
        if part.number == 1:
            return self.input
        path = self.output.with_name(f"{self.output.name}.part{part.number}.jsonl")
        with self.input.open("rb") as source, path.open("wb") as target:
            for raw in source:
                if raw.strip() and json.loads(raw)["custom_id"] not in finished.offsets:
                    target.write(raw if raw.endswith(b"\n") else raw + b"\n")
        return path

    def _attach(
        self, state: RunState, part: Part, scan: InputScan, finished: Finished
    ) -> tuple[dict[str, Any], bool]:
        """The part's batch once it has ended, uploading and creating it as needed; and
        whether it was seen open (watched) by this process."""
        if part.file_id is None:
            part.file_id = self._find_upload(part) or self._upload(part, finished)
            state.save(self.state_file)
        if part.batch_id is None:
            found = self._retry(lambda: self._find_batch(part.file_id or ""))
            if found is None:
                metadata = {"laneway_run": state.run, "laneway_part": str(part.number)}
                found = self._retry(
                    lambda: self.api.create(
                        part.file_id or "", state.endpoint, state.window, metadata
                    )
                )
            part.batch_id = str(found["id"])
            state.save(self.state_file)
            self.reporter.note(f"batch {part.batch_id} ({part.lines} lines)")
        else:
            self.reporter.note(f"re-attached to batch {part.batch_id}")
        return self._watch(part.batch_id, scan, finished)

    def _find_upload(self, part: Part) -> str | None:
        for item in self._retry(lambda: list(self.api.files())):
            if item.get("filename") != part.filename or item.get("purpose") != "batch":
                continue
            if not part.bytes or item.get("bytes") == part.bytes:
                return str(item["id"])
        return None

    def _upload(self, part: Part, finished: Finished) -> str:
        path = self._part_input(part, finished)
        self.reporter.note(f"uploading {path.name} ({path.stat().st_size:,} bytes)")
        try:
            uploaded = self._retry(lambda: self.api.upload(path, part.filename))
        finally:
            if path != self.input:
                path.unlink(missing_ok=True)
        return str(uploaded["id"])

    def _find_batch(self, file_id: str) -> dict[str, Any] | None:
        for batch in self.api.batches():
            if batch.get("input_file_id") == file_id:
                return batch
        return None

    def _watch(
        self, batch_id: str, scan: InputScan, finished: Finished
    ) -> tuple[dict[str, Any], bool]:
        watched = False
        done_before, failed_before = len(finished.offsets), finished.failed
        while True:
            try:
                batch = self._retry(lambda: self.api.batch(batch_id))
            except ApiRefused as exc:
                if exc.status == 404:
                    raise RunError(
                        f"batch {batch_id} of {self.state_file.name} is unknown to the API at "
                        f"{self.api.api_url} (another API, or another key's tenant?)",
                        1,
                    ) from None
                raise
            counts = batch["request_counts"]
            done = done_before + counts["completed"] + counts["failed"]
            self.reporter.update(done, failed_before + counts["failed"], batch["status"])
            if batch["status"] in ENDED_STATUSES:
                return batch, watched
            watched = True
            time.sleep(self.poll_seconds)

    def _retry(self, call: Any) -> Any:
        """``call()``, retried while the API is unreachable, up to ``reconnect_seconds``."""
        deadline = time.monotonic() + self.reconnect_seconds
        warned = False
        while True:
            try:
                return call()
            except ApiUnreachable as exc:
                if time.monotonic() > deadline:
                    raise RunError(
                        f"{exc}; gave up after {self.reconnect_seconds:.0f} s. The batch goes "
                        "on on the server: run the same command again to resume",
                        1,
                    ) from None
                if not warned:
                    self.reporter.note(f"{exc}; retrying…")
                    warned = True
                time.sleep(1)

    def _validation_failed(self, state: RunState, part: Part, batch: dict[str, Any]) -> None:
        errors = (batch.get("errors") or {}).get("data") or []
        where = "" if part.number == 1 else f" of part {part.number} (the lines left)"
        lines = [
            f"  line {e.get('line')}{where}: {e.get('message')} [{e.get('code')}]" for e in errors
        ]
        part.collected = True
        if not any(p.collected and p is not part for p in state.parts):
            self.state_file.unlink(missing_ok=True)  # nothing ran: a fixed input starts anew
        else:
            state.save(self.state_file)
        raise RunError("\n".join([f"batch {batch['id']} failed validation:", *lines]), 2)

    def _collect(self, batch: dict[str, Any]) -> None:
        """Append the ended batch's finished lines to the partial file. A download cut
        short is retried from its start: the lines appended twice count once."""
        unrun = UNRUN_CODES if batch["status"] in ("cancelled", "expired") else frozenset()
        with self.partial.open("ab") as target:
            for file_id in (batch.get("output_file_id"), batch.get("error_file_id")):
                if not file_id:
                    continue

                def download(file_id: str = file_id) -> None:
                    with self.api.content(file_id) as lines:
                        for line in lines:
                            try:
                                error = json.loads(line).get("error") or {}
                            except ValueError:
                                continue  # blank, or torn by a lost connection
                            if error.get("code") not in unrun:
                                target.write(line.encode() + b"\n")

                self._retry(download)
            target.flush()
            os.fsync(target.fileno())

    def _finish(self, scan: InputScan, state: RunState, finished: Finished) -> RunResult:
        tmp = self.output.with_name(self.output.name + ".tmp")
        with self.partial.open("rb") as source, tmp.open("wb") as target:
            for custom_id in scan.custom_ids:
                source.seek(finished.offsets[custom_id])
                target.write(source.readline())
            target.flush()
            os.fsync(target.fileno())
        tmp.replace(self.output)
        # The state goes first: without it, a left-over partial file is never trusted.
        self.state_file.unlink(missing_ok=True)
        self.partial.unlink(missing_ok=True)
        total = len(scan.custom_ids)
        batch_ids = [p.batch_id for p in state.parts if p.batch_id]
        return RunResult(total, total - finished.failed, finished.failed, batch_ids)
