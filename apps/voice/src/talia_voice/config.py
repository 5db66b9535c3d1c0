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
    max_call_seconds: int = Field(default=1800, ge=10)
    stream_token_ttl_seconds: int = Field(default=60, ge=5, le=600)
    # Twilio signs the Media Streams upgrade; relax only while diagnosing a proxy.
    require_stream_signature: bool = True


class Settings(ServiceSettings):
    """App, database, logging, Twilio, model and call settings for the Voice app."""

    twilio: TwilioSettings
    openai: OpenAISettings
    calls: CallSettings
