"""Personal data protection applied on the way into silver, as each column's contract says.

* hash: joinable identifiers (citizen id, phone) become salted SHA-256, so departments can
  still join and count distinct people without ever seeing the number;
* mask: names, addresses and free text keep only a hint (first letter) or nothing;
* drop: the column does not exist outside bronze (e.g. clinical notes).
The salt is generated at set-up (``make setup``) and never committed.
"""

from __future__ import annotations

import hashlib

import polars as pl

from lakehouse.contracts import Column, Contract, PiiAction, PiiClass

MASK = "***"


def _hasher(salt: str):
    def digest(value: str) -> str:
        return hashlib.sha256((salt + value).encode("utf-8")).hexdigest()

    return digest


def normalise_phone(expr: pl.Expr) -> pl.Expr:
    """+84 912 345 678, 0912.345.678 and 0912345678 are one person: hash one spelling."""
    digits = expr.str.replace_all(r"[^0-9+]", "")
    return pl.when(digits.str.starts_with("+84")).then(pl.lit("0") + digits.str.slice(3)).otherwise(digits)


def mask(col: pl.Expr, column: Column) -> pl.Expr:
    """The masked form of ``col``: free text becomes ``***``, other classes keep their first
    letter. Idempotent (a masked value masks to itself), so a reader serving an already
    protected table can apply it again as a guarantee (the public API does)."""
    if column.pii is PiiClass.free_text:
        return pl.when(col.is_null()).then(None).otherwise(pl.lit(MASK))
    return pl.when(col.is_null()).then(None).otherwise(col.str.slice(0, 1) + MASK)


def protect(frame: pl.DataFrame, contract: Contract, *, salt: str) -> pl.DataFrame:
    if contract.pii_columns and not salt:
        raise RuntimeError("IOC_PII_SALT is not set: run `make setup` to generate the platform secrets")
    digest = _hasher(salt)
    exprs, drops = [], []
    for column in contract.pii_columns:
        action, col = column.effective_pii_action, pl.col(column.name).cast(pl.String)
        if action is PiiAction.hash:
            value = normalise_phone(col) if "phone" in column.name else col.str.strip_chars()
            exprs.append(value.map_elements(digest, return_dtype=pl.String).alias(column.name))
        elif action is PiiAction.mask:
            exprs.append(mask(col, column).alias(column.name))
        elif action is PiiAction.drop:
            drops.append(column.name)
    return frame.with_columns(exprs).drop(drops)


def silver_columns(contract: Contract) -> list[str]:
    return [c.name for c in contract.columns if c.effective_pii_action is not PiiAction.drop]
