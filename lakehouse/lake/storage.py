"""The lake's storage, said once: ``IOC_LAKE_ROOT`` plus ``IOC_STORAGE_OPTIONS``, translated
for every engine that touches the lake.

delta-rs takes the options as they are (object_store keys such as ``AWS_ENDPOINT_URL``);
this module derives what the other engines need from the *same* options, so a production
lake on S3/MinIO is configured in one place and no caller branches on where the lake is:

* :func:`lake_filesystem`: a pyarrow file system rooted at the lake (a folder, or delta-rs'
  own object store wrapped for pyarrow), used to list tables and to copy objects;
* :func:`duckdb_secret_sql`: DuckDB's ``CREATE SECRET`` for httpfs (``delta_scan`` on s3://);
* :func:`duckdb_secret_env`: the same values as environment variables for the dbt profile;
* :func:`hadoop_s3a_conf`: ``spark.hadoop.fs.s3a.*`` for Spark's own Delta jar (production);
* :func:`put_object` / :func:`local_copy`: the lake's object area (camera clips, thumbnails).

Concurrent writers on S3: delta-rs 1.x commits with S3 conditional writes
(``PUT … If-None-Match: *``), which AWS S3 (since 2024), MinIO and moto's server honour, so
two writers can never both create the same ``_delta_log`` version. The platform therefore
never sets ``AWS_S3_ALLOW_UNSAFE_RENAME`` and needs no DynamoDB lock table.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from lakehouse.settings import Settings, get_settings

# object_store accepts several spellings of each key; the first is the canonical one.
_ALIASES = {
    "AWS_ACCESS_KEY_ID": ("AWS_ACCESS_KEY_ID", "ACCESS_KEY_ID"),
    "AWS_SECRET_ACCESS_KEY": ("AWS_SECRET_ACCESS_KEY", "SECRET_ACCESS_KEY"),
    "AWS_SESSION_TOKEN": ("AWS_SESSION_TOKEN", "SESSION_TOKEN", "AWS_TOKEN", "TOKEN"),
    "AWS_REGION": ("AWS_REGION", "REGION", "AWS_DEFAULT_REGION"),
    "AWS_ENDPOINT_URL": ("AWS_ENDPOINT_URL", "AWS_ENDPOINT", "ENDPOINT_URL", "ENDPOINT"),
    "AWS_ALLOW_HTTP": ("AWS_ALLOW_HTTP", "ALLOW_HTTP"),
    "AWS_VIRTUAL_HOSTED_STYLE_REQUEST": ("AWS_VIRTUAL_HOSTED_STYLE_REQUEST", "VIRTUAL_HOSTED_STYLE_REQUEST"),
}
DEFAULT_REGION = "us-east-1"
SECRET_NAME = "ioc_lake"
_CHUNK = 4 * 1024 * 1024

if TYPE_CHECKING:  # pyarrow is imported where a file system is built: the dbt runner, read
    import pyarrow.fs as pa_fs  # at DAG parse time, only needs the option translations


def is_object_store(uri: str) -> bool:
    """``s3://…`` (or another scheme); a plain path or ``file://`` is a local folder."""
    return "://" in uri and not uri.startswith("file://")


def local_root(uri: str) -> str:
    return uri.removeprefix("file://")


def s3_options(options: Mapping[str, str] | None) -> dict[str, str]:
    """The S3 keys of ``options`` under their canonical names (case-insensitive aliases)."""
    upper = {str(k).upper(): str(v) for k, v in (options or {}).items()}
    found: dict[str, str] = {}
    for canonical, spellings in _ALIASES.items():
        for spelling in spellings:
            if spelling in upper:
                found[canonical] = upper[spelling]
                break
    return found


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def s3_endpoint(options: Mapping[str, str] | None) -> tuple[str, bool, str]:
    """(``host[:port]`` for DuckDB/Hadoop, use TLS, URL style) from ``AWS_ENDPOINT_URL``.

    No endpoint means AWS itself (virtual-hosted URLs, TLS). A custom endpoint (MinIO, moto)
    is addressed path-style unless ``AWS_VIRTUAL_HOSTED_STYLE_REQUEST`` says otherwise."""
    opts = s3_options(options)
    url = opts.get("AWS_ENDPOINT_URL", "")
    if not url:
        region = opts.get("AWS_REGION", DEFAULT_REGION)
        return f"s3.{region}.amazonaws.com", True, "vhost"
    parts = urlsplit(url if "://" in url else f"https://{url}")
    vhost = _truthy(opts.get("AWS_VIRTUAL_HOSTED_STYLE_REQUEST"))
    return parts.netloc, parts.scheme != "http", "vhost" if vhost else "path"


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def duckdb_secret_params(options: Mapping[str, str] | None) -> dict[str, str]:
    """DuckDB S3 secret parameters (``KEY_ID``, ``SECRET``, ``REGION``, ``ENDPOINT``, …)."""
    opts = s3_options(options)
    endpoint, tls, style = s3_endpoint(options)
    params = {
        "KEY_ID": opts.get("AWS_ACCESS_KEY_ID", ""),
        "SECRET": opts.get("AWS_SECRET_ACCESS_KEY", ""),
        "SESSION_TOKEN": opts.get("AWS_SESSION_TOKEN", ""),
        "REGION": opts.get("AWS_REGION", DEFAULT_REGION),
        "ENDPOINT": endpoint,
        "URL_STYLE": style,
        "USE_SSL": "true" if tls else "false",
    }
    return params


