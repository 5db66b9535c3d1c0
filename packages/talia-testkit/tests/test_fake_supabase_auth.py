"""The fake Supabase Auth, over real HTTP, its tokens checked with PyJWT against its JWKS."""

from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID, uuid4

import httpx
import jwt
import pytest

from talia_testkit.fake_supabase_auth import (
    JWKS_PATH,
    FakeSupabaseAuth,
    legacy_hs256_token,
    run_fake_supabase_auth,
)

EMAIL = "ana@example.com"
PASSWORD = "contraseña correcta"  # not ASCII, as passwords may be


@pytest.fixture
def fake() -> Iterator[FakeSupabaseAuth]:
    with run_fake_supabase_auth() as served:
        yield served


@pytest.fixture
def http(fake: FakeSupabaseAuth) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.base_url, headers={"apikey": fake.anon_key}) as client:
        yield client


def _sign_in(http: httpx.Client, email: str = EMAIL, password: str = PASSWORD) -> httpx.Response:
    return http.post(
        "/auth/v1/token",
        params={"grant_type": "password"},
        json={"email": email, "password": password},
    )


def _refresh(http: httpx.Client, refresh_token: str) -> httpx.Response:
    return http.post(
        "/auth/v1/token",
        params={"grant_type": "refresh_token"},
        json={"refresh_token": refresh_token},
    )


def _verify(fake: FakeSupabaseAuth, token: str) -> dict[str, Any]:
    """Verify as a backend would: the served JWKS, audience "authenticated", the issuer."""
    jwks = jwt.PyJWKSet(httpx.get(fake.base_url + JWKS_PATH).json()["keys"])
    key = jwks[jwt.get_unverified_header(token)["kid"]]
    return jwt.decode(
        token, key, algorithms=["ES256"], audience="authenticated", issuer=fake.issuer
    )


def test_password_sign_in_gives_a_token_that_verifies_against_the_served_jwks(
    fake: FakeSupabaseAuth, http: httpx.Client
) -> None:
    user_id = fake.add_user(EMAIL, PASSWORD)

    response = _sign_in(http)

    assert response.status_code == 200
    session = response.json()
    assert session["token_type"] == "bearer"
    assert session["expires_in"] == 3600
    assert session["user"]["id"] == str(user_id)
    assert session["user"]["aud"] == session["user"]["role"] == "authenticated"
    assert session["user"]["email"] == EMAIL
    header = jwt.get_unverified_header(session["access_token"])
    assert header == {"alg": "ES256", "kid": fake.keys[-1].kid, "typ": "JWT"}
    claims = _verify(fake, session["access_token"])
    assert claims["iss"] == f"{fake.base_url}/auth/v1"
    assert claims["sub"] == str(user_id)
    assert claims["exp"] == session["expires_at"] == claims["iat"] + 3600
    assert (claims["email"], claims["role"], claims["aal"]) == (EMAIL, "authenticated", "aal1")
    assert claims["is_anonymous"] is False
    assert UUID(claims["session_id"])
    assert claims["app_metadata"] == {"provider": "email", "providers": ["email"]}


def test_the_jwks_publishes_public_ec_keys_without_an_apikey(fake: FakeSupabaseAuth) -> None:
    response = httpx.get(fake.base_url + JWKS_PATH)

    assert response.status_code == 200
    [key] = response.json()["keys"]
    assert {k: key[k] for k in ("kty", "crv", "alg", "use", "key_ops", "kid")} == {
        "kty": "EC",
        "crv": "P-256",
        "alg": "ES256",
        "use": "sig",
        "key_ops": ["verify"],
        "kid": fake.keys[0].kid,
    }
    assert "d" not in key
    assert fake.requests_for(JWKS_PATH) == 1


@pytest.mark.parametrize(("email", "password"), [(EMAIL, "wrong"), ("nadie@example.com", PASSWORD)])
def test_wrong_credentials_get_gotrue_invalid_credentials(
    fake: FakeSupabaseAuth, http: httpx.Client, email: str, password: str
) -> None:
    fake.add_user(EMAIL, PASSWORD)

    response = _sign_in(http, email, password)

    assert response.status_code == 400
    assert response.json() == {
        "code": 400,
        "error_code": "invalid_credentials",
        "msg": "Invalid login credentials",
    }


def test_clients_on_api_version_2024_01_01_get_that_error_shape(
    fake: FakeSupabaseAuth, http: httpx.Client
) -> None:
    http.headers["X-Supabase-Api-Version"] = "2024-01-01"

    response = _sign_in(http)

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid_credentials",
        "message": "Invalid login credentials",
    }


@pytest.mark.parametrize(
    ("headers", "message"),
    [({}, "No API key found in request"), ({"apikey": "sb_publishable_other"}, "Invalid API key")],
)
def test_the_token_endpoint_needs_the_anon_key(
    fake: FakeSupabaseAuth, headers: dict[str, str], message: str
) -> None:
    fake.add_user(EMAIL, PASSWORD)

    response = httpx.post(
        fake.base_url + "/auth/v1/token?grant_type=password",
        headers=headers,
        json={"email": EMAIL, "password": PASSWORD},
    )

    assert response.status_code == 401
    assert response.json()["message"] == message


