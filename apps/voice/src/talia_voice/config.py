"""Settings the Voice app composes from the core concerns, plus its own call limits."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from talia_core.config import OpenAISettings, ServiceSettings, TwilioSettings


class CallSettings(BaseSettings):
    """Limits of phone calls handled by one process."""

    model_config = SettingsConfigDict(
        env_prefix="TALIA_VOICE_", env_file=".env", extra="ignore", frozen=True
    )

    max_concurrent_calls: int = Field(default=50, ge=1)
    max_call_seconds: float = Field(default=1800, gt=0)
    # Nobody has spoken for this long: the call ends with the profile's goodbye.
    max_silence_seconds: float = Field(default=30.0, gt=0)
    # On SIGTERM, live calls may go on this long before they are ended politely.
    drain_seconds: float = Field(default=120.0, ge=0, le=3600)
    stream_token_ttl_seconds: int = Field(default=60, ge=5, le=600)
    # Twilio sends `connected` and `start` as soon as the stream opens; a socket that has
    # not started by then is closed.
    stream_start_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    # Twilio signs the Media Streams upgrade; relax only while diagnosing a proxy.
    require_stream_signature: bool = True


class Settings(ServiceSettings):
    """App, database, logging, Twilio, model and call settings for the Voice app."""

    twilio: TwilioSettings
    openai: OpenAISettings
    calls: CallSettings
