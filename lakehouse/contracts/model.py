"""The dataset contract: one YAML file in ``catalog/datasets`` per dataset.

Everything downstream (ingestion, quality gates, dbt sources, access rules) is derived
from these models, so they are strict: unknown keys are errors, not silently ignored.
"""

from __future__ import annotations

import re
from datetime import timedelta
from enum import Enum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

IDENT = r"^[a-z][a-z0-9_]*$"
_DECIMAL = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")
SCALAR_TYPES = ("string", "int", "bigint", "double", "boolean", "date", "timestamp", "json")
ROW_FILTER_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_DURATION = re.compile(r"^(\d+)\s*([smhd])$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceKind(str, Enum):
    file = "file"
    database = "database"
    api = "api"
    open311 = "open311"
    mqtt = "mqtt"
    camera = "camera"
    reference = "reference"


class PiiClass(str, Enum):
    none = "none"
    direct_id = "direct_id"  # citizen id number, phone: joinable, so hashed
    contact = "contact"  # name, address, e-mail: masked
    free_text = "free_text"  # descriptions that may carry names: masked
    sensitive = "sensitive"  # health status and the like: dropped outside the owner


class PiiAction(str, Enum):
    keep = "keep"
    hash = "hash"
    mask = "mask"
    drop = "drop"


DEFAULT_PII_ACTION = {
    PiiClass.none: PiiAction.keep,
    PiiClass.direct_id: PiiAction.hash,
    PiiClass.contact: PiiAction.mask,
    PiiClass.free_text: PiiAction.mask,
    PiiClass.sensitive: PiiAction.drop,
}


class Classification(str, Enum):
    public = "public"
    internal = "internal"
    confidential = "confidential"
    secret = "secret"


class Severity(str, Enum):
    block = "block"  # failing rows go to quarantine
    warn = "warn"  # failing rows pass, the failure is recorded


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"'{text}' is not a duration such as 30m, 26h or 8d")
    value, unit = int(match.group(1)), match.group(2)
    field = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[unit]
    return timedelta(**{field: value})


class ColumnChecks(Strict):
    """Per-column quality rules; the GX suites and the bronze gate are generated from these."""

    min: float | None = None
    max: float | None = None
    allowed_values: list[str | int] | None = None
    pattern: str | None = None
    unique: bool = False
    references: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$",
        description="<dataset>.<column> every value must exist in (a registry, the admin units).",
    )
    severity: Severity = Severity.block
    references_severity: Severity | None = Field(
        default=None,
        description="Severity of the reference check when it differs from the other checks "
        "(a registry that lags should not hold back sensor readings).",
    )

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"pattern does not compile: {exc}") from exc
        return value


class Column(Strict):
    name: Annotated[str, Field(pattern=IDENT)]
    type: str
    nullable: bool = True
    description: str = ""
    unit: str | None = None
    source_name: str | None = Field(
        default=None, description="Header or field name as the department delivers it."
    )
    source_format: str | None = Field(
        default=None, description="strptime format for dates/timestamps, e.g. %d/%m/%Y."
    )
    pii: PiiClass = PiiClass.none
    pii_action: PiiAction | None = None
    checks: ColumnChecks = ColumnChecks()
    derived: bool = Field(
        default=False,
        description="Computed by the connector at ingestion (checksum, lake path), not delivered.",
    )

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value in SCALAR_TYPES or _DECIMAL.match(value):
            return value
        raise ValueError(f"'{value}' is not a type; use one of {', '.join(SCALAR_TYPES)} or decimal(p,s)")

    @property
    def effective_pii_action(self) -> PiiAction:
        return self.pii_action or DEFAULT_PII_ACTION[self.pii]

    @property
    def decimal_precision(self) -> tuple[int, int] | None:
        match = _DECIMAL.match(self.type)
        return (int(match.group(1)), int(match.group(2))) if match else None


class Source(Strict):
    kind: SourceKind
    system: Annotated[str, Field(pattern=IDENT)] = Field(
        description="Source system; ingestion DAGs are grouped one per system."
    )
    location: str = Field(description="Landing folder, table name, URL path or MQTT topic.")
    format: Literal["csv", "xlsx", "json", "jsonl", "ngsi-ld", "open311", "table", "mp4"] | None = None
    schedule: str = "@daily"
    options: dict[str, str | int | float | bool | list[str]] = Field(default_factory=dict)


