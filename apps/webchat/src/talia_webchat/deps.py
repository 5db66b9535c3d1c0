"""Dependencies of the Web chat endpoints, as `Annotated` aliases."""

from typing import Annotated, cast

from fastapi import Depends

from talia_core.deps import Core
from talia_webchat.config import Settings


def get_settings(core: Core) -> Settings:
    """The settings this app was built with."""
    return cast(Settings, core.settings)


AppSettings = Annotated[Settings, Depends(get_settings)]
