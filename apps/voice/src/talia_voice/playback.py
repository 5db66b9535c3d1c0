"""What the caller has actually heard, from the marks Twilio returns after playing audio."""

from __future__ import annotations

from dataclasses import dataclass, field

# G.711 mu-law at 8 kHz: one byte per sample, 8 bytes per millisecond.
BYTES_PER_MS = 8


@dataclass
class Playback:
    """Bytes of assistant audio sent to Twilio and confirmed played, per Realtime item."""

    sent: dict[str, int] = field(default_factory=dict)
    played: dict[str, int] = field(default_factory=dict)
    current_item: str | None = None
    cleared: set[str] = field(default_factory=set)

    def record_sent(self, item_id: str, size: int) -> str:
        """Count `size` more bytes of `item_id`; returns the mark name to send after them."""
        self.current_item = item_id
        total = self.sent.get(item_id, 0) + size
        self.sent[item_id] = total
        return f"{item_id}:{total}"

    def record_mark(self, name: str) -> None:
        """Twilio played the audio up to this mark (marks after a `clear` mean dropped)."""
        item_id, _, total = name.rpartition(":")
        if item_id in self.cleared or not total.isdigit():
            return
        self.played[item_id] = max(self.played.get(item_id, 0), int(total))

    def has_played(self, item_id: str) -> bool:
        """Whether every byte of `item_id` sent so far has played (or none was sent)."""
        return self.played.get(item_id, 0) >= self.sent.get(item_id, 0)

    def is_speaking(self) -> bool:
        """Whether audio of the current item is still queued at Twilio."""
        item = self.current_item
        return item is not None and self.sent.get(item, 0) > self.played.get(item, 0)

    def interrupt(self) -> tuple[str, int] | None:
        """Stop the current item: its id and the milliseconds the caller heard."""
        item = self.current_item
        if item is None:
            return None
        self.cleared.add(item)
        self.current_item = None
        return item, self.played.get(item, 0) // BYTES_PER_MS
