"""Open data: every dataset the province classifies as public, exported on schedule as
Parquet and CSV (UTF-8) with a DCAT-AP catalogue, so a portal or anyone can harvest it.

Which tables are public is the access policy's answer (:mod:`lakehouse.access`), never a list
kept here; the ``open_data`` DAG keeps the export current and the public API serves it at
``/opendata/``. ``ioc opendata export`` runs it by hand.
"""

from lakehouse.opendata.datasets import ColumnDoc, OpenDataset, public_datasets
from lakehouse.opendata.dcat import accrual_periodicity, frequency_code
from lakehouse.opendata.export import CATALOG, ExportResult, export_open_data

__all__ = ["CATALOG", "ColumnDoc", "ExportResult", "OpenDataset", "accrual_periodicity", "export_open_data",
           "frequency_code", "public_datasets"]
