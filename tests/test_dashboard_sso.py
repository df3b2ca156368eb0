"""Single sign-on to the dashboard against a real OIDC provider on loopback (tests/oidc_provider.py), over HTTP:
the code flow with PKCE opens a session with the mapped role and project; an answer for another sign-in (state),
another nonce, a token not signed by the provider's published key, an expired token or one for another client,
a replayed code, a sign-in left too long and a user no claim maps to a role are each refused with a page."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from tests.dashboards import FIRST_DAY, LAST_DAY, Dashboard, Ledger, dashboard_server, read_figures
from tests.oidc_provider import CLIENT_ID, Provider, challenge, oidc_provider, sso_settings

VIEWER = {"sub": "u-100", "preferred_username": "ada", "groups": ["staff", "enclave-viewers"]}


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with oidc_provider() as running:
        yield running


@pytest.fixture(scope="module")
def dashboard(provider: Provider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    with dashboard_server(tmp_path_factory.mktemp("sso"), settings=sso_settings(provider)) as running:
        yield running


@pytest.fixture(autouse=True)
def honest(provider: Provider) -> None:
    provider.user, provider.tamper = dict(VIEWER), None


def _to_provider(browser: httpx.Client) -> str:
    """Start signing in; the provider's authorization URL the dashboard redirects to."""
    started = browser.get("/ui/sso/start")
    assert started.status_code == 303, started.text
    return started.headers["location"]


def _back_from_provider(browser: httpx.Client, provider: Provider) -> str:
    """The provider's redirect back to the dashboard's callback (it approves at once)."""
    approved = httpx.get(_to_provider(browser))
    assert approved.status_code == 302, approved.text
    return approved.headers["location"]


def _refused(answer: httpx.Response, status: int, words: str) -> None:
    assert answer.status_code == status, answer.text
    assert words in answer.text.replace("&#39;", "'"), answer.text
    assert "enclave_ui_session" not in answer.cookies


def test_signing_in_with_sso_opens_a_session_with_the_mapped_role(dashboard: Dashboard, provider: Provider) -> None:
    with httpx.Client(base_url=dashboard.url, timeout=30) as browser:
        login = browser.get("/ui/login").text
        assert 'href="/ui/sso/start"' in login and "Sign in with SSO" in login
        location = _to_provider(browser)
        asked = parse_qs(urlparse(location).query)
        assert location.startswith(f"{provider.url}/authorize?")
        assert asked["client_id"] == [CLIENT_ID] and asked["code_challenge_method"] == ["S256"]
        assert asked["redirect_uri"] == [f"{dashboard.url}/ui/sso/callback"]
        assert {"state", "nonce", "code_challenge"} <= set(asked) and "code_verifier" not in asked
        callback = httpx.get(location).headers["location"]
        answer = browser.get(callback)
        assert answer.status_code == 303 and answer.headers["location"] == "/ui/", answer.text
        # The provider saw the verifier whose S256 challenge was in the authorization request.
        assert challenge(provider.verified[-1]) == asked["code_challenge"][0]
        digest = hashlib.sha256(browser.cookies["enclave_ui_session"].encode()).hexdigest()
        with sqlite3.connect(dashboard.db) as connection:
            row = connection.execute(
                "SELECT actor, role, key_prefix, project FROM ui_sessions WHERE id_hash = ?", (digest,)
            ).fetchone()
        assert row == ("sso:ada", "viewer", None, None)
        page = browser.get("/ui/", params={"period": "custom", "since": FIRST_DAY, "until": LAST_DAY})
        assert page.status_code == 200 and "sso:ada (viewer)" in page.text
        (requests,) = Ledger(dashboard.db, FIRST_DAY, LAST_DAY).one("COUNT(*)")
        assert read_figures(page.text).number("requests_total") == requests


def test_a_project_claim_binds_the_session_to_that_project(dashboard: Dashboard, provider: Provider) -> None:
    provider.user = {**VIEWER, "enclave_project": "alpha"}
    with httpx.Client(base_url=dashboard.url, timeout=30) as browser:
        assert browser.get(_back_from_provider(browser, provider)).status_code == 303
        page = browser.get("/ui/projects", params={"period": "custom", "since": FIRST_DAY, "until": LAST_DAY})
        assert page.status_code == 200 and set(read_figures(page.text).rows) == {"alpha"}
    provider.user = {**VIEWER, "enclave_project": "nowhere"}
    with httpx.Client(base_url=dashboard.url, timeout=30) as browser:
        _refused(browser.get(_back_from_provider(browser, provider)), 403, "which enclave does not know")


def test_a_user_no_claim_maps_to_a_role_is_refused(dashboard: Dashboard, provider: Provider) -> None:
    provider.user = {"sub": "u-200", "email": "bob@example.com", "groups": ["staff"]}
    with httpx.Client(base_url=dashboard.url, timeout=30) as browser:
        answer = browser.get(_back_from_provider(browser, provider))
        _refused(answer, 403, "You signed in as bob@example.com, but no value of your 'groups' claim")
    provider.user = {**VIEWER, "groups": ["enclave-developers"]}  # a role, but not one that reads usage
    with httpx.Client(base_url=dashboard.url, timeout=30) as browser:
        _refused(browser.get(_back_from_provider(browser, provider)), 403, "may not read usage")


