"""The dashboard's pages: overview, breakdowns by model, project, key and target, the local/hosted split and
the cost comparison, each for a period (a named day/week/month, or custom days) and paged where long.

Every page authenticates the caller (``login.current``: a key or a session, usage permission, audited), reads
its figures from ``gateway.reports`` off the event loop, and shows a refusal or a bad filter as a page with its
status, never a 500; an ended session goes back to the login page. A key bound to a project sees that
project's traffic only."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from enclave.access.keys import Principal
from enclave.api.auth import credential
from enclave.errors import AuthenticationFailed, EnclaveError, InvalidRequest, StoreUnavailable
from enclave.gateway import Gateway
from enclave.ledger.dashboard import PAGE_ROWS, Breakdown, Scope, UsageReports
from enclave.ledger.period import Named, period_of
from enclave.ui.login import SessionEnded, current, ended, login_page
from enclave.ui.render import render

router = APIRouter(prefix="/ui")
FILTERS = ("period", "since", "until", "page")
NAMED = ("day", "week", "month")
Build = Callable[[UsageReports, Scope, int], dict[str, Any]]


def _filters(request: Request, principal: Principal) -> tuple[Scope, int, dict[str, str]]:
    """The scope and page the query asks for, and the query itself to carry into links. A named period wins
    over dates (the form sends both); dates are read with ``period=custom`` or no period."""
    query = request.query_params
    unknown = sorted(set(query) - set(FILTERS))
    if unknown:
        raise InvalidRequest(f"unknown filter {unknown[0]!r}; use {', '.join(FILTERS)}", param=unknown[0])
    name = query.get("period") or "custom"
    if name not in (*NAMED, "custom"):
        raise InvalidRequest(f"period: {name!r} is not one of day, week, month, custom", param="period")
    named = cast(Named, name) if name in NAMED else None
    since = None if named else query.get("since") or None
    until = None if named else query.get("until") or None
    period = period_of(since, until, named, dt.datetime.now(dt.UTC).date())
    text = query.get("page") or "1"
    if not text.isdigit() or int(text) < 1:
        raise InvalidRequest(f"page: {text!r} is not a page number (1 or more)", param="page")
    kept = {k: v for k in ("period", "since", "until") if (v := query.get(k))}
    project = principal.project.name if principal.project is not None else None
    return Scope(period, project), int(text), kept


async def _page(request: Request, template: str, build: Build) -> Response:
    try:
        principal, csrf = await current(request)
        scope, number, kept = _filters(request, principal)
        gateway: Gateway = request.app.state.gateway
        if gateway.reports is None:
            raise StoreUnavailable("this server runs without a store: there is no usage to show")
        figures = await asyncio.to_thread(build, gateway.reports, scope, number)
    except SessionEnded:
        return ended(request)
    except AuthenticationFailed as exc:
        # A browser that simply has not signed in yet is asked to; a script's refused key is told why.
        return login_page(request, exc.message if credential(request) else "Sign in to see the dashboard.", exc.status)
    except EnclaveError as exc:
        return render(request, "error.html", {"error": exc}, status=exc.status)
    context = {
        **figures,
        "scope": scope,
        "period": scope.period.describe(),
        "chosen": kept.get("period") or ("custom" if "since" in kept else "month"),
        "query": urlencode(kept),
        "principal": principal,
        "csrf": csrf,
        "currency": gateway.reports.currency,
        "path": request.url.path,
    }
    return render(request, template, context)


def _overview(reports: UsageReports, scope: Scope, number: int) -> dict[str, Any]:
    overview = reports.overview(scope)
    pages = max(1, -(-len(overview.days) // PAGE_ROWS))
    if number > pages:
        raise InvalidRequest(f"page: {number} is past the last page ({pages})", param="page")
    days = overview.days[(number - 1) * PAGE_ROWS : number * PAGE_ROWS]
    series = {
        "days": [d.day for d in overview.days],
        "requests": [d.traffic.requests for d in overview.days],
        "errors": [d.errors for d in overview.days],
        "tokens": [d.traffic.tokens for d in overview.days],
        "cost": [d.traffic.cost for d in overview.days],
    }
    return {
        "overview": overview,
        "split": reports.split(scope),
        "costs": reports.costs(scope, dt.datetime.now(dt.UTC)),
        "days": days,
        "series": series,
        "page": {"number": number, "count": pages, "total_rows": len(overview.days)},
    }


def _breakdown(by: Breakdown) -> Build:
    def build(reports: UsageReports, scope: Scope, number: int) -> dict[str, Any]:
        page = reports.breakdown(scope, by, number)
        return {
            "by": by,
            "rows": page.rows,
            "page": {"number": page.number, "count": page.count, "total_rows": page.total_rows},
        }

    return build


def _split(reports: UsageReports, scope: Scope, number: int) -> dict[str, Any]:
    return {"split": reports.split(scope)}


def _costs(reports: UsageReports, scope: Scope, number: int) -> dict[str, Any]:
    return {"costs": reports.costs(scope, dt.datetime.now(dt.UTC))}


@router.get("/")
async def overview(request: Request) -> Response:
    return await _page(request, "overview.html", _overview)


@router.get("/models")
async def by_model(request: Request) -> Response:
    return await _page(request, "breakdown.html", _breakdown("model"))


@router.get("/projects")
async def by_project(request: Request) -> Response:
    return await _page(request, "breakdown.html", _breakdown("project"))


@router.get("/keys")
async def by_key(request: Request) -> Response:
    return await _page(request, "breakdown.html", _breakdown("key"))


@router.get("/targets")
async def by_target(request: Request) -> Response:
    return await _page(request, "breakdown.html", _breakdown("target"))


@router.get("/split")
async def split(request: Request) -> Response:
    return await _page(request, "split.html", _split)


@router.get("/costs")
async def costs(request: Request) -> Response:
    return await _page(request, "costs.html", _costs)
