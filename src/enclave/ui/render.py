"""Templates and the filters that show a figure: a readable text for people and, in ``data-value``, the raw
value for scripts and tests (``repr`` of a float reads back as the same float)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from starlette.templating import Jinja2Templates

HERE = Path(__file__).parent
STATIC = HERE / "static"
# Scripts and styles from this server only; uPlot sets element styles from script, hence inline styles.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def raw(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value) if isinstance(value, float) else str(value)


def amount(value: int | float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def money(value: float | None) -> str:
    return "—" if value is None else f"{value:,.6f}"


def share(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.2f}%"


templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters.update(raw=raw, amount=amount, money=money, share=share)


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers.update(SECURITY_HEADERS)
    return response
