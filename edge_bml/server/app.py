"""The HTTP API and kiosk page, on FastAPI (Starlette underneath) for its OpenAPI document.

POST /v1/look (multipart ``file`` or a raw image body) -> the look as JSON; GET /v1/catalog;
GET /v1/models (the variants running and why they were chosen); GET /v1/products/{id}/image
(catalog images only); GET /healthz; GET /metrics; GET / (kiosk page); GET /openapi.json and
GET /docs (Swagger UI from the swagger-ui-bundle package: no CDN, works offline; /redoc points there).
Every bad request gets a 4xx with ``{"error": ...}``, unknown routes too; a full work queue gets 503
with Retry-After.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from edge_bml import __version__
from edge_bml.catalog.attributes import combine, parse_where
from edge_bml.errors import CatalogFilterError, ImageError, ImageTooLargeError, JobTimeoutError
from edge_bml.image_io import MAX_FILE_BYTES, read_file_bounded, sniff_format
from edge_bml.pipeline import LookOptions, LookPipeline
from edge_bml.server import schemas
from edge_bml.server.catalog_reload import CatalogWatcher, catalog_identity
from edge_bml.server.metrics import ServerMetrics
from edge_bml.server.openapi_30 import to_openapi_30
from edge_bml.server.pipeline_pool import PipelinePool, PoolFullError
from edge_bml.server.security_headers import FILE_POLICY, PAGE_POLICY, SecurityHeaders, inline_script_policy
from edge_bml.timing import StageTimer

log = logging.getLogger("edge_bml.server")
IMAGE_TYPES = ("jpeg", "png", "webp", "bmp")


@dataclass(frozen=True)
class ServerOptions:
    """Limits of one server. ``queue_size`` requests may wait beyond the ``workers`` running."""

    workers: int = 1
    queue_size: int = 4
    max_upload_bytes: int = 16 * 1024 * 1024
    body_timeout_s: float = 20.0  # a whole upload must arrive within this (a trickling client is cut off)
    per_client: int | None = None  # admitted places one client address may hold (default: half, rounded up)
    job_timeout_s: float = 10.0  # a look not done this long after admission gets 504 and stops at its next stage
    header_timeout_s: float = 10.0  # a request head must arrive within this (slow-header connections are closed)
    max_connections: int = 256  # connections past this are closed at once
    trusted_proxies: tuple[str, ...] = ()  # addresses whose X-Forwarded-For is believed (none by default)
    cors_origins: tuple[str, ...] = ()  # web origins allowed to call the API from a browser (none by default)


class _TooLarge(Exception):
    pass


class _TooSlow(Exception):
    pass


def _error(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers or None)


async def _read_body(request: Request, limit: int, timeout_s: float) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks, size = [], 0
    deadline = time.monotonic() + timeout_s
    stream = request.stream().__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(stream.__anext__(), timeout=max(deadline - time.monotonic(), 0.0))
        except StopAsyncIteration:
            break
        except TimeoutError:
            raise _TooSlow from None
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


async def _upload(request: Request, limit: int, timeout_s: float) -> tuple[bytes, str, list[str]]:
    """The image bytes of a multipart ``file``/``image`` field or of the raw body, a name, and the form's
    ``where`` fields (attribute filters)."""
    body = await _read_body(request, limit, timeout_s)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return body, "<upload>", []
    request._body = body  # starlette parses the form from the body it has already read
    form = await request.form(max_files=1, max_fields=MAX_FORM_FIELDS)
    upload = form.get("file") or form.get("image")
    if upload is None or isinstance(upload, str):
        raise ValueError("the multipart body has no file field named 'file' or 'image'")
    where = [str(v) for v in form.getlist("where") if isinstance(v, str)]
    return await upload.read(), upload.filename or "<upload>", where


def open_pool(look_options: LookOptions, server_options: ServerOptions | None = None) -> PipelinePool:
    """The workers' pipelines, loaded now: ``serve`` calls it before listening, so a missing model or a
    bad catalog stops the server with one line instead of a server that answers 500.

    Raises:
        ModelNotFoundError, CatalogError and the other model-loading errors.
    """
    server_options = server_options or ServerOptions()
    # Taken before opening: a catalog swapped while the workers load is loaded again at the first check.
    identity = catalog_identity(look_options.catalog) if look_options.catalog is not None else None
    pool = PipelinePool(
        lambda: LookPipeline(look_options),
        workers=server_options.workers,
        queue_size=server_options.queue_size,
        per_client=server_options.per_client,
    )
    pool.catalog_identity = identity
    return pool


MAX_FORM_FIELDS = 16
MAX_LISTED_VALUES = 50  # /v1/catalog lists the values of attribute columns with at most this many
_WHERE_HELP = (
    "an attribute filter on the catalog's products, COLUMN=V1[,V2] (a column of the product table, e.g. "
    "kids=False or gender=Women,Unisex); repeatable: AND across columns, OR within one; COLUMN=* lifts the "
    "catalog's default filter; a column the catalog lacks is a 422"
)
_ERRORS = {status: {"model": schemas.Error} for status in (400, 404, 408, 413, 415, 422, 500, 503, 504)}
# One content type for the body, so that generated clients build (openapi-python-client fails on a required
# body of several); the raw-body form (Content-Type image/jpeg, image/png, application/octet-stream) still works.
_LOOK_BODY = {
    "requestBody": {
        "required": True,
        "description": "a photo (JPEG, PNG, WebP or BMP) as the multipart field 'file' (or 'image'); the server "
        "also takes the photo as the raw body, with Content-Type image/jpeg, image/png or application/octet-stream",
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "where": {"type": "array", "items": {"type": "string"}, "description": _WHERE_HELP},
                    },
                    "required": ["file"],
                }
            },
        },
    },
    "parameters": [
        {
            "name": "where",
            "in": "query",
            "required": False,
            "style": "form",
            "explode": True,
            "schema": {"type": "array", "items": {"type": "string"}},
            "description": _WHERE_HELP + " (also as multipart fields)",
            "example": ["kids=False"],
        }
    ],
}


def _with_image_urls(look: dict) -> dict:
    """Each match gains the URL of its product photo on this server."""
    for article in look["articles"]:
        for match in article["matches"]:
            match["image_url"] = f"/v1/products/{quote(str(match['id']), safe='')}/image"
    return look


def create_app(
    look_options: LookOptions, server_options: ServerOptions | None = None, *, pool: PipelinePool | None = None
) -> FastAPI:
    """The ASGI app, serving ``pool`` (from ``open_pool``) or, without one, a pool loaded when the app starts.

    Raises (at start-up, without ``pool``): ModelNotFoundError, CatalogError and the other model-loading errors.
    """
    server_options = server_options or ServerOptions()
    metrics = ServerMetrics()
    state: dict = {}
    static = files("edge_bml.server") / "static"

    def serve_catalog(catalog) -> None:
        """Hand ``catalog`` to the workers and the routes (they read the catalog and its products together)."""
        state["pool"].replace_catalog(catalog)
        state["catalog"] = (catalog, {row["id"]: row for row in catalog.products.values()})

    @asynccontextmanager
    async def lifespan(app):
        state["pool"] = pool if pool is not None else open_pool(look_options, server_options)
        catalog = state["pool"].catalog
        state["catalog"] = (catalog, {} if catalog is None else {row["id"]: row for row in catalog.products.values()})
        if look_options.catalog is not None:
            embedder = state["pool"].any.embedder
            state["watcher"] = CatalogWatcher(
                look_options.catalog,
                identity=state["pool"].catalog_identity or catalog_identity(look_options.catalog),
                on_new=serve_catalog,
                check=lambda new: new.check_embedder(embedder),
                trust=look_options.trust,
            )
        try:
            yield
        finally:
            state.pop("pool").close()

    def current_catalog():
        """The catalog served now (and its products by id), after a look whether it was swapped on disk."""
        watcher = state.get("watcher")
        if watcher is not None:
            watcher.poll()
        return state["catalog"]

    def counted(route: str, response: Response) -> Response:
        metrics.requests.labels(route=route, status=str(response.status_code)).inc()
        return response

    app = FastAPI(
        title="edge_bml",
        version=__version__,
        description="On-device Buy Me That Look: one full-shot photo in, every article worn with similar products out.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    fastapi_openapi = app.openapi

    def openapi_30() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = to_openapi_30(fastapi_openapi())
        return app.openapi_schema

    app.openapi = openapi_30  # OpenAPI 3.0.3: the bundled Swagger UI 4 and client generators read it
    docs_page = get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="edge_bml API",
        swagger_js_url="/docs-assets/swagger-ui-bundle.js",
        swagger_css_url="/docs-assets/swagger-ui.css",
        swagger_favicon_url="/docs-assets/favicon-32x32.png",
    )
    swagger = Path(swagger_ui_path)
    app.mount("/docs-assets", StaticFiles(directory=swagger), name="docs-assets")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        message = "no such route: see /docs" if error.status_code == 404 else str(error.detail)
        return _error(error.status_code, message, **(error.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        return _error(422, f"invalid request: {error.errors()}")

    @app.post(
        "/v1/look",
        response_model=schemas.Look,
        responses=_ERRORS,
        openapi_extra=_LOOK_BODY,
        summary="The look of one photo: shot, facing, articles and their matches",
    )
    async def look(request: Request) -> Response:
        try:
            data, name, form_where = await _upload(
                request, server_options.max_upload_bytes, server_options.body_timeout_s
            )
        except _TooLarge:
            return counted("look", _error(413, f"upload over {server_options.max_upload_bytes} bytes"))
        except _TooSlow:
            message = f"the upload did not arrive within {server_options.body_timeout_s:g} s; send it at once"
            return counted("look", _error(408, message, Connection="close"))
        except ClientDisconnect:
            return counted("look", _error(400, "the client closed the connection"))
        except Exception as error:  # malformed multipart bodies raise parser-specific errors
            return counted("look", _error(400, f"malformed request body: {error}"))
        if not data:
            return counted("look", _error(422, "empty upload: send a JPEG, PNG, WebP or BMP photo"))
        if sniff_format(data) is None:
            return counted("look", _error(415, "not an image: send a JPEG, PNG, WebP or BMP photo"))
        catalog, _ = current_catalog()
        try:
            where = parse_where(request.query_params.getlist("where") + form_where)
            if catalog is not None:
                catalog.resolve_where(combine(look_options.where, where, drop_any=False))
            elif where:
                raise CatalogFilterError("this server runs without a catalog: there is nothing to filter")
        except CatalogFilterError as error:
            return counted("look", _error(422, str(error)))
        timeout = server_options.job_timeout_s
        deadline = time.monotonic() + timeout

        def job(pipeline: LookPipeline):
            return pipeline(data, file=name, where=where, timer=StageTimer(deadline=deadline))

        try:
            client = request.client.host if request.client else ""
            result = await state["pool"].submit(job, client=client, timeout_s=timeout)
        except PoolFullError as error:
            return counted("look", _error(503, f"{error}; retry in a second", **{"Retry-After": "1"}))
        except JobTimeoutError:
            message = f"the look took longer than {timeout:g} s and was stopped; send a smaller photo or retry later"
            return counted("look", _error(504, message))
        except ImageTooLargeError as error:
            return counted("look", _error(413, str(error)))
        except ImageError as error:
            return counted("look", _error(422, str(error)))
        except Exception:
            log.exception("look failed")
            return counted("look", _error(500, "internal error while processing the photo"))
        metrics.observe_look(result.timings_ms)
        return counted("look", JSONResponse(_with_image_urls(result.to_json())))

    @app.get("/v1/catalog", response_model=schemas.CatalogSummary, responses=_ERRORS, summary="What the catalog holds")
    def catalog_info(request: Request) -> Response:
        catalog, _ = current_catalog()
        if catalog is None:
            return counted("catalog", _error(404, "this server runs without a catalog"))
        manifest = catalog.manifest
        summary = {
            "embedder": manifest.embedder_name,
            "dims": manifest.dims,
            "dtype": manifest.dtype,
            "metric": manifest.metric,
            "counts": manifest.counts,
            "total": manifest.total,
            "built_at": manifest.built_at,
            "default_where": {c: list(v) for c, v in manifest.default_where.items()},
            "attributes": {
                column: values
                for column in catalog.attributes.columns
                if len(values := catalog.attributes.values(column)) <= MAX_LISTED_VALUES
            },
        }
        return counted("catalog", JSONResponse(summary))

    @app.get(
        "/v1/products/{product_id:path}/image",  # any id, '/' included, as one percent-encoded segment
        response_class=Response,
        responses={
            200: {"content": {f"image/{kind}": {} for kind in IMAGE_TYPES}},
            404: {"model": schemas.Error},
        },
        summary="A product's photo, only from the catalog's image folder, only if its bytes are an image",
    )
    def product_image(product_id: str) -> Response:
        catalog, products = current_catalog()
        row = products.get(product_id)
        if row is None:
            return counted("product_image", _error(404, f"no product {product_id!r}"))
        path = catalog.image_path(row)
        missing = _error(404, f"no image for product {product_id!r}")
        if path is None:
            return counted("product_image", missing)
        try:
            data = read_file_bounded(path, max_bytes=MAX_FILE_BYTES)
        except ImageError:
            return counted("product_image", missing)
        kind = sniff_format(data)  # the type comes from the bytes, never the file name (an .html polyglot)
        if kind not in IMAGE_TYPES:
            log.warning("product %r: %s is not a JPEG, PNG, WebP or BMP image; not served", product_id, path)
            return counted("product_image", missing)
        return counted("product_image", Response(data, media_type=f"image/{kind}"))

    @app.get("/v1/models", response_model=schemas.Models, summary="The model variants running, and why each was chosen")
    def models() -> Response:
        from edge_bml.cli.model_choices import choices_json
        from edge_bml.machine import current_machine

        summary = {"machine": current_machine().to_json(), "models": choices_json(state["pool"].any.choices)}
        return counted("models", JSONResponse(summary))

    @app.get("/healthz", response_model=schemas.Health, responses={503: {"model": schemas.Health}})
    def healthz() -> Response:
        """Ready (200) only once every worker's models and the catalog are loaded."""
        if "pool" not in state:
            return JSONResponse({"status": "starting"}, status_code=503)
        pipeline = state["pool"].any
        catalog, _ = current_catalog()
        return JSONResponse(
            {
                "status": "ok",
                "workers": state["pool"].workers,
                "models": pipeline.models,
                "catalog": None if catalog is None else {"products": catalog.manifest.total},
            }
        )

    @app.get(
        "/metrics",
        response_class=Response,
        responses={200: {"content": {"text/plain; version=0.0.4": {"schema": {"type": "string"}}}}},
        summary="Prometheus metrics: requests, per-stage latency",
    )
    def metrics_text() -> Response:
        return Response(metrics.text(), media_type="text/plain; version=0.0.4")

    @app.get("/", response_class=Response, include_in_schema=False)
    def page() -> Response:
        return Response((static / "index.html").read_bytes(), media_type="text/html; charset=utf-8")

    @app.get("/docs", include_in_schema=False)
    def docs() -> Response:
        return docs_page

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> Response:
        return RedirectResponse("/docs")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response((static / "favicon.svg").read_bytes(), media_type="image/svg+xml")

    @app.get("/static/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        kinds = {"kiosk.js": "text/javascript", "kiosk.css": "text/css"}
        if name not in kinds:
            return _error(404, "no such file")
        return Response((static / name).read_bytes(), media_type=kinds[name])

    policies = {"/docs-assets/": PAGE_POLICY, "/docs": inline_script_policy(docs_page.body.decode())}
    app.add_middleware(SecurityHeaders, policies={**policies, "/v1/products/": FILE_POLICY})
    if server_options.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(server_options.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type"],
            max_age=600,
        )
    return app
