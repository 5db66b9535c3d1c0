"""Settings the WhatsApp app composes from the core concerns, plus its reply jobs."""

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from talia_core.config import OpenAISettings, ServiceSettings, TwilioSettings

Keywords = Annotated[tuple[str, ...], NoDecode]


class WhatsAppSettings(BaseSettings):
    """How replies are queued, run and sent."""

    model_config = SettingsConfigDict(
        env_prefix="TALIA_WHATSAPP_", env_file=".env", extra="ignore", frozen=True
    )

    # Messages from one person with less than this between them are answered once, together.
    debounce_ms: int = Field(default=1500, ge=0, le=60_000)
    # Run the reply worker inside the web app; turn off when `talia-whatsapp worker` runs it.
    run_worker: bool = True
    worker_concurrency: int = Field(default=8, ge=1, le=200)
    # New jobs wake the worker at once (LISTEN/NOTIFY); debounced ones wait for this poll.
    poll_seconds: float = Field(default=0.5, gt=0, le=30)
    # A job whose worker stopped sending heartbeats this long ago is run again.
    stalled_after_seconds: float = Field(default=30.0, gt=0)
    heartbeat_seconds: float = Field(default=10.0, gt=0)
    max_attempts: int = Field(default=5, ge=1, le=20)
    max_media_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    # Words that, alone in a message, stop (or restart) messages to the person.
    opt_out_keywords: Keywords = ("baja", "stop", "unsubscribe", "cancelar suscripcion")
    opt_in_keywords: Keywords = ("alta", "start")

    @field_validator("opt_out_keywords", "opt_in_keywords", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(word.strip().lower() for word in value.split(",") if word.strip())
        return value


class Settings(ServiceSettings):
    """App, database, logging, Twilio, model and reply settings for the WhatsApp app."""

    twilio: TwilioSettings
    openai: OpenAISettings
    whatsapp: WhatsAppSettings
