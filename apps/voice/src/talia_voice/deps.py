"""Dependencies of the Voice endpoints, as `Annotated` aliases."""

from typing import Annotated

from fastapi import Depends

from talia_core.deps import Core
from talia_voice.config import Settings


def get_settings(core: Core) -> Settings:
    """The settings this app was built with."""
    if not isinstance(core.settings, Settings):
        raise TypeError("the app was built with another app's settings")
    return core.settings


AppSettings = Annotated[Settings, Depends(get_settings)]
