"""Fields of a signed Twilio form, read by kind (`talia_core.text`): identifiers whole or
refused with a 400, free text without NUL bytes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from talia_core.errors import BadRequest
from talia_core.text import clean_text, is_identifier


class InvalidForm(BadRequest):
    code = "invalid_form"
    message = "The form is not a valid Twilio webhook."


def form_text(form: Mapping[str, Any], name: str, *, required: bool = False) -> str:
    """A free-text field, stripped and without NUL bytes."""
    value = form.get(name)
    text = clean_text(value).strip() if isinstance(value, str) else ""
    if required and not text:
        raise InvalidForm(f"{name} is required")
    return text


def form_identifier(form: Mapping[str, Any], name: str, *, required: bool = False) -> str:
    """An identifier field, whole: a control character or an overlong value is a 400."""
    value = form.get(name)
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        if required:
            raise InvalidForm(f"{name} is required")
        return ""
    if not is_identifier(text):
        raise InvalidForm(f"{name} is not a valid identifier")
    return text


def form_count(form: Mapping[str, Any], name: str, *, most: int) -> int:
    """A whole number from 0 to `most`; absent is 0, anything else a 400."""
    text = form_text(form, name) or "0"
    if not text.isdigit() or len(text) > len(str(most)) or int(text) > most:
        raise InvalidForm(f"{name} must be a whole number from 0 to {most}")
    return int(text)
