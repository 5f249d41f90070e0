"""The API's documentation pages, /docs (Swagger UI) and /redoc, with their scripts served by this app from the pinned
fastapi-offline package: they work offline, and a Content-Security-Policy keeps the browser from reaching elsewhere."""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_ASSETS_PATH = "/static/docs"
# Swagger UI and ReDoc as fastapi-offline ships them (swagger-ui-bundle.js, swagger-ui.css, redoc.standalone.js).
_ASSETS_DIRECTORY = str(files("fastapi_offline") / "static")
# Only this origin: ReDoc's bundle draws a badge from cdn.redoc.ly and Swagger UI would send the spec's URL to
# validator.swagger.io, so a page that works offline must still be stopped from calling out. Inline script and
# styles are the pages' own start-up code and ReDoc's styled components; blob: workers are ReDoc's search index.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'"
)


def install_api_docs(app: FastAPI, *, docs_url: str = "/docs", redoc_url: str = "/redoc") -> None:
    """Serve the docs pages and their assets; create ``app`` with ``docs_url=None, redoc_url=None``."""
    app.mount(DOCS_ASSETS_PATH, StaticFiles(directory=_ASSETS_DIRECTORY), name="docs-assets")
    app.include_router(_docs_router(app, docs_url=docs_url, redoc_url=redoc_url))


def _docs_router(app: FastAPI, *, docs_url: str, redoc_url: str) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    openapi_url = app.openapi_url or "/openapi.json"

    @router.get(docs_url)
    async def swagger_ui() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{DOCS_ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS_PATH}/favicon.png",
            swagger_ui_parameters={"validatorUrl": None},
        )
        return _with_policy(page)

    @router.get(redoc_url)
    async def redoc() -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{DOCS_ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{DOCS_ASSETS_PATH}/favicon.png",
            with_google_fonts=False,
        )
        return _with_policy(page)

    return router


def _with_policy(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return page
