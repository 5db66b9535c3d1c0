"""A fake OpenAI speaking the wire protocol of the `openai` SDK, scripted per turn."""

from talia_testkit.fake_openai.realtime import CallerSpeech, RealtimeReply
from talia_testkit.fake_openai.script import Recorded, ToolCall, Turn
from talia_testkit.fake_openai.server import FakeOpenAI, run_fake_openai

__all__ = [
    "CallerSpeech",
    "FakeOpenAI",
    "RealtimeReply",
    "Recorded",
    "ToolCall",
    "Turn",
    "run_fake_openai",
]
