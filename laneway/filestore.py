"""Where the Files API keeps file contents: a folder behind fsspec.

A local directory by default; any fsspec URL (``s3://bucket/laneway``,
``gs://...``) works as soon as its driver package is installed. Objects are
written once under a name and never changed in place: a driver that crashes
mid-write leaves an object nobody refers to, not a half-written one that is.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import IO, Any, cast

from fsspec.core import url_to_fs

CHUNK_BYTES = 1024 * 1024


class FileStorage:
    def __init__(self, url: str) -> None:
        self.url = url
        self.fs, self.root = url_to_fs(url)
        self._made: set[str] = set()

    def path(self, name: str) -> str:
        return f"{self.root.rstrip('/')}/{name}"

    def _parent(self, name: str) -> None:
        parent = self.path(name).rsplit("/", 1)[0]
        if parent not in self._made:
            self.fs.makedirs(parent, exist_ok=True)
            self._made.add(parent)

    @contextmanager
    def writer(self, name: str) -> Iterator[IO[bytes]]:
        """A binary file to write ``name`` through; on an error, nothing is left behind."""
        self._parent(name)
        handle = cast(IO[bytes], self.fs.open(self.path(name), "wb"))
        try:
            yield handle
        except BaseException:
            handle.close()
            self.delete(name)
            raise
        handle.close()

    def reader(self, name: str) -> IO[bytes]:
        return cast(IO[bytes], self.fs.open(self.path(name), "rb"))

    def read_chunks(self, name: str, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
        with self.reader(name) as handle:
            while chunk := handle.read(chunk_bytes):
                yield chunk

    def size(self, name: str) -> int:
        info: dict[str, Any] = self.fs.info(self.path(name))
        return int(info["size"])

    def exists(self, name: str) -> bool:
        return bool(self.fs.exists(self.path(name)))

    def delete(self, name: str) -> None:
        with suppress(FileNotFoundError):
            self.fs.rm(self.path(name))

    def delete_tree(self, folder: str) -> None:
        with suppress(FileNotFoundError):
            self.fs.rm(self.path(folder), recursive=True)
