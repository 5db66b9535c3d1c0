"""WhatsApp endpoints under `/api/whatsapp`; each arrives with the channel's own issue."""

from fastapi import APIRouter

router = APIRouter(prefix="/api/whatsapp", tags=["whatsapp"])
