"""Web chat endpoints under `/api/webchat`; each arrives with the channel's own issue."""

from fastapi import APIRouter

router = APIRouter(prefix="/api/webchat", tags=["webchat"])
