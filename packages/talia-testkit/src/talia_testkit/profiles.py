"""Throwaway assistant profiles for tests: placeholder texts, never a real assistant."""

from __future__ import annotations

from typing import Any


def throwaway_profile(**changes: Any) -> dict[str, Any]:
    """A complete, valid profile mapping with test placeholders; `changes` override keys."""
    profile: dict[str, Any] = {
        "key": "tienda",
        "model": "gpt-test",
        "instructions": "test instructions",
        "greeting": "test greeting",
        "fallback": {"default": "test fallback text"},
        "voice": "test-voice",
        "realtime_model": "gpt-realtime-test",
        "tools": ["guardar_lead", "solicitar_humano"],
    }
    return {**profile, **changes}
