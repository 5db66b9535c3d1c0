"""Staff tokens: Supabase Auth's, verified against the project's keys, from active staff only."""

import uuid

import jwt
import pytest

from talia_testkit.fake_supabase_auth import JWKS_PATH, legacy_hs256_token

from .console_kit import Console, running_console

LEGACY_SECRET = "a-legacy-project-jwt-secret-of-32-chars-or-more"


def _me(console: Console, token: str) -> tuple[int, str]:
    response = console.http.get("/api/console/me", headers={"Authorization": f"Bearer {token}"})
    body = response.json()
    return response.status_code, body["error"]["code"] if "error" in body else body["role"]


def test_a_signed_in_staff_member_is_recognised(console: Console) -> None:
    ana = console.staff("Ana", role="admin")

    response = console.get(ana, "/me")

    assert response.status_code == 200
    assert response.json() == {
        "id": str(ana),
        "email": "ana@business.example",
        "name": "Ana",
        "role": "admin",
    }


def test_tokens_the_project_did_not_issue_as_they_are_are_refused(console: Console) -> None:
    ana = console.staff("Ana")
    auth = console.auth
    other_issuer = auth.issue_token(ana, issuer="https://other.supabase.co/auth/v1")
    other_audience = auth.issue_token(ana, audience="anon")
    expired = auth.issue_token(ana, expires_in=-120)
    forged = auth.issue_token(ana, signed_by_unknown_key=True)
    unknown_key = auth.issue_token(ana, signed_by_unknown_key=True, kid="not-a-key-of-ours")
    unsigned = jwt.encode({"sub": str(ana)}, key="", algorithm="none")

    assert _me(console, other_issuer) == (401, "invalid_token")
    assert _me(console, other_audience) == (401, "invalid_token")
    assert _me(console, expired) == (401, "token_expired")
    assert _me(console, forged) == (401, "invalid_token")
    assert _me(console, unknown_key) == (401, "invalid_token")
    assert _me(console, unsigned) == (401, "invalid_token")
    assert _me(console, "not a token") == (401, "invalid_token")
    assert _me(console, legacy_hs256_token(LEGACY_SECRET, ana, issuer=auth.issuer)) == (
        401,
        "invalid_token",
    )  # this project has no shared secret


def test_no_token_is_a_401_that_says_how_to_send_one(console: Console) -> None:
    response = console.http.get("/api/console/me")

    assert response.status_code == 401
    assert "Authorization: Bearer" in response.json()["error"]["message"]


def test_a_valid_token_of_someone_who_is_not_staff_is_forbidden(console: Console) -> None:
    stranger = console.auth.add_user("stranger@elsewhere.example", "pw-of-a-stranger")
    disabled = console.staff("Bea", active=False)

    token = console.sign_in("stranger@elsewhere.example", "pw-of-a-stranger")

    assert _me(console, token) == (403, "not_staff")
    assert _me(console, console.tokens[disabled]) == (403, "not_staff")
    assert stranger not in console.tokens


def test_a_rotated_key_is_fetched_once_when_a_token_first_names_it(database_url: str) -> None:
    with running_console(database_url, jwks_min_refresh_seconds=0) as console:
        ana = console.staff("Ana")
        assert console.get(ana, "/me").status_code == 200
        fetched = console.auth.requests_for(JWKS_PATH)

        new_kid = console.auth.rotate_key()
        token = console.auth.issue_token(ana)
        statuses = [_me(console, token)[0] for _ in range(3)]

        assert jwt.get_unverified_header(token)["kid"] == new_kid
        assert statuses == [200, 200, 200]
        assert console.auth.requests_for(JWKS_PATH) == fetched + 1


def test_unknown_key_ids_cannot_make_the_app_hammer_the_project(console: Console) -> None:
    ana = console.staff("Ana")
    fetched = console.auth.requests_for(JWKS_PATH)

    for _ in range(5):
        token = console.auth.issue_token(ana, signed_by_unknown_key=True, kid=uuid.uuid4().hex)
        assert _me(console, token) == (401, "invalid_token")

    assert console.auth.requests_for(JWKS_PATH) <= fetched + 1


@pytest.mark.parametrize("signed_with", [LEGACY_SECRET, "another-secret-" * 3])
def test_a_project_on_the_legacy_shared_secret(database_url: str, signed_with: str) -> None:
    with running_console(database_url, jwt_secret=LEGACY_SECRET) as console:
        ana = console.staff("Ana")
        token = legacy_hs256_token(signed_with, ana, issuer=console.auth.issuer)

        expected = (200, "agent") if signed_with == LEGACY_SECRET else (401, "invalid_token")
        assert _me(console, token) == expected
