"""Long replies cut into WhatsApp-sized parts, at sentence or word boundaries."""

from __future__ import annotations

import re

# Twilio refuses a WhatsApp body over 1,600 characters.
MAX_BODY_CHARS = 1600
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n\s*\n")


def split_reply(text: str, limit: int = MAX_BODY_CHARS) -> list[str]:
    """`text` in order as parts of at most `limit` characters, cut between paragraphs or
    sentences when possible, else between words, and only inside a word that is too long."""
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = _cut_point(rest, limit)
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts


def _cut_point(text: str, limit: int) -> int:
    window = text[: limit + 1]
    sentence_ends = [m.end() for m in _SENTENCE_END.finditer(window) if m.end() <= limit]
    # A sentence break is used unless it would leave a tiny first part.
    if sentence_ends and sentence_ends[-1] > limit // 2:
        return sentence_ends[-1]
    space = window.rfind(" ", 0, limit + 1)
    if space > 0:
        return space
    return limit
