"""A small client of laneway's (OpenAI's) Files and Batch API over httpx.

Used by ``laneway batch``; any server speaking OpenAI's Batch API works. Errors are
two exceptions with a one-line message: :class:`ApiUnreachable` (no answer: the API is
down, restarting, or the connection was lost — worth retrying) and :class:`ApiRefused`
(an answer with an error status).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

OPEN_STATUSES = frozenset({"validating", "in_progress", "finalizing", "cancelling"})
ENDED_STATUSES = frozenset({"completed", "failed", "expired", "cancelled"})


class ApiUnreachable(Exception):
    """No answer from the API (connection refused or lost, timeout, 502-504)."""


class ApiRefused(Exception):
    """The API answered with an error status."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.code = code


def _refusal(response: httpx.Response) -> ApiRefused:
    try:
        error = response.json()["error"]
        return ApiRefused(response.status_code, str(error["message"]), error.get("code"))
    except (ValueError, KeyError, TypeError):
        return ApiRefused(response.status_code, response.text[:200] or response.reason_phrase)


class BatchApi:
    """The Files and Batch endpoints of one API root (``http://host:port``)."""

    def __init__(self, api_url: str, api_key: str | None, timeout: float = 30) -> None:
        self.api_url = api_url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=self.api_url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> BatchApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ApiUnreachable(f"cannot reach the API at {self.api_url} ({exc})") from None
        if response.status_code in (502, 503, 504):
            raise ApiUnreachable(f"the API at {self.api_url} answered {_refusal(response)}")
        if response.status_code >= 400:
            raise _refusal(response)
        return response.json()

    def upload(self, path: Path, filename: str) -> dict[str, Any]:
        """Upload ``path`` as a ``purpose=batch`` file named ``filename`` (httpx streams
        the file in chunks)."""
        with path.open("rb") as stream:
            files = {"file": (filename, stream, "application/jsonl")}
            result: dict[str, Any] = self._call(
                "POST", "/v1/files", files=files, data={"purpose": "batch"}, timeout=600
            )
            return result

    def files(self) -> Iterator[dict[str, Any]]:
        """Every file of the tenant, newest first."""
        yield from self._pages("/v1/files")

    def create(
        self, input_file_id: str, endpoint: str, window: str, metadata: dict[str, str]
    ) -> dict[str, Any]:
        body = {
            "input_file_id": input_file_id,
            "endpoint": endpoint,
            "completion_window": window,
            "metadata": metadata,
        }
        result: dict[str, Any] = self._call("POST", "/v1/batches", json=body)
        return result

    def batch(self, batch_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", f"/v1/batches/{batch_id}")
        return result

    def batches(self) -> Iterator[dict[str, Any]]:
        """Every batch of the tenant, newest first."""
        yield from self._pages("/v1/batches")

    def cancel(self, batch_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", f"/v1/batches/{batch_id}/cancel")
        return result

    @contextmanager
    def content(self, file_id: str) -> Iterator[Iterator[str]]:
        """The lines of a file, streamed."""
        try:
            with self._http.stream("GET", f"/v1/files/{file_id}/content", timeout=600) as r:
                if r.status_code >= 400:
                    r.read()
                    raise _refusal(r)
                yield r.iter_lines()
        except httpx.TransportError as exc:
            raise ApiUnreachable(f"cannot reach the API at {self.api_url} ({exc})") from None

    def _pages(self, path: str) -> Iterator[dict[str, Any]]:
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 100}
            if after:
                params["after"] = after
            page = self._call("GET", path, params=params)
            yield from page["data"]
            if not page.get("has_more") or not page["data"]:
                return
            after = page["data"][-1]["id"]
