"""Dashboard sessions over HTTP against a real server and SQLite store: the cookie holds a random id, never the
key; the store holds only its hash; sessions end at their expiry, after their idle time, at logout and when their
key is revoked, and an ended one goes back to the login page; forms without their CSRF token are refused."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from enclave.config import DashboardConfig
from tests.dashboards import Dashboard, dashboard_server, form_token, sign_in
from tests.servers import enclave
from tests.waiting import wait_until

IDLE = DashboardConfig().idle_seconds


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    with dashboard_server(tmp_path_factory.mktemp("sessions")) as running:
        yield running


def _rows(dashboard: Dashboard) -> list[sqlite3.Row]:
    with sqlite3.connect(dashboard.db) as connection:
        connection.row_factory = sqlite3.Row
        return connection.execute("SELECT * FROM ui_sessions").fetchall()


def _session(dashboard: Dashboard, cookie: str) -> sqlite3.Row | None:
    digest = hashlib.sha256(cookie.encode()).hexdigest()
    return next((row for row in _rows(dashboard) if row["id_hash"] == digest), None)


def _set(dashboard: Dashboard, cookie: str, **values: int) -> None:
    digest = hashlib.sha256(cookie.encode()).hexdigest()
    assignments = ", ".join(f"{name} = ?" for name in values)
    with sqlite3.connect(dashboard.db) as connection:
        connection.execute(f"UPDATE ui_sessions SET {assignments} WHERE id_hash = ?", [*values.values(), digest])


def _now_us() -> int:
    return time.time_ns() // 1000


@contextmanager
def _signed_in(dashboard: Dashboard, key: str) -> Iterator[tuple[httpx.Client, str]]:
    """A browser signed in with ``key``, and its session cookie."""
    with httpx.Client(base_url=dashboard.url, timeout=30) as browser:
        answer = sign_in(browser, key)
        assert answer.status_code == 303 and answer.headers["location"] == "/ui/", answer.text
        yield browser, browser.cookies["enclave_ui_session"]


def _goes_to_login(browser: httpx.Client) -> None:
    answer = browser.get("/ui/")
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/login?session=ended"
    assert "enclave_ui_session" not in browser.cookies  # the answer deleted it
    page = browser.get(answer.headers["location"])
    assert page.status_code == 200 and "Your session has ended" in page.text


def test_the_cookie_holds_a_random_session_id_and_never_the_key(dashboard: Dashboard) -> None:
    key = dashboard.keys["viewer"]
    with _signed_in(dashboard, key) as (browser, cookie):
        assert key not in cookie and cookie != key and len(cookie) >= 43
        row = _session(dashboard, cookie)
        assert row is not None and row["key_prefix"] == key[:12] and row["role"] == "viewer"
        # The store holds the id's digest and nothing of the key or the id themselves.
        with sqlite3.connect(dashboard.db) as connection:
            dump = "\n".join(connection.iterdump())
        assert cookie not in dump and key not in dump
        assert browser.get("/ui/").status_code == 200
        assert browser.get("/admin/usage").status_code == 401  # the cookie is the dashboard's only


def test_without_sso_configured_the_login_page_offers_keys_only(dashboard: Dashboard) -> None:
    assert "Sign in with SSO" not in httpx.get(f"{dashboard.url}/ui/login").text
    answer = httpx.get(f"{dashboard.url}/ui/sso/start")
    assert answer.status_code == 404 and "single sign-on is not configured" in answer.text


def test_the_session_cookie_is_httponly_lax_scoped_and_secure_over_https(dashboard: Dashboard) -> None:
    with httpx.Client(base_url=dashboard.url, timeout=30) as browser:
        answer = sign_in(browser, dashboard.keys["viewer"])
        cookie = next(v for k, v in answer.headers.multi_items() if k == "set-cookie" and "enclave_ui_session" in v)
        attributes = cookie.lower()
        assert "httponly" in attributes and "samesite=lax" in attributes and "path=/ui" in attributes
        assert "secure" not in attributes  # plain http on loopback: a Secure cookie would never come back
    # Behind a TLS-terminating proxy on loopback (uvicorn trusts its X-Forwarded-Proto), the cookie is Secure.
    # (httpx keeps Secure cookies from an http URL to itself, so the form's token cookie is sent by hand.)
    https = {"X-Forwarded-Proto": "https"}
    form = httpx.get(f"{dashboard.url}/ui/login", headers=https)
    assert "secure" in form.headers["set-cookie"].lower()
    answer = httpx.post(
        f"{dashboard.url}/ui/login",
        data={"key": dashboard.keys["viewer"], "csrf": form_token(form.text) or ""},
        headers={**https, "Cookie": f"enclave_ui_csrf={form.cookies['enclave_ui_csrf']}"},
    )
    assert answer.status_code == 303, answer.text
    cookie = next(v for k, v in answer.headers.multi_items() if k == "set-cookie" and "enclave_ui_session" in v)
    assert "secure" in cookie.lower()


def test_a_session_past_its_expiry_goes_back_to_the_login_page(dashboard: Dashboard) -> None:
    with _signed_in(dashboard, dashboard.keys["viewer"]) as (browser, cookie):
        row = _session(dashboard, cookie)
        assert row is not None and row["expires_us"] - row["created_us"] == DashboardConfig().session_seconds * 10**6
        _set(dashboard, cookie, expires_us=_now_us() - 1)
        _goes_to_login(browser)
        assert _session(dashboard, cookie) is None


def test_a_session_unused_for_its_idle_time_goes_back_to_the_login_page(dashboard: Dashboard) -> None:
    with _signed_in(dashboard, dashboard.keys["viewer"]) as (browser, cookie):
        _set(dashboard, cookie, seen_us=_now_us() - (IDLE - 60) * 10**6)
        assert browser.get("/ui/").status_code == 200  # used within its idle time: alive, and its use noted
        row = _session(dashboard, cookie)
        assert row is not None and row["seen_us"] > _now_us() - 60 * 10**6
        _set(dashboard, cookie, seen_us=_now_us() - (IDLE + 1) * 10**6)
        _goes_to_login(browser)


def test_logout_deletes_the_session(dashboard: Dashboard) -> None:
    with _signed_in(dashboard, dashboard.keys["viewer"]) as (browser, cookie):
        token = form_token(browser.get("/ui/").text)
        answer = browser.post("/ui/logout", data={"csrf": token or ""})
        assert answer.status_code == 303 and answer.headers["location"] == "/ui/login"
        assert _session(dashboard, cookie) is None
    # The id replayed after logout opens nothing.
    with httpx.Client(base_url=dashboard.url, timeout=30, cookies={"enclave_ui_session": cookie}) as replay:
        assert replay.get("/ui/").status_code == 303


def test_forms_without_their_csrf_token_are_refused_with_a_clear_page(dashboard: Dashboard) -> None:
    key = dashboard.keys["viewer"]
    with httpx.Client(base_url=dashboard.url, timeout=30) as browser:
        # No token, or a token another page made up (the attacker's page cannot read or set our cookie).
        for data in ({"key": key}, {"key": key, "csrf": "forged"}):
            browser.get("/ui/login")
            refused = browser.post("/ui/login", data=data)
            assert refused.status_code == 403 and "CSRF token" in refused.text, refused.text
            assert "enclave_ui_session" not in browser.cookies
    with httpx.Client(base_url=dashboard.url, timeout=30) as fresh:  # a token but no cookie to match it
        token = form_token(httpx.get(f"{dashboard.url}/ui/login").text)
        assert fresh.post("/ui/login", data={"key": key, "csrf": token or ""}).status_code == 403
    with _signed_in(dashboard, key) as (browser, cookie):
        login_token = form_token(httpx.get(f"{dashboard.url}/ui/login").text)
        for data in ({}, {"csrf": "forged"}, {"csrf": login_token or ""}):
            refused = browser.post("/ui/logout", data=data)
            assert refused.status_code == 403 and "CSRF token" in refused.text
        assert _session(dashboard, cookie) is not None and browser.get("/ui/").status_code == 200


def test_revoking_a_key_ends_its_sessions(dashboard: Dashboard) -> None:
    made = enclave("keys", "create", "--name", "doomed", "--role", "viewer", config=dashboard.config)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    with _signed_in(dashboard, key) as (first, one), _signed_in(dashboard, key) as (second, two):
        assert first.get("/ui/").status_code == 200
        revoked = enclave("keys", "revoke", key[:12], config=dashboard.config)
        assert revoked.returncode == 0, revoked.stderr
        # The revocation deleted the key's sessions in its own transaction (another process: the CLI).
        assert _session(dashboard, one) is None and _session(dashboard, two) is None
        _goes_to_login(first)
        _goes_to_login(second)
        assert sign_in(second, key).status_code == 401


def test_a_session_whose_key_expired_goes_back_to_the_login_page(dashboard: Dashboard) -> None:
    made = enclave("keys", "create", "--name", "brief", "--role", "viewer", config=dashboard.config)
    key = made.stdout.strip()
    with _signed_in(dashboard, key) as (browser, cookie):
        with sqlite3.connect(dashboard.db) as connection:
            connection.execute("UPDATE api_keys SET expires_us = ? WHERE prefix = ?", (_now_us() - 1, key[:12]))
        # The key's record is cached for cache_seconds (1 s here): it is re-read within that.
        wait_until(lambda: browser.get("/ui/").status_code == 303, message="the expired key's session ending")
        assert _session(dashboard, cookie) is None


def test_the_sessions_migration_goes_down_and_up_and_the_store_keeps_sessions(store_url: str) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect

    from enclave.access.directory import Directory
    from enclave.access.sessions import Sessions
    from enclave.store.db import MIGRATIONS, migrate, open_engine

    engine = open_engine(store_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0006")
    assert not inspect(engine).has_table("ui_sessions") and not inspect(engine).has_table("ui_sso_logins")
    migrate(engine)
    # The same calls the server makes, on this database.
    sessions = Sessions(engine, DashboardConfig())
    _, info = Directory(engine).create_key("test", "viewer", "viewer")
    kept, dropped = (sessions.open(info.prefix, "viewer", None, info.prefix) for _ in range(2))
    sso = sessions.open("sso:ada", "admin", "alpha")
    assert sessions.find(kept) is not None and sessions.find("made-up") is None
    sessions.close(kept)
    assert sessions.find(kept) is None
    Directory(engine).revoke_key("test", info.prefix)
    assert sessions.find(dropped) is None and sessions.find(sso) is not None
    login_id, login = sessions.start_sso()
    assert sessions.take_sso(login_id) == login and sessions.take_sso(login_id) is None  # once only
    engine.dispose()
