"""What the text engine yields while it answers."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TextDelta:
    """A piece of the reply, as the model produced it."""

    text: str


@dataclass(frozen=True)
class ReplyFinished:
    """The end of a turn. `text` is what was stored and is the truth to show.

    With `fallback`, the model failed and `text` is the profile's fallback (earlier deltas,
    if any, are superseded). With `handed_off`, staff has the conversation: the assistant
    stops answering, and `notice` is the profile's text saying so (for screens, not a message).
    """

    text: str
    message_id: int | None
    fallback: bool = False
    handed_off: bool = False
    notice: str | None = None
    usage: dict[str, int] = field(default_factory=dict)


EngineEvent = TextDelta | ReplyFinished
