"""Single sign-on in a real browser: chromium follows the dashboard to a real OIDC provider on loopback (another
site: "localhost" against the dashboard's 127.0.0.1, so SameSite rules apply as with a real provider) and back,
sees the dashboard, logs out; a user whose claims map to no role gets a clear refusal and no session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.browsers import figure, keep
from tests.dashboards import Dashboard, Ledger, dashboard_server
from tests.oidc_provider import Provider, oidc_provider, sso_settings


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with oidc_provider("localhost") as running:
        yield running


@pytest.fixture(scope="module")
def dashboard(provider: Provider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    with dashboard_server(tmp_path_factory.mktemp("sso-browser"), settings=sso_settings(provider)) as running:
        yield running


def test_a_user_signs_in_with_sso_sees_the_dashboard_and_logs_out(
    dashboard: Dashboard, provider: Provider, browser: Browser, tmp_path: Path
) -> None:
    provider.user = {"sub": "u-1", "preferred_username": "grace", "groups": ["enclave-admins"]}
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{dashboard.url}/ui/")
    keep(page, tmp_path, "dashboard-login-sso.png")
    page.click("#sso")
    page.wait_for_url(f"{dashboard.url}/ui/")
    assert page.inner_text("header .who") == "sso:grace (admin)"
    bounds = page.locator('[data-metric="period"]')
    since, until = bounds.get_attribute("data-since") or "", bounds.get_attribute("data-until") or ""
    (requests,) = Ledger(dashboard.db, since, until).one("COUNT(*)")
    assert int(figure(page, "requests_total")) == requests
    (session,) = [c for c in context.cookies() if c["name"] == "enclave_ui_session"]
    assert session["httpOnly"] and session["sameSite"] == "Lax" and session["path"] == "/ui"
    assert not [c for c in context.cookies() if c["name"] == "enclave_ui_sso"]  # the sign-in's cookie, used up
    keep(page, tmp_path, "dashboard-sso.png")

    page.click('button:has-text("Log out")')
    page.wait_for_url(f"{dashboard.url}/ui/login")
    response = page.goto(f"{dashboard.url}/ui/")
    assert response is not None and response.status == 401 and page.locator("#sso").count() == 1
    context.close()


def test_a_user_whose_claims_map_to_no_role_is_refused(
    dashboard: Dashboard, provider: Provider, browser: Browser, tmp_path: Path
) -> None:
    provider.user = {"sub": "u-2", "email": "mallory@example.com", "groups": ["contractors"]}
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{dashboard.url}/ui/login")
    with page.expect_response(lambda r: r.url.startswith(f"{dashboard.url}/ui/sso/callback")) as answer:
        page.click("#sso")
    assert answer.value.status == 403
    alert = page.inner_text("[role=alert]")
    assert "mallory@example.com" in alert and "no value of your 'groups' claim gives access" in alert
    assert not [c for c in context.cookies() if c["name"] == "enclave_ui_session"]
    keep(page, tmp_path, "dashboard-sso-refused.png")
    context.close()
