"""Caller audio for the simulator: 8 kHz G.711 mu-law, as Twilio streams it.

Speech is made with espeak-ng and converted with sox; a WAV that is already 8 kHz, mono,
16-bit is encoded here without either tool.
"""

from __future__ import annotations

import array
import shutil
import subprocess
import sys
import wave
from pathlib import Path

SAMPLE_RATE = 8000
FRAME_BYTES = 160  # 20 ms
SILENCE = b"\xff"  # mu-law zero

_BIAS = 0x84
_CLIP = 32635


class AudioError(Exception):
    """The caller's audio could not be made, in words for the terminal."""


def mulaw_byte(sample: int) -> int:
    """One 16-bit linear sample as a G.711 mu-law byte."""
    sign = 0x80 if sample < 0 else 0
    magnitude = min(-sample if sign else sample, _CLIP) + _BIAS
    exponent = (magnitude >> 7).bit_length() - 1
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | exponent << 4 | mantissa) & 0xFF


def encode_mulaw(samples: array.array[int]) -> bytes:
    """Linear 16-bit samples as mu-law bytes."""
    return bytes(mulaw_byte(sample) for sample in samples)


def frames(audio: bytes) -> list[bytes]:
    """20 ms frames; the last one padded with silence."""
    padded = audio + SILENCE * (-len(audio) % FRAME_BYTES)
    return [padded[i : i + FRAME_BYTES] for i in range(0, len(padded), FRAME_BYTES)]


def _voiced(frame: bytes) -> bool:
    # Mean mu-law magnitude (0..127); below 16 is near digital silence.
    return sum(0x7F - (b & 0x7F) for b in frame) >= 16 * len(frame)


def voiced_span(chunks: list[bytes]) -> tuple[int, int]:
    """Frame indexes where speech starts and just after it ends (silence around it excluded)."""
    voiced = [index for index, frame in enumerate(chunks) if _voiced(frame)]
    return (voiced[0], voiced[-1] + 1) if voiced else (0, 0)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise AudioError(
            f"{name} not found: install it (apt-get install espeak-ng sox) or pass --wav FILE"
        )
    return path


def _run(command: list[str], stdin: bytes | None = None) -> bytes:
    # An argument list, no shell: the text is espeak-ng's argument, never a command.
    result = subprocess.run(  # noqa: S603
        command, input=stdin, capture_output=True, check=False, timeout=60
    )
    if result.returncode != 0:
        problem = result.stderr.decode(errors="replace").strip().splitlines()
        raise AudioError(f"{Path(command[0]).name} failed: {problem[-1] if problem else '?'}")
    return result.stdout


def _sox_to_mulaw(source: list[str], stdin: bytes | None = None) -> bytes:
    target = ["-t", "raw", "-r", str(SAMPLE_RATE), "-c", "1", "-e", "mu-law", "-b", "8", "-"]
    return _run([_tool("sox"), *source, *target], stdin)


def speech_from_text(text: str, voice: str) -> bytes:
    """`text` spoken by espeak-ng in `voice` (a language such as `es` or `en`), as mu-law."""
    spoken = _run([_tool("espeak-ng"), "-v", voice, "--stdout", text])
    return _sox_to_mulaw(["-t", "wav", "-"], spoken)


def speech_from_wav(path: Path) -> bytes:
    """A WAV file as mu-law: encoded here when 8 kHz mono 16-bit, else converted by sox."""
    try:
        with wave.open(str(path), "rb") as wav:
            native = (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (
                SAMPLE_RATE,
                1,
                2,
            )
            pcm = wav.readframes(wav.getnframes()) if native else b""
    except (OSError, EOFError, wave.Error) as exc:
        raise AudioError(f"cannot read {path} as a WAV file ({exc or 'truncated'})") from exc
    if not native:
        return _sox_to_mulaw([str(path)])
    samples = array.array("h", pcm)
    if sys.byteorder == "big":
        samples.byteswap()  # WAV samples are little-endian
    return encode_mulaw(samples)
