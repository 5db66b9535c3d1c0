"""The official `openai` SDK client, with our timeouts and retry budget."""

from __future__ import annotations

from openai import AsyncOpenAI, Timeout

from talia_core.config import OpenAISettings


def create_openai_client(settings: OpenAISettings) -> AsyncOpenAI:
    """An `AsyncOpenAI` that retries 408/409/429/5xx and connection errors with backoff."""
    return AsyncOpenAI(
        api_key=settings.api_key.get_secret_value(),
        base_url=str(settings.base_url).rstrip("/") if settings.base_url else None,
        timeout=Timeout(settings.timeout_seconds, connect=5.0),
        max_retries=settings.max_retries,
    )
