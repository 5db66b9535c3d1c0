"""A call's transcript: turns kept in conversation order and stored off the audio path."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Literal

import psycopg
import structlog
from psycopg_pool import PoolTimeout

from talia_core.repositories.errors import InvalidRecord, RecordNotFound, TextTooLong
from talia_core.repositories.llamadas import LlamadasRepository
from talia_core.retries import Backoff
from talia_voice.playback import BYTES_PER_MS, Playback

log = structlog.stdlib.get_logger("talia.voice.transcript")

Role = Literal["user", "assistant"]
# A database blip is ridden out for about 4 s: retries 0.25, 0.5, 1 and 2 s apart.
STORE_BACKOFF = Backoff(attempts=5, first_wait=0.25, longest_wait=3.0)


@dataclass
class _Turn:
    item_id: str
    role: Role
    text: str = ""
    final: bool = False
    generated: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)


def cut_to_heard(text: str, *, heard_ms: int, generated_ms: int) -> str:
    """The part of `text` the caller heard, assuming speech evenly spread over the audio."""
    if generated_ms <= 0 or heard_ms >= generated_ms:
        return text
    keep = int(len(text) * heard_ms / generated_ms)
    if keep >= len(text):
        return text
    head = text[:keep]
    # Never end on half a word: the caller did not hear a word that was cut.
    if not text[keep].isspace():
        head = head.rsplit(None, 1)[0] if " " in head.strip() else ""
    return head.rstrip(" ,;:")


class Transcript:
    """Turns in the order they entered the conversation; each is stored once it and every
    turn before it are final, by a writer task, so the database never delays audio.

    An assistant turn is final once the caller has heard all of it (Twilio returned the
    marks after its audio) or once it was cut short.
    """

    def __init__(self, store: LlamadasRepository, *, call_sid: str, playback: Playback) -> None:
        self._store = store
        self._call_sid = call_sid
        self._playback = playback
        self._turns: list[_Turn] = []
        self._by_item: dict[str, _Turn] = {}
        self._ready: asyncio.Queue[_Turn | None] = asyncio.Queue()
        self._stored = 0
        self._writer = asyncio.create_task(self._write(), name="transcript-writer")

    def _add(self, item_id: str, role: Role) -> _Turn:
        turn = self._by_item.get(item_id)
        if turn is None:
            turn = _Turn(item_id, role)
            self._turns.append(turn)
            self._by_item[item_id] = turn
        return turn

    def caller_turn(self, item_id: str) -> None:
        """The caller's audio became a conversation item (its text comes later)."""
        self._add(item_id, "user")

    def caller_said(self, item_id: str, text: str | None) -> None:
        """The caller's words (None: transcription failed, the turn holds no text)."""
        turn = self._add(item_id, "user")
        turn.text, turn.final = (text or "").strip(), True
        self.release()

    def assistant_turn(self, item_id: str) -> None:
        """The assistant started a spoken reply."""
        self._add(item_id, "assistant")

    def assistant_said(self, item_id: str, delta: str) -> None:
        """More of the reply's transcript."""
        turn = self._add(item_id, "assistant")
        if not turn.final:
            turn.text += delta

    def assistant_finished(self, item_id: str, transcript: str | None = None) -> None:
        """The reply was generated in full (it may still be playing)."""
        turn = self._add(item_id, "assistant")
        if not turn.final:
            turn.text = (transcript if transcript is not None else turn.text).strip()
            turn.generated = True
            self.release()

    def spoken(self, text: str) -> None:
        """Words the caller heard that the model did not generate (Twilio's greeting)."""
        turn = self._add(f"said-{len(self._turns)}", "assistant")
        turn.text, turn.final = text, True
        self.release()

    def assistant_cut(self, item_id: str, *, heard_ms: int, generated_ms: int) -> None:
        """The caller talked over the reply: keep only what they heard."""
        turn = self._add(item_id, "assistant")
        if turn.final:
            return
        turn.text = cut_to_heard(turn.text.strip(), heard_ms=heard_ms, generated_ms=generated_ms)
        turn.metadata = {"interrupted": True, "heard_ms": heard_ms}
        turn.final = True
        self.release()

    def finish_open_replies(self) -> None:
        """A response ended: replies still generating keep the text they have."""
        for turn in self._turns:
            if turn.role == "assistant" and not turn.final:
                turn.text, turn.generated = turn.text.strip(), True
        self.release()

    async def close(self) -> None:
        """Store every turn left, replies cut to what was heard, and stop the writer."""
        for turn in list(self._turns):
            if turn.role == "assistant" and not self._is_final(turn):
                sent = self._playback.sent.get(turn.item_id, 0)
                heard = self._playback.played.get(turn.item_id, 0)
                self.assistant_cut(
                    turn.item_id,
                    heard_ms=heard // BYTES_PER_MS,
                    generated_ms=sent // BYTES_PER_MS,
                )
            turn.final = True
        self.release()
        self._ready.put_nowait(None)
        await self._writer

    def _is_final(self, turn: _Turn) -> bool:
        if turn.final or turn.role == "user" or not turn.generated:
            return turn.final
        return self._playback.has_played(turn.item_id)

    def release(self) -> None:
        """Queue for storage the turns at the head that are final (call after each mark)."""
        while self._turns and self._is_final(self._turns[0]):
            turn = self._turns.pop(0)
            del self._by_item[turn.item_id]
            if turn.text:
                self._ready.put_nowait(turn)

    async def _write(self) -> None:
        while (turn := await self._ready.get()) is not None:
            self._stored += 1
            await self._store_turn(turn, self._stored)

    async def _store_turn(self, turn: _Turn, sequence: int) -> None:
        try:
            await STORE_BACKOFF.call(
                _database_blip,
                "turn_store",
                self._store.record_turn,
                call_sid=self._call_sid,
                sequence=sequence,
                role=turn.role,
                text=turn.text,
                metadata=turn.metadata,
            )
        except (InvalidRecord, RecordNotFound, TextTooLong) as exc:
            log.warning("turn_not_stored", role=turn.role, error=type(exc).__name__)
        except (psycopg.Error, PoolTimeout) as exc:
            log.error("turn_not_stored", role=turn.role, error=type(exc).__name__)


def _database_blip(exc: BaseException) -> bool:
    """A database failure another try may not meet (a refused turn is never retried)."""
    return isinstance(exc, psycopg.Error | PoolTimeout)
