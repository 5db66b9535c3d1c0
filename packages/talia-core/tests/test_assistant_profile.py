"""Assistant profiles: strict validation and per-channel overrides."""

from typing import Any

import pytest

from talia_core.assistants.profile import ProfileError, parse_profile
from talia_testkit.profiles import throwaway_profile


def _profile(**changes: Any) -> dict[str, Any]:
    return throwaway_profile(**changes)


def test_a_complete_profile_is_accepted() -> None:
    profile = parse_profile(_profile())

    assert profile.key == "tienda"
    assert profile.tools == ("guardar_lead", "solicitar_humano")


def test_every_bad_field_is_named_in_one_message() -> None:
    data = _profile(key="Not A Key", tools=["guardar_lead", "volar"], colour="red")
    del data["greeting"]

    with pytest.raises(ProfileError) as caught:
        parse_profile(data, source="tienda.yaml")

    message = str(caught.value)
    assert message.startswith("tienda.yaml: ")
    assert "key: String should match pattern" in message
    assert "greeting: Field required" in message
    assert "tools.1: Input should be" in message
    assert "colour: unknown field" in message


def test_unknown_channel_and_unknown_override_key_are_errors() -> None:
    data = _profile(channels={"fax": {}, "voice": {"greeting": "x", "tone": "warm"}})

    with pytest.raises(ProfileError) as caught:
        parse_profile(data)

    assert "channels.fax" in str(caught.value)
    assert "channels.voice.tone: unknown field" in str(caught.value)


def test_channel_overrides_replace_only_what_they_name() -> None:
    profile = parse_profile(
        _profile(channels={"voice": {"greeting": "voice greeting", "tools": ["colgar"]}})
    )

    voice = profile.for_channel("voice")
    webchat = profile.for_channel("webchat")

    assert (voice.greeting, voice.tools, voice.model) == ("voice greeting", ("colgar",), "gpt-test")
    assert webchat == profile


def test_transfer_number_must_be_e164() -> None:
    with pytest.raises(ProfileError, match="transfer_number"):
        parse_profile(_profile(transfer_number="555-1234"))
