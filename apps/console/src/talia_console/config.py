"""Settings the console app composes from the core concerns, plus Supabase Auth's."""

from __future__ import annotations

from pydantic import AnyHttpUrl, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from talia_core.config import OpenAISettings, ServiceSettings, TwilioSettings
from talia_core.webhooks import WebhookSettings


class SupabaseAuthSettings(BaseSettings):
    """Where staff access tokens come from, and how they are verified."""

    model_config = SettingsConfigDict(
        env_prefix="SUPABASE_", env_file=".env", extra="ignore", frozen=True
    )

    url: AnyHttpUrl
    # Public, not a secret: the console page signs staff in with it.
    anon_key: str | None = Field(default=None, max_length=1000)
    # Only for projects still signing with the legacy shared secret (HS256).
    jwt_secret: SecretStr | None = None
    # How long the project's signing keys are trusted before they are fetched again; an
    # unknown key id fetches them at once, at most every `jwks_min_refresh_seconds`.
    jwks_cache_seconds: float = Field(default=600.0, gt=0)
    jwks_min_refresh_seconds: float = Field(default=30.0, ge=0)
    # Clock skew allowed on `exp`/`iat`.
    leeway_seconds: float = Field(default=30.0, ge=0, le=300)

    @field_validator("url")
    @classmethod
    def _project_root(cls, value: AnyHttpUrl) -> AnyHttpUrl:
        if (value.path or "/") != "/":
            raise ValueError("must be the project URL, such as https://abcd.supabase.co")
        return value

    @property
    def issuer(self) -> str:
        """The `iss` Supabase Auth writes in its tokens."""
        return f"{str(self.url).rstrip('/')}/auth/v1"

    @property
    def jwks_url(self) -> str:
        """The project's public signing keys."""
        return f"{self.issuer}/.well-known/jwks.json"


class ConsoleSettings(BaseSettings):
    """Limits of the console API."""

    model_config = SettingsConfigDict(
        env_prefix="TALIA_CONSOLE_", env_file=".env", extra="ignore", frozen=True
    )

    page_size: int = Field(default=50, ge=1, le=200)
    max_reply_chars: int = Field(default=4_000, ge=1, le=16_000)
    # A forgotten person's OpenAI and Twilio records that could not be deleted at once are
    # tried again after this wait, doubling each time (up to 6 h), looked for this often.
    erasure_retry_seconds: float = Field(default=60.0, gt=0)
    erasure_poll_seconds: float = Field(default=30.0, gt=0)


class Settings(ServiceSettings):
    """App, database, logging, Supabase Auth, console, webhook, OpenAI and Twilio settings for
    the console app."""

    supabase: SupabaseAuthSettings
    console: ConsoleSettings
    webhooks: WebhookSettings
    # To delete what they keep of a forgotten person.
    openai: OpenAISettings
    twilio: TwilioSettings
