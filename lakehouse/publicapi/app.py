"""The public, read-only Open311 GeoReport v2 API over gold, and the open-data folder.

``GET /services.{json|xml}``, ``GET /requests.{json|xml}`` (``service_request_id``,
``service_code``, ``status``, ``start_date``, ``end_date``; paging extension ``page`` and
``page_size`` with ``Link: rel="next"`` and ``X-Total-Count``) and
``GET /requests/{id}.{json|xml}``; the OpenAPI schema at ``/openapi.json``; the open-data
export under ``/opendata/`` (``catalog.json`` first). No Swagger UI page: FastAPI's loads its
scripts from a CDN, which this machine cannot reach and a public site should not make its
visitors' browsers fetch; any OpenAPI viewer opens ``/openapi.json``.

FastAPI because the schema is the contract with every client and with schemathesis, and
FastAPI writes it from the same declarations that validate the requests: the request model
is built from the served fields (themselves derived from the contract), the allowed
``service_code`` and ``status`` values are the contract's, so the published schema cannot
drift from what is served. Responses are rendered by hand (JSON or XML by the resource's
extension, as the spec asks), not by FastAPI's serializer.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at run
# time, and they name values (the contract's codes) local to create_app.
import re
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, create_model
from starlette.exceptions import HTTPException as StarletteHTTPException

from lakehouse.contracts import Catalog, load_catalog
from lakehouse.publicapi.fields import ServedField, allowed_values, open311_contract
from lakehouse.publicapi.guards import (
    PublicHeadersMiddleware,
    RateLimitMiddleware,
    ReadOnlyMiddleware,
)
from lakehouse.publicapi.render import XML_TYPE, Format, error_response, format_of, records_response
from lakehouse.publicapi.store import RequestQuery, RequestStore
from lakehouse.settings import Settings, get_settings

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
# RFC 3339 (the w3 profile of ISO 8601 GeoReport v2 names): a date, a time and an offset.
_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_TYPES: dict[str, type] = {"double": float, "int": int, "bigint": int, "boolean": bool, "timestamp": datetime}


FormatParam = Annotated[Format, Path(description="json or xml: the resource's extension.")]


class BadRequest(ValueError):
    """A parameter the schema cannot express the rule of: 400 in Open311's shape."""


class Service(BaseModel):
    """A GeoReport v2 service (a kind of report)."""

    model_config = ConfigDict(extra="forbid")
    service_code: str
    service_name: str
    description: str
    metadata: bool = Field(description="Whether the service has extra attributes (none do).")
    type: str = Field(description="realtime: a request gets its id at once.")
    keywords: str
    group: str = Field(description="The agency most often responsible for this kind of report.")


class Open311Error(BaseModel):
    """GeoReport v2 error."""

    model_config = ConfigDict(extra="forbid")
    code: int
    description: str


def request_model(fields: tuple[ServedField, ...]) -> type[BaseModel]:
    """The ServiceRequest schema, one property per served field, typed from the contract."""
    definitions: dict[str, Any] = {}
    for f in fields:
        kind = _TYPES.get(f.column.type, str)
        note = " Masked as the contract says (personal data never leaves in clear)." if f.masked else ""
        description = (f.column.description or f"Open311 {f.wire}.") + note
        definitions[f.wire] = (kind | None if f.column.nullable else kind, Field(description=description))
    return create_model("ServiceRequest", __config__=ConfigDict(extra="forbid"), **definitions)


def _values_pattern(values: list[str]) -> str:
    one = "|".join(re.escape(v) for v in values)
    return f"^(?:{one})(?:,(?:{one}))*$"


def _instant(name: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    if not _INSTANT.match(value):
        raise BadRequest(f"{name}={value!r} is not an ISO 8601 date-time with an offset, "
                         "such as 2026-12-01T00:00:00+07:00")
    try:
        return datetime.fromisoformat(value.upper())
    except ValueError as exc:
        raise BadRequest(f"{name}={value!r}: {exc}") from None


def _split(value: str | None) -> tuple[str, ...] | None:
    return tuple(v for v in value.split(",") if v) if value else None


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ())[1:]) or "request"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def _responses(with_paging: bool = False) -> dict[int | str, dict[str, Any]]:
    xml = {XML_TYPE.split(";")[0]: {"schema": {"type": "string"}}}
    ok: dict[str, Any] = {"description": "JSON or XML, by the resource's extension.", "content": xml}
    if with_paging:
        ok["headers"] = {
            "X-Total-Count": {"description": "Requests matching, all pages.", "schema": {"type": "integer"}},
            "Link": {"description": 'The next page, rel="next", when there is one.', "schema": {"type": "string"}},
        }
    error = {"model": list[Open311Error], "content": xml}
    return {200: ok, 400: {**error, "description": "A parameter is invalid."},
            404: {**error, "description": "No such request or resource."},
            429: {**error, "description": "Too many requests from this client (see Retry-After).",
                  "headers": {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}}}}


def _tidy_openapi(schema: dict[str, Any]) -> dict[str, Any]:
    """FastAPI's schema, said as this API behaves: a query parameter is absent, never null
    (so no ``anyOf [..., null]``), and invalid requests are 400 in Open311's shape, never
    FastAPI's 422."""
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            operation.get("responses", {}).pop("422", None)
            for parameter in operation.get("parameters", []):
                options = parameter["schema"].get("anyOf", [])
                kept = [o for o in options if o.get("type") != "null"]
                if parameter["in"] == "query" and len(kept) == 1 and len(options) == 2:
                    rest = {k: v for k, v in parameter["schema"].items() if k != "anyOf"}
                    parameter["schema"] = {**kept[0], **rest}
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    return schema


