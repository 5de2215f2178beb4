"""``GET /docs``: Swagger UI from vendored files, so nothing is downloaded at run time.

FastAPI's default page loads Swagger UI from a CDN; the app turns it (and ReDoc) off and
calls :func:`install_docs`, which serves FastAPI's own page HTML pointing at the copy of
``swagger-ui-dist`` in ``dashboards/web/vendor/swagger-ui`` (version and licence in
``dashboards/web/vendor/README.md``), mounted under :data:`ASSETS_PATH`. Swagger UI's
online validator badge is off too (it would call an outside service).

>>> from fastapi import FastAPI
>>> app = FastAPI(docs_url=None, redoc_url=None)
>>> install_docs(app)
>>> sorted(route.path for route in app.routes if route.path.startswith("/docs"))
['/docs', '/docs/assets']
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

SWAGGER_UI_DIR = Path(__file__).resolve().parents[2] / "dashboards" / "web" / "vendor" / "swagger-ui"
"""The vendored ``swagger-ui-dist`` files: bundle, stylesheet, favicon and licences."""
DOCS_PATH = "/docs"
ASSETS_PATH = "/docs/assets"


def install_docs(app: FastAPI, openapi_url: str = "/openapi.json") -> None:
    """Serve Swagger UI for ``openapi_url`` at :data:`DOCS_PATH` from the vendored files."""
    app.mount(ASSETS_PATH, StaticFiles(directory=SWAGGER_UI_DIR), name="swagger-ui-assets")

    @app.get(DOCS_PATH, include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")  # behind a path prefix
        assets = f"{root}{ASSETS_PATH}"
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - API",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None},
        )
