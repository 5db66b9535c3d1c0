"""Settings the Web chat app composes from the core concerns."""

from talia_core.config import OpenAISettings, ServiceSettings, WebchatSettings


class Settings(ServiceSettings):
    """App, database, logging, model and widget settings for the Web chat app."""

    webchat: WebchatSettings
    openai: OpenAISettings