def duckdb_secret_sql(options: Mapping[str, str] | None) -> str:
    """``CREATE OR REPLACE TEMPORARY SECRET`` giving DuckDB's httpfs and delta extensions the
    lake's S3 credentials and endpoint (in memory only: never written to disk)."""
    params = duckdb_secret_params(options)
    body = ", ".join(f"{key} {_quote(value)}" for key, value in params.items())
    return f"CREATE OR REPLACE TEMPORARY SECRET {SECRET_NAME} (TYPE s3, {body})"


def duckdb_secret_env(settings: Settings) -> dict[str, str]:
    """The secret's values as ``IOC_DUCKDB_S3_*`` variables, read by ``dbt_project/profiles.yml``
    (dbt-duckdb ``secrets:``). Empty for a local lake: the profile's defaults then apply and
    the secret is never used."""
    if not is_object_store(settings.lake_root):
        return {}
    return {f"IOC_DUCKDB_S3_{key}": value for key, value in duckdb_secret_params(settings.storage_options).items()}


def hadoop_s3a_conf(options: Mapping[str, str] | None) -> dict[str, str]:
    """``spark.hadoop.fs.s3a.*`` for Spark with the Delta jar and hadoop-aws (production image).

    ``s3://`` URIs (what the lake root says) are mapped to the S3A file system, so Spark reads
    the very URIs delta-rs writes. Unused by the delta-rs bridge, harmless without hadoop-aws."""
    opts = s3_options(options)
    _, tls, style = s3_endpoint(options)
    conf = {
        "spark.hadoop.fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "spark.hadoop.fs.s3a.path.style.access": "true" if style == "path" else "false",
        "spark.hadoop.fs.s3a.connection.ssl.enabled": "true" if tls else "false",
        "spark.hadoop.fs.s3a.endpoint.region": opts.get("AWS_REGION", DEFAULT_REGION),
    }
    if "AWS_ENDPOINT_URL" in opts:
        conf["spark.hadoop.fs.s3a.endpoint"] = opts["AWS_ENDPOINT_URL"]
    if "AWS_ACCESS_KEY_ID" in opts:
        conf["spark.hadoop.fs.s3a.access.key"] = opts["AWS_ACCESS_KEY_ID"]
        conf["spark.hadoop.fs.s3a.secret.key"] = opts.get("AWS_SECRET_ACCESS_KEY", "")
    if opts.get("AWS_SESSION_TOKEN"):
        conf["spark.hadoop.fs.s3a.session.token"] = opts["AWS_SESSION_TOKEN"]
        conf["spark.hadoop.fs.s3a.aws.credentials.provider"] = (
            "org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider")
    return conf


def filesystem(uri: str, options: Mapping[str, str] | None = None) -> pa_fs.FileSystem:
    """A pyarrow file system whose paths are relative to ``uri``: the local file system under
    a folder, delta-rs' object store (same options as the Delta writes) under ``s3://…``."""
    import pyarrow.fs as pa_fs

    if not is_object_store(uri):
        return pa_fs.SubTreeFileSystem(local_root(uri), pa_fs.LocalFileSystem())
    from deltalake.fs import DeltaStorageHandler

    return pa_fs.PyFileSystem(DeltaStorageHandler(uri.rstrip("/"), options=dict(options or {}) or None))


def lake_filesystem(settings: Settings | None = None) -> pa_fs.FileSystem:
    """:func:`filesystem` at the lake root."""
    settings = settings or get_settings()
    return filesystem(settings.lake_root, settings.storage_options)


def lake_location(settings: Settings | None = None) -> str:
    """The lake root as paths and URIs in tables show it: a plain folder path locally (what
    OpenCV and ``Path`` open), ``s3://bucket/prefix`` on an object store."""
    settings = settings or get_settings()
    root = settings.lake_root.rstrip("/")
    return local_root(root) if not is_object_store(root) else root


def put_object(root: str, relative: str, data: bytes, options: Mapping[str, str] | None = None) -> str:
    """Write ``data`` at ``root/relative`` (a folder or an object-store prefix), replacing any
    object there; returns its location. Used for the lake's object area (clips, thumbnails)."""
    fs = filesystem(root, options)
    parent = relative.rpartition("/")[0]
    if parent and not is_object_store(root):
        fs.create_dir(parent, recursive=True)
    import pyarrow as pa

    # Through a buffer, in pieces smaller than it: delta-rs' stream takes ``bytes`` only, and
    # pyarrow hands a direct write over as a Buffer object but a buffer flush as bytes.
    with pa.BufferedOutputStream(fs.open_output_stream(relative), buffer_size=_CHUNK * 2) as out:
        for start in range(0, len(data), _CHUNK):
            out.write(data[start:start + _CHUNK])
    return f"{root.rstrip('/')}/{relative}"


@contextmanager
def local_copy(location: str, options: Mapping[str, str] | None = None) -> Iterator[str]:
    """A local path to read ``location`` from: the file itself when it is local, else a
    temporary download (same suffix, removed afterwards) for readers that need a file, such
    as OpenCV's decoder."""
    if not is_object_store(location):
        yield local_root(location)
        return
    parent, _, name = location.rpartition("/")
    fs = filesystem(parent, options)
    suffix = "." + name.rpartition(".")[2] if "." in name else ""
    handle, path = tempfile.mkstemp(prefix="ioc-object-", suffix=suffix)
    try:
        with os.fdopen(handle, "wb") as out, fs.open_input_stream(name) as source:
            while chunk := source.read(_CHUNK):
                out.write(chunk)
        yield path
    finally:
        os.unlink(path)