def create_app(settings: Settings | None = None, catalog: Catalog | None = None) -> FastAPI:
    """The public API for ``settings`` (lake, open-data folder, rate limits)."""
    settings = settings or get_settings()
    contract = open311_contract(catalog or load_catalog(settings.catalog_dir))
    store = RequestStore(contract, settings)
    ServiceRequest = request_model(store.fields)
    codes = allowed_values(contract, "service_code")
    statuses = allowed_values(contract, "status")
    @asynccontextmanager
    async def warm(_app: FastAPI):
        store.current()  # the first snapshot (and DuckDB's extensions) before the first citizen
        yield

    app = FastAPI(
        lifespan=warm,
        docs_url=None,
        redoc_url=None,
        title="Quảng Ninh IOC: citizen reports (Open311 GeoReport v2, read-only)",
        version="2",
        description=f"{contract.title}: the status of every report and who handles it, read from "
                    "the lake's gold tier. Personal data never leaves: contact details and free text "
                    "are masked, identifiers withheld. Open data: /opendata/catalog.json (DCAT).",
    )
    app.state.store = store

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        return error_response(400, _validation_message(exc), format_of(request.url.path))

    @app.exception_handler(BadRequest)
    async def _bad(request: Request, exc: BadRequest):
        return error_response(400, str(exc), format_of(request.url.path))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        description = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 404 and description == "Not Found":
            description = f"no such resource: {request.url.path}"
        return error_response(exc.status_code, description, format_of(request.url.path), exc.headers)

    @app.get("/services.{format}", response_model=list[Service], responses=_responses(),
             summary="The kinds of report a citizen can make", operation_id="getServices")
    def get_services(format: FormatParam):
        return records_response(list(store.current().services), format, root="services", item="service")

    @app.get("/requests.{format}", response_model=list[ServiceRequest], responses=_responses(with_paging=True),
             summary="Reports, newest first", operation_id="getServiceRequests")
    def get_requests(
        request: Request,
        format: FormatParam,
        service_request_id: Annotated[str | None, Query(
            description="Comma-separated ids; when given, every other filter is ignored.")] = None,
        service_code: Annotated[str | None, Query(
            pattern=_values_pattern(codes), description="Comma-separated service codes.")] = None,
        status: Annotated[str | None, Query(
            pattern=_values_pattern(statuses), description="Comma-separated statuses.")] = None,
        start_date: Annotated[str | None, Query(
            json_schema_extra={"format": "date-time"},
            description="Earliest requested_datetime (ISO 8601 with offset). With neither date, the last 90 days.")] = None,
        end_date: Annotated[str | None, Query(
            json_schema_extra={"format": "date-time"}, description="Latest requested_datetime.")] = None,
        page: Annotated[int, Query(ge=1, description="Page, from 1 (extension).")] = 1,
        page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Requests per page (extension).")]
            = DEFAULT_PAGE_SIZE,
    ):
        query = RequestQuery(ids=_split(service_request_id), codes=_split(service_code),
                             statuses=_split(status), start=_instant("start_date", start_date),
                             end=_instant("end_date", end_date), page=page, page_size=page_size)
        found = store.select(store.current(), query)
        headers = {"X-Total-Count": str(found.total)}
        if page * page_size < found.total:
            params = {k: v for k, v in request.query_params.items() if k != "page"}
            headers["Link"] = f'<{request.url.path}?{urlencode({**params, "page": page + 1})}>; rel="next"'
        return records_response(found.rows, format, root="service_requests", item="request", headers=headers)

    @app.get("/requests/{service_request_id}.{format}", response_model=list[ServiceRequest],
             responses=_responses(), summary="One report: its latest status and who handles it",
             operation_id="getServiceRequest")
    def get_request(service_request_id: Annotated[str, Path(description="The id the citizen was given.")],
                    format: FormatParam):
        found = store.find(store.current(), service_request_id)
        if found is None:
            return error_response(404, f"service_request_id {service_request_id} not found", format)
        return records_response([found], format, root="service_requests", item="request")

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _tidy_openapi(get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/health", include_in_schema=False)
    def health():
        return JSONResponse({"status": "ok", "gold_version": store.current().version})

    @app.get("/", include_in_schema=False)
    def index():
        return JSONResponse({"services": "/services.json", "requests": "/requests.json",
                             "openapi": "/openapi.json", "opendata": "/opendata/catalog.json"})

    @app.get("/opendata/", include_in_schema=False)
    @app.get("/opendata", include_in_schema=False)
    def opendata_index():
        return RedirectResponse("/opendata/catalog.json")

    folder = settings.opendata_path
    folder.mkdir(parents=True, exist_ok=True)  # served before the first export: 404s until then
    app.mount("/opendata", StaticFiles(directory=folder, check_dir=False), name="opendata")

    # Outermost first: headers on every answer, then the rate limit, then read-only.
    app.add_middleware(ReadOnlyMiddleware)
    app.add_middleware(RateLimitMiddleware, rate_per_minute=settings.public_api_rate_per_minute,
                       burst=settings.public_api_burst)
    app.add_middleware(PublicHeadersMiddleware)
    return app


__all__ = ["BadRequest", "Open311Error", "Service", "create_app", "request_model"]
