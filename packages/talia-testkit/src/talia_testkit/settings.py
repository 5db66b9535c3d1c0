"""Settings for tests, built from values only (no `.env` read)."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from talia_core.config import (
    AppSettings,
    DatabaseSettings,
    LoggingSettings,
    OpenAISettings,
    TwilioSettings,
    WebchatSettings,
)

TEST_PUBLIC_BASE_URL = "https://talia.example.com"


def app_settings(**overrides: Any) -> AppSettings:
    """App settings with a public base URL, as behind the production proxy."""
    values: dict[str, Any] = {"public_base_url": TEST_PUBLIC_BASE_URL, **overrides}
    return AppSettings(_env_file=None, **values)


def database_settings(database_url: str, **overrides: Any) -> DatabaseSettings:
    """Database settings for `database_url` with a small pool."""
    values: dict[str, Any] = {"database_url": database_url, "pool_max_size": 4, **overrides}
    return DatabaseSettings(_env_file=None, **values)


def logging_settings(**overrides: Any) -> LoggingSettings:
    """JSON logs, as in production, so tests see what operators see."""
    values: dict[str, Any] = {"format": "json", "level": "INFO", **overrides}
    return LoggingSettings(_env_file=None, **values)


def openai_settings(base_url: str | None = None, **overrides: Any) -> OpenAISettings:
    """The SDK pointed at a fake model, with fast retries."""
    values: dict[str, Any] = {
        "api_key": SecretStr("sk-test"),
        "base_url": base_url,
        "max_retries": 2,
        **overrides,
    }
    return OpenAISettings(_env_file=None, **values)


def webchat_settings(**overrides: Any) -> WebchatSettings:
    """Widget settings with one allowed origin and a test secret."""
    values: dict[str, Any] = {
        "allowed_origins": ("https://shop.example",),
        "session_secret": SecretStr("s" * 40),
        **overrides,
    }
    return WebchatSettings(_env_file=None, **values)


def twilio_settings(api_base_url: str | None = None, **overrides: Any) -> TwilioSettings:
    """The test account (the signer's auth token), optionally pointed at a fake Twilio."""
    from talia_testkit.plugin import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN

    values: dict[str, Any] = {
        "account_sid": TEST_ACCOUNT_SID,
        "auth_token": SecretStr(TEST_AUTH_TOKEN),
        "api_base_url": api_base_url,
        **overrides,
    }
    return TwilioSettings(_env_file=None, **values)


TEST_WHATSAPP_FROM = "whatsapp:+14155238886"