def test_an_answer_for_another_sign_in_is_refused(dashboard: Dashboard, provider: Provider) -> None:
    with httpx.Client(base_url=dashboard.url, timeout=30) as browser:
        callback = _back_from_provider(browser, provider)
        forged = callback.replace("state=", "state=x")
        _refused(browser.get(forged), 400, "does not belong to the sign-in this browser started (state)")
    # The provider's genuine answer, opened in a browser that did not start the sign-in (login CSRF).
    with httpx.Client(base_url=dashboard.url, timeout=30) as starter:
        callback = _back_from_provider(starter, provider)
        with httpx.Client(timeout=30) as other:
            _refused(other.get(callback), 400, "was not started in this browser")


def test_a_code_is_good_for_one_sign_in_only(dashboard: Dashboard, provider: Provider) -> None:
    with httpx.Client(base_url=dashboard.url, timeout=30) as browser:
        callback = _back_from_provider(browser, provider)
        sign_in_cookie = browser.cookies["enclave_ui_sso"]
        assert browser.get(callback).status_code == 303
        browser.cookies.set("enclave_ui_sso", sign_in_cookie, path="/ui")
        _refused(browser.get(callback), 400, "was not started in this browser")


@pytest.mark.parametrize(
    ("tamper", "words"),
    [
        ("nonce", "The ID token was refused: invalid_claim"),
        ("signature", "The ID token was refused: bad_signature"),
        ("expired", "The ID token was refused: expired_token"),
        ("audience", "The ID token was refused: invalid_claim"),
    ],
)
def test_an_id_token_that_fails_a_check_is_refused(
    dashboard: Dashboard, provider: Provider, tamper: str, words: str
) -> None:
    provider.tamper = tamper
    with httpx.Client(base_url=dashboard.url, timeout=30) as browser:
        _refused(browser.get(_back_from_provider(browser, provider)), 400, words)
        assert browser.get("/ui/").status_code == 401


def test_a_sign_in_left_too_long_is_refused(dashboard: Dashboard, provider: Provider) -> None:
    with httpx.Client(base_url=dashboard.url, timeout=30) as browser:
        callback = _back_from_provider(browser, provider)
        with sqlite3.connect(dashboard.db) as connection:
            connection.execute("UPDATE ui_sso_logins SET expires_us = ?", (time.time_ns() // 1000 - 1,))
        _refused(browser.get(callback), 400, "it took too long")


def test_an_expired_sso_session_goes_back_to_the_login_page(dashboard: Dashboard, provider: Provider) -> None:
    with httpx.Client(base_url=dashboard.url, timeout=30) as browser:
        assert browser.get(_back_from_provider(browser, provider)).status_code == 303
        assert browser.get("/ui/").status_code == 200
        digest = hashlib.sha256(browser.cookies["enclave_ui_session"].encode()).hexdigest()
        with sqlite3.connect(dashboard.db) as connection:
            connection.execute(
                "UPDATE ui_sessions SET expires_us = ? WHERE id_hash = ?", (time.time_ns() // 1000 - 1, digest)
            )
        answer = browser.get("/ui/")
        assert answer.status_code == 303 and answer.headers["location"] == "/ui/login?session=ended"


def test_an_unreachable_provider_is_a_clear_page(tmp_path: Path) -> None:
    with oidc_provider() as gone:
        settings = sso_settings(gone)
    # The provider has stopped: nothing listens at its address.
    with dashboard_server(tmp_path, settings=settings) as running:
        answer = httpx.get(f"{running.url}/ui/sso/start", timeout=30)
        assert answer.status_code == 502
        assert "discovery document could not be read" in answer.text
        assert "Sign in with SSO" in httpx.get(f"{running.url}/ui/login").text


def test_roles_come_from_a_claim_or_a_nested_claim_and_the_first_configured_value_wins() -> None:
    from enclave.access.oidc import identity_of
    from enclave.config import SsoConfig
    from enclave.errors import SsoRefused

    keycloak = SsoConfig(
        issuer="https://kc.example.com/realms/corp",
        client_id="enclave",
        role_claim="realm_access.roles",
        roles={"enclave-admin": "admin", "enclave-viewer": "viewer"},
    )
    claims = {"sub": "1", "preferred_username": "ada", "realm_access": {"roles": ["enclave-viewer", "enclave-admin"]}}
    assert identity_of(claims, keycloak).role == "admin"  # "enclave-admin" is listed first in the mapping
    assert identity_of({"sub": "2", "realm_access": {"roles": "enclave-viewer"}}, keycloak).actor == "sso:2"
    with pytest.raises(SsoRefused):
        identity_of({"sub": "3", "realm_access": {"roles": ["staff"]}}, keycloak)
    with pytest.raises(SsoRefused):
        identity_of({"sub": "4"}, keycloak)  # no such claim at all


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"client_secret": "a", "client_secret_env": "B"}, "not both"),
        ({"scopes": ["profile"]}, "must include 'openid'"),
        ({"roles": {}}, "map at least one claim value"),
        ({"roles": {"g": "superuser"}}, "admin"),
        ({"issuer": "login.example.com"}, "String should match pattern"),
    ],
)
def test_a_wrong_sso_section_is_refused_at_start(changes: dict[str, object], message: str) -> None:
    from pydantic import ValidationError

    from enclave.config import Settings

    sso = {"issuer": "https://login.example.com", "client_id": "enclave", "roles": {"g": "viewer"}, **changes}
    with pytest.raises(ValidationError, match=message):
        Settings.model_validate({"sso": sso})
