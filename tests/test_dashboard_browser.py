"""The dashboard in a real browser: Playwright driving Debian's chromium (/usr/bin/chromium, installed by
`make install`; never a browser Playwright downloads). Logs in through the form, reads the figures, checks the
charts drew the series, changes the period, and is refused with a key that may not read usage. Screenshots are
kept (in the test's folder, and in $ENCLAVE_SCREENSHOTS when set)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.browsers import figure, keep
from tests.dashboards import FIRST_DAY, LAST_DAY, Dashboard, Ledger, dashboard_server


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    with dashboard_server(tmp_path_factory.mktemp("dashboard-browser")) as running:
        yield running


def test_a_viewer_logs_in_sees_the_figures_and_charts_and_changes_the_period(
    dashboard: Dashboard, browser: Browser, tmp_path: Path
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{dashboard.url}/ui/")
    page.fill('input[name="key"]', dashboard.keys["viewer"])
    page.click('button:has-text("Log in")')
    page.wait_for_url(f"{dashboard.url}/ui/")

    # A custom period through the form: four days, across a month's end.
    page.select_option("#period", "custom")
    page.fill("#since", FIRST_DAY)
    page.fill("#until", LAST_DAY)
    page.click("#apply")
    page.wait_for_url("**since=2025-03-30**")
    (requests,) = Ledger(dashboard.db, FIRST_DAY, LAST_DAY).one("COUNT(*)")
    assert int(figure(page, "requests_total")) == requests

    # Three charts drew the per-day series: their data sums to the headline, and their canvases have pixels.
    page.wait_for_function("window.enclaveCharts && window.enclaveCharts.length === 3")
    drawn = page.evaluate("window.enclaveCharts[0].data[1].reduce((a, b) => a + b, 0)")
    assert drawn == requests
    painted = page.evaluate(
        """() => {
            const canvas = document.querySelector('.uplot canvas');
            const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            let n = 0;
            for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) n++;
            return n;
        }"""
    )
    assert painted > 500
    keep(page, tmp_path, "dashboard.png")

    # One day of it: the figures change to that day's.
    page.fill("#since", "2025-04-01")
    page.fill("#until", "2025-04-01")
    page.click("#apply")
    page.wait_for_url("**since=2025-04-01**")
    (one_day,) = Ledger(dashboard.db, "2025-04-01", "2025-04-01").one("COUNT(*)")
    assert 0 < one_day < requests
    assert int(figure(page, "requests_total")) == one_day

    # The other pages carry the period along.
    page.click('nav a:has-text("Keys")')
    page.wait_for_url("**/ui/keys?**since=2025-04-01**")
    assert page.locator("#breakdown tbody tr[data-row]").count() > 0
    keep(page, tmp_path, "dashboard-keys.png")
    page.click('nav a:has-text("Costs")')
    assert page.locator('[data-metric="break_even_tokens_per_day"]').count() > 0
    context.close()


def test_a_key_that_may_not_read_usage_is_refused(dashboard: Dashboard, browser: Browser) -> None:
    context = browser.new_context(extra_http_headers={"Authorization": f"Bearer {dashboard.keys['developer']}"})
    page = context.new_page()
    response = page.goto(f"{dashboard.url}/ui/")
    assert response is not None and response.status == 403
    assert "may not read usage" in page.inner_text("[role=alert]")
    context.close()

    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{dashboard.url}/ui/login")
    page.fill('input[name="key"]', dashboard.keys["developer"])
    with page.expect_response(f"{dashboard.url}/ui/login") as answer:
        page.click('button:has-text("Log in")')
    assert answer.value.status == 403
    assert "may not read usage" in page.inner_text("[role=alert]")
    assert not [c for c in context.cookies() if c["name"] == "enclave_ui_session"]
    context.close()
