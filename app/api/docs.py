"""`/docs` and `/openapi.json` for the REST API, served with bundled Swagger UI assets.

FastAPI's default docs page loads Swagger UI from a CDN, which a hall's closed network (and our
CSP) would block; swagger-ui-bundle ships the same files inside the Python package.
"""

from __future__ import annotations

from typing import Any

import swagger_ui_bundle
from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = '/_swagger'


def install_docs(app: FastAPI, api: APIRouter) -> None:
    schema: dict[str, Any] = {}
    app.mount(ASSETS, StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name='swagger-assets')

    @app.get('/openapi.json', include_in_schema=False)
    def openapi() -> dict[str, Any]:
        if not schema:
            schema.update(
                get_openapi(
                    title='HallTwin API',
                    version='1.0',
                    description='政务服务大厅取号、叫号与大厅实时数据接口 / tickets, windows and live hall data',
                    routes=api.routes,
                )
            )
        return schema

    @app.get('/docs', include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url='/openapi.json',
            title='HallTwin API',
            swagger_js_url=f'{ASSETS}/swagger-ui-bundle.js',
            swagger_css_url=f'{ASSETS}/swagger-ui.css',
            swagger_favicon_url=f'{ASSETS}/favicon-32x32.png',
        )
