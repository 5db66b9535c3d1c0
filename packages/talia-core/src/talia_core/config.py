"""Settings per concern, read from the environment and `.env`; one clear line on a bad value."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal, Self, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict
from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_PLACEHOLDER_SECRETS = frozenset({"changeme", "change-me", "secret", "password", "xxx", "todo"})


class ConfigError(Exception):
    """A required variable is missing or malformed; the message names it."""


def _settings_config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(
        env_prefix=prefix,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        populate_by_name=True,
    )


def _reject_placeholder(value: SecretStr | None) -> SecretStr | None:
    if value is not None and value.get_secret_value().strip().lower() in _PLACEHOLDER_SECRETS:
        raise ValueError("is a placeholder, set a real secret")
    return value


class AppSettings(BaseSettings):
    """What every app process needs: where it is reached and how it stops."""

    model_config = _settings_config("TALIA_")

    public_base_url: AnyHttpUrl | None = None
    assistant: str = "default"
    shutdown_grace_seconds: float = Field(default=10.0, ge=0, le=600)
    # The largest request body any endpoint reads; larger ones get a 413 before being read.
    max_body_bytes: int = Field(default=256 * 1024, ge=1024, le=16 * 1024 * 1024)
    # Addresses or networks of the reverse proxies whose X-Forwarded-For/-Proto are believed.
    # The client is the address the nearest trusted proxy appended, never one a client chose.
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()
    # Serve the OpenAPI documents and Swagger UI under each app's prefix (on in `talia dev`).
    api_docs: bool = False
    # An OTLP/HTTP collector's base URL (spans go to its /v1/traces); tracing is off unset.
    otlp_endpoint: AnyHttpUrl | None = Field(
        default=None, validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT"
    )

    @field_validator("public_base_url")
    @classmethod
    def _origin_only(cls, value: AnyHttpUrl | None) -> AnyHttpUrl | None:
        if value is not None and (value.path or "/") != "/":
            raise ValueError("must be an origin such as https://talia.example.com, without a path")
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _addresses(cls, value: object) -> object:
        if isinstance(value, str):
            value = tuple(part.strip() for part in value.split(",") if part.strip())
        if isinstance(value, tuple | list):
            for entry in value:
                try:
                    ipaddress.ip_network(str(entry), strict=False)
                except ValueError:
                    raise ValueError(
                        f"{entry!r} is not an IP address or network (a proxy you run; never *)"
                    ) from None
        return value

    @property
    def public_origin(self) -> str | None:
        """The public origin without a trailing slash, e.g. `https://talia.example.com`."""
        return str(self.public_base_url).rstrip("/") if self.public_base_url else None


class DatabaseSettings(BaseSettings):
    """The Postgres the app writes to (Supabase direct, session or transaction pooler)."""

    model_config = _settings_config("TALIA_DB_")

    database_url: SecretStr = Field(validation_alias="DATABASE_URL")
    pool_min_size: int = Field(default=1, ge=0)
    pool_max_size: int = Field(default=10, ge=1)
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    # How long a request waits for a free connection before it answers 503.
    checkout_timeout_seconds: float = Field(default=2.0, gt=0)
    # None: on, unless the URL goes through Supabase's transaction pooler (port 6543).
    prepared_statements: bool | None = None

    @field_validator("database_url")
    @classmethod
    def _is_postgres_url(cls, value: SecretStr) -> SecretStr:
        url = value.get_secret_value()
        if not url.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// connection URL")
        try:
            conninfo_to_dict(url)
        except psycopg.ProgrammingError:
            # libpq's message may quote the URL, password included: say what, not where.
            raise ValueError("is not a connection URL libpq can read") from None
        return value


class LoggingSettings(BaseSettings):
    """Log level and rendering: JSON in production, console for people."""

    model_config = _settings_config("TALIA_LOG_")

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "console"] = "json"

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class OpenAISettings(BaseSettings):
    """The OpenAI account; both variables are the ones the official SDK reads."""

    model_config = _settings_config("TALIA_OPENAI_")

    # Required: without it every reply would silently become the fallback text.
    api_key: SecretStr = Field(validation_alias="OPENAI_API_KEY")
    base_url: AnyHttpUrl | None = Field(default=None, validation_alias="OPENAI_BASE_URL")
    timeout_seconds: float = Field(default=30.0, gt=0)
    max_retries: int = Field(default=3, ge=0, le=10)

    _no_placeholder = field_validator("api_key")(_reject_placeholder)


class TwilioSettings(BaseSettings):
    """The Twilio account; the auth token also validates webhook signatures."""

    model_config = _settings_config("TWILIO_")

    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    auth_token: SecretStr
    api_base_url: AnyHttpUrl | None = None
    whatsapp_from: str | None = Field(default=None, pattern=r"^whatsapp:\+?[0-9A-Za-z.]+$")
    messaging_service_sid: str | None = Field(default=None, pattern=r"^MG[0-9a-fA-F]{32}$")
    # How long one REST call may take; a send past it is in doubt and settled by a retry.
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    _no_placeholder = field_validator("auth_token")(_reject_placeholder)


class WebchatSettings(BaseSettings):
    """Who may embed the widget and how its session tokens are signed."""

    model_config = _settings_config("TALIA_WEBCHAT_")

    allowed_origins: Annotated[tuple[str, ...], NoDecode] = ()
    session_secret: SecretStr = Field(min_length=32)
    session_ttl_seconds: int = Field(default=86_400, ge=60)
    max_text_chars: int = Field(default=4_000, ge=1, le=16_000)
    # Per minute, per process: messages of one session, requests of one IP, new sessions of one IP.
    session_messages_per_minute: int = Field(default=20, ge=1)
    ip_requests_per_minute: int = Field(default=120, ge=1)
    ip_sessions_per_minute: int = Field(default=10, ge=1)

    _no_placeholder = field_validator("session_secret")(_reject_placeholder)

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip().rstrip("/") for part in value.split(",") if part.strip())
        return value


S = TypeVar("S", bound=BaseSettings)
T = TypeVar("T", bound="ServiceSettings")


def load_settings(settings_class: type[S]) -> S:
    """Read one concern's settings; raise `ConfigError` naming every bad variable."""
    try:
        return settings_class()
    except ValidationError as exc:
        problems = [_describe(settings_class, error) for error in exc.errors()]
        raise ConfigError("; ".join(problems)) from None


