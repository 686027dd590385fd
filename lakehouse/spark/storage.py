"""Files of one Delta table, on a local folder or an object store, and how partition values
are spelled in paths and in the log.

Executors open data files themselves (that is the point of one input partition per file),
so they need a file system built from nothing but the table URI and the lake's
``storage_options``. Locally that is pyarrow's native file system (fast); anywhere else it
is delta-rs' own object store wrapped for pyarrow, so S3/MinIO credentials and endpoints
are configured exactly once, the way :mod:`lakehouse.lake.delta` already does.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote, unquote

import pyarrow as pa
import pyarrow.fs as pa_fs

HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
_SAFE = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"


def is_local(uri: str) -> bool:
    return "://" not in uri or uri.startswith("file://")


def local_path(uri: str) -> str:
    path = uri.removeprefix("file://")
    return unquote(path) if uri.startswith("file://") else path


class TableStore:
    """Reads, writes, lists and deletes files relative to a table root."""

    def __init__(self, uri: str, storage_options: dict[str, str] | None = None) -> None:
        self.uri = uri.rstrip("/")
        self.storage_options = storage_options
        self._local = is_local(uri)
        self._root = local_path(self.uri) if self._local else ""
        self._fs: pa_fs.FileSystem | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_fs"] = None  # rebuilt lazily in each process
        return state

    @property
    def fs(self) -> pa_fs.FileSystem:
        if self._fs is None:
            if self._local:
                self._fs = pa_fs.LocalFileSystem()
            else:
                from deltalake.fs import DeltaStorageHandler

                self._fs = pa_fs.PyFileSystem(
                    DeltaStorageHandler(self.uri, options=self.storage_options)
                )
        return self._fs

    def location(self, relative: str) -> str:
        """``relative`` (a raw, decoded path inside the table, or an absolute one) as this
        store's file system expects it."""
        if "://" in relative:
            if self._local and relative.startswith("file://"):
                return local_path(relative)
            raise NotImplementedError(f"data file outside the table root: {relative}")
        if relative.startswith("/"):
            return relative
        return os.path.join(self._root, relative) if self._local else relative

    def open_input(self, relative: str) -> pa.NativeFile:
        return self.fs.open_input_file(self.location(relative))

    def open_output(self, relative: str) -> pa.NativeFile:
        target = self.location(relative)
        if self._local:
            os.makedirs(os.path.dirname(target), exist_ok=True)
        return self.fs.open_output_stream(target)

    def delete(self, relative: str) -> None:
        """Remove a file; a file already gone is fine (abort may run after a task's cleanup)."""
        try:
            self.fs.delete_file(self.location(relative))
        except FileNotFoundError:
            pass
        except OSError as error:  # object stores report "not found" in several ways
            if "not found" not in str(error).lower() and "no such file" not in str(error).lower():
                raise

    def data_files(self) -> Iterator[str]:
        """Every file under the root outside ``_delta_log`` (relative, decoded paths)."""
        base = self._root if self._local else ""
        selector = pa_fs.FileSelector(base, recursive=True, allow_not_found=True)
        for info in self.fs.get_file_info(selector):
            if info.type != pa_fs.FileType.File:
                continue
            relative = os.path.relpath(info.path, base) if self._local else info.path.lstrip("/")
            if not relative.startswith("_delta_log"):
                yield relative


def log_path_to_relative(path: str) -> str:
    """Add-action paths in the log are URI-encoded; files on disk are not."""
    return unquote(path)


def partition_string(value: Any) -> str | None:
    """A partition value as the Delta log spells it (the protocol's "partition value
    serialization"); ``None`` is a null partition."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bytes | bytearray):
        raise TypeError("binary partition values are not supported")
    return str(value)


def escape_path_part(text: str) -> str:
    """Hive-style escaping for a directory name (``a b/c`` → ``a%20b%2Fc``)."""
    return quote(text, safe=_SAFE)


def partition_dir(columns: list[str], values: tuple[Any, ...]) -> str:
    """``col=value/...`` for a row group of one partition; the log, not this name, is what
    readers trust, so the spelling only has to be unambiguous and readable."""
    parts = []
    for column, value in zip(columns, values, strict=True):
        text = partition_string(value)
        spelled = HIVE_NULL if text is None else escape_path_part(text)
        parts.append(f"{escape_path_part(column)}={spelled}")
    return "/".join(parts)
