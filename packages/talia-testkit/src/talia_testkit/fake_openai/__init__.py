"""A fake OpenAI speaking the wire protocol of the `openai` SDK, scripted per turn."""

from talia_testkit.fake_openai.script import Recorded, ToolCall, Turn
from talia_testkit.fake_openai.server import FakeOpenAI, run_fake_openai

__all__ = ["FakeOpenAI", "Recorded", "ToolCall", "Turn", "run_fake_openai"]
