"""Errors of the Spark ↔ Delta bridge.

They are raised inside Spark's Python workers, so the driver sees them wrapped in a Py4J /
``PythonException`` whose text carries the message. Every message starts with a stable
tag (``[IOC_DELTA_CONFLICT]`` …) so :mod:`lakehouse.spark.delta_io` can re-raise the right
class on the driver: callers catch :class:`DeltaConflictError`, not a Java exception.
"""

from __future__ import annotations


class DeltaBridgeError(RuntimeError):
    """Base class; ``tag`` appears at the start of the message."""

    tag = "[IOC_DELTA]"

    def __init__(self, message: str) -> None:
        super().__init__(message if message.startswith(self.tag) else f"{self.tag} {message}")


class DeltaConflictError(DeltaBridgeError):
    """Another writer committed something this write depended on: nothing was committed,
    the files this write produced were removed. Re-run the write against the new version."""

    tag = "[IOC_DELTA_CONFLICT]"


class DeltaSchemaError(DeltaBridgeError):
    """The DataFrame does not fit the table (new column without ``merge_schema``, type
    change, partitioning change, NOT NULL column missing)."""

    tag = "[IOC_DELTA_SCHEMA]"


class DeltaDataError(DeltaBridgeError):
    """A written row broke a rule: outside the ``predicate`` of ``overwrite_partition``, a
    CHECK constraint, or NULL in a NOT NULL column. The job fails; nothing is committed."""

    tag = "[IOC_DELTA_DATA]"


class DeltaUnsupportedError(DeltaBridgeError):
    """A table feature the bridge cannot honour (e.g. writing a column-mapped table)."""

    tag = "[IOC_DELTA_UNSUPPORTED]"


ERRORS: tuple[type[DeltaBridgeError], ...] = (
    DeltaConflictError, DeltaSchemaError, DeltaDataError, DeltaUnsupportedError, DeltaBridgeError,
)


def from_message(text: str) -> DeltaBridgeError | None:
    """The bridge error whose tag occurs in ``text`` (a Spark exception's message), if any."""
    for cls in ERRORS:
        start = text.find(cls.tag)
        if start >= 0:
            message = text[start:].split("\n", 1)[0].strip()
            return cls(message)
    return None
