"""Dependencies of the WhatsApp endpoints, as `Annotated` aliases."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from talia_core.ai.engine import TextEngine
from talia_core.deps import app_state
from talia_core.repositories.contactos import ContactosRepository
from talia_core.repositories.eventos import EventosRepository
from talia_core.repositories.mensajes import MensajesRepository
from talia_whatsapp.config import Settings
from talia_whatsapp.inbound import InboundWriter
from talia_whatsapp.metrics import ReplyMetrics


@dataclass
class WhatsAppState:
    """What the WhatsApp lifespan opened for the endpoints."""

    settings: Settings
    inbound: InboundWriter
    engine: TextEngine
    contactos: ContactosRepository
    mensajes: MensajesRepository
    eventos: EventosRepository
    metrics: ReplyMetrics


get_state = app_state("whatsapp", WhatsAppState)
State = Annotated[WhatsAppState, Depends(get_state)]
