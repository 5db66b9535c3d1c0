"""Settings the WhatsApp app composes from the core concerns."""

from talia_core.config import ServiceSettings


class Settings(ServiceSettings):
    """App, database and logging settings for the WhatsApp app."""
