"""Voice endpoints under `/api/voice`; each arrives with the channel's own issue."""

from fastapi import APIRouter

router = APIRouter(prefix="/api/voice", tags=["voice"])