def test_refresh_rotates_and_a_used_refresh_token_ends_the_session(
    fake: FakeSupabaseAuth, http: httpx.Client
) -> None:
    fake.add_user(EMAIL, PASSWORD)
    first = _sign_in(http).json()

    second = _refresh(http, first["refresh_token"])
    reused = _refresh(http, first["refresh_token"])
    after_reuse = _refresh(http, second.json()["refresh_token"])

    assert second.status_code == 200
    assert second.json()["refresh_token"] != first["refresh_token"]
    session_id = _verify(fake, first["access_token"])["session_id"]
    assert _verify(fake, second.json()["access_token"])["session_id"] == session_id
    assert (reused.status_code, reused.json()["error_code"]) == (400, "refresh_token_already_used")
    assert after_reuse.status_code == 400
    assert after_reuse.json()["error_code"] == "refresh_token_not_found"


def test_user_answers_for_a_live_session_and_logout_revokes_it(
    fake: FakeSupabaseAuth, http: httpx.Client
) -> None:
    user_id = fake.add_user(EMAIL, PASSWORD)
    session = _sign_in(http).json()
    bearer = {"Authorization": f"Bearer {session['access_token']}"}

    user = http.get("/auth/v1/user", headers=bearer)
    logout = http.post("/auth/v1/logout", headers=bearer)
    after = http.get("/auth/v1/user", headers=bearer)
    refresh = _refresh(http, session["refresh_token"])

    assert (user.status_code, user.json()["id"]) == (200, str(user_id))
    assert logout.status_code == 204
    assert (after.status_code, after.json()["error_code"]) == (403, "session_not_found")
    assert (refresh.status_code, refresh.json()["error_code"]) == (400, "refresh_token_not_found")


def test_user_without_a_bearer_token_is_refused(http: httpx.Client) -> None:
    response = http.get("/auth/v1/user")

    assert (response.status_code, response.json()["error_code"]) == (401, "no_authorization")


def test_rotate_key_publishes_both_kids_and_signs_with_the_new_one(
    fake: FakeSupabaseAuth, http: httpx.Client
) -> None:
    fake.add_user(EMAIL, PASSWORD)
    old_token = _sign_in(http).json()["access_token"]
    old_kid = jwt.get_unverified_header(old_token)["kid"]

    new_kid = fake.rotate_key()
    new_token = _sign_in(http).json()["access_token"]

    kids = [key["kid"] for key in httpx.get(fake.base_url + JWKS_PATH).json()["keys"]]
    assert new_kid != old_kid
    assert kids == [old_kid, new_kid]
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid
    assert _verify(fake, old_token)["sub"] == _verify(fake, new_token)["sub"]
    assert fake.requests_for(JWKS_PATH) == 3


@pytest.mark.parametrize(
    ("mint", "error"),
    [
        (lambda f, u: f.issue_token(u, expires_in=-60), jwt.ExpiredSignatureError),
        (lambda f, u: f.issue_token(u, signed_by_unknown_key=True), jwt.InvalidSignatureError),
        (
            lambda f, u: f.issue_token(u, issuer="https://other.supabase.co/auth/v1"),
            jwt.InvalidIssuerError,
        ),
        (lambda f, u: f.issue_token(u, audience="anon"), jwt.InvalidAudienceError),
    ],
    ids=["expired", "forged", "wrong-issuer", "wrong-audience"],
)
def test_issued_test_tokens_fail_verification_as_asked(
    fake: FakeSupabaseAuth,
    mint: Callable[[FakeSupabaseAuth, UUID], str],
    error: type[Exception],
) -> None:
    user_id = fake.add_user(EMAIL, PASSWORD)

    with pytest.raises(error):
        _verify(fake, mint(fake, user_id))


def test_issued_tokens_verify_by_default_and_an_unknown_kid_is_not_in_the_jwks(
    fake: FakeSupabaseAuth, http: httpx.Client
) -> None:
    user_id = fake.add_user(EMAIL, PASSWORD)
    token = fake.issue_token(user_id)

    assert _verify(fake, token)["email"] == EMAIL
    assert (
        http.get("/auth/v1/user", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    )
    with pytest.raises(KeyError):
        _verify(fake, fake.issue_token(user_id, signed_by_unknown_key=True, kid="retired"))


def test_legacy_hs256_tokens_verify_with_the_shared_secret_only(
    fake: FakeSupabaseAuth, http: httpx.Client
) -> None:
    secret = "super-secret-jwt-token-with-at-least-32-characters"
    user_id = uuid4()

    token = legacy_hs256_token(secret, user_id, issuer=fake.issuer, email=EMAIL)

    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    claims = jwt.decode(
        token, secret, algorithms=["HS256"], audience="authenticated", issuer=fake.issuer
    )
    assert (claims["sub"], claims["role"]) == (str(user_id), "authenticated")
    refused = http.get("/auth/v1/user", headers={"Authorization": f"Bearer {token}"})
    assert (refused.status_code, refused.json()["error_code"]) == (403, "bad_jwt")