class Freshness(Strict):
    warn_after: str
    error_after: str

    @field_validator("warn_after", "error_after")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Freshness:
        if parse_duration(self.warn_after) > parse_duration(self.error_after):
            raise ValueError("warn_after must not be later than error_after")
        return self


class Grant(Strict):
    """One department's read access. Row filters and masks become Trino/DuckDB policies."""

    department: Annotated[str, Field(pattern=IDENT)]
    row_filter: str | None = Field(
        default=None,
        description="SQL predicate over the table's columns. Placeholders: {unit_code} is the "
        "reader's own unit; {unit_codes} every unit of its area over time, quoted and "
        "comma-separated (its predecessors, and the wards the 2025 reform made of it).",
    )
    unmasked: list[str] = Field(
        default_factory=list, description="PII columns this reader sees in clear."
    )

    @field_validator("row_filter")
    @classmethod
    def _known_placeholders(cls, value: str | None) -> str | None:
        if value is not None:
            unknown = set(ROW_FILTER_PLACEHOLDER.findall(value)) - {"unit_code", "unit_codes"}
            if unknown:
                raise ValueError(f"row_filter uses unknown placeholders {sorted(unknown)}; "
                                 "use {unit_code} or {unit_codes}")
        return value


class DatasetRule(Strict):
    """A rule over the whole batch rather than one column."""

    name: Annotated[str, Field(pattern=IDENT)]
    kind: Literal["row_count_between", "compound_unique", "expression"]
    severity: Severity = Severity.warn
    min: int | None = None
    max: int | None = None
    columns: list[str] = Field(default_factory=list)
    expression: str | None = None


class Contract(Strict):
    name: Annotated[str, Field(pattern=IDENT)]
    title: str
    description: str
    owner: Annotated[str, Field(pattern=IDENT)]
    domain: Annotated[str, Field(pattern=IDENT)]
    source: Source
    columns: list[Column] = Field(min_length=1)
    primary_key: list[str] = Field(min_length=1)
    event_time: str | None = None
    partition_by: list[str] = Field(default_factory=list)
    freshness: Freshness | None = None
    rules: list[DatasetRule] = Field(default_factory=list)
    classification: Classification
    grants: list[Grant] = Field(default_factory=list)
    standard: str | None = Field(default=None, description="Open standard the source follows.")

    @model_validator(mode="after")
    def _columns_consistent(self) -> Contract:
        names = [c.name for c in self.columns]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"duplicate column names: {duplicated}")
        known = set(names)
        for field_name, referenced in (
            ("primary_key", self.primary_key),
            ("partition_by", self.partition_by),
            ("event_time", [self.event_time] if self.event_time else []),
        ):
            missing = [c for c in referenced if c not in known]
            if missing:
                raise ValueError(f"{field_name} names unknown columns {missing}")
        for column in self.columns:
            if column.name in self.primary_key and column.nullable:
                raise ValueError(f"primary key column '{column.name}' must not be nullable")
        for grant in self.grants:
            unknown = [c for c in grant.unmasked if c not in known]
            if unknown:
                raise ValueError(f"grant to '{grant.department}' unmasks unknown columns {unknown}")
        for rule in self.rules:
            unknown = [c for c in rule.columns if c not in known]
            if unknown:
                raise ValueError(f"rule '{rule.name}' names unknown columns {unknown}")
        return self

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.name} has no column '{name}'")

    @property
    def delivered_columns(self) -> list[Column]:
        """The columns a department's delivery carries (derived ones are added on ingestion)."""
        return [c for c in self.columns if not c.derived]

    @property
    def pii_columns(self) -> list[Column]:
        return [c for c in self.columns if c.pii is not PiiClass.none]


class Department(Strict):
    code: Annotated[str, Field(pattern=IDENT)]
    name_vi: str
    name_en: str
    kind: Literal["department", "agency", "locality", "center"] = "department"
    unit_code: str | None = Field(default=None, description="Admin unit a locality user is bound to.")