def _describe(settings_class: type[BaseSettings], error: Any) -> str:
    field_name = str(error["loc"][0]) if error["loc"] else ""
    variable = _variable_name(settings_class, field_name)
    if error["type"] == "missing":
        return f"{variable} is required but not set"
    return f"{variable} is invalid: {error['msg']}"


def _variable_name(settings_class: type[BaseSettings], loc: str) -> str:
    """The environment variable behind an error location (a field name or its alias)."""
    for name, field in settings_class.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, str) and loc in {name, alias}:
            return alias
    prefix = str(settings_class.model_config.get("env_prefix", ""))
    return f"{prefix}{loc}".upper()


class ServiceSettings(BaseModel):
    """The concerns every app composes; an app subclasses it to add its own."""

    model_config = ConfigDict(frozen=True)

    app: AppSettings
    database: DatabaseSettings
    logging: LoggingSettings

    @classmethod
    def from_env(cls) -> Self:
        """Load every concern; one `ConfigError` lists all that is wrong."""
        values: dict[str, BaseSettings] = {}
        problems: list[str] = []
        for name, field in cls.model_fields.items():
            settings_class = field.annotation
            if not (isinstance(settings_class, type) and issubclass(settings_class, BaseSettings)):
                raise TypeError(f"{cls.__name__}.{name} must be a BaseSettings class")
            try:
                values[name] = load_settings(settings_class)
            except ConfigError as exc:
                problems.append(str(exc))
        if problems:
            raise ConfigError("; ".join(problems))
        return cls.model_validate(values)


def settings_or_exit(settings_class: type[T]) -> T:
    """Load settings at start-up, or stop the process with one line (no traceback)."""
    try:
        return settings_class.from_env()
    except ConfigError as exc:
        raise SystemExit(f"talia: configuration error: {exc}") from None
