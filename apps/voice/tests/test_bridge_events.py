"""The bridge parses exactly the Realtime events it acts on."""

import inspect
import re

from openai.types import realtime

from talia_voice import bridge


def test_every_event_the_bridge_matches_is_one_it_parses() -> None:
    # A `case` added for a new event must also be in HANDLED_EVENTS, or it never arrives.
    matched = set(re.findall(r"case (\w+)\(", inspect.getsource(bridge.CallBridge)))
    types = {
        str(getattr(realtime, name).model_fields["type"].annotation.__args__[0]) for name in matched
    }

    assert len(matched) == len(bridge.HANDLED_EVENTS)
    assert types == bridge.HANDLED_EVENTS
