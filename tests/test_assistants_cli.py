"""`talia assistants import|export|list` against the test database."""

import json
from pathlib import Path

import pytest

from talia.cli import main

PROFILE_YAML = """\
key: tienda
model: gpt-test
instructions: test instructions
greeting: test greeting
fallback:
  default: test fallback
voice: test-voice
realtime_model: gpt-realtime-test
tools: [guardar_lead]
channels:
  voice:
    greeting: test voice greeting
"""


@pytest.fixture(autouse=True)
def use_test_database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)


def test_import_then_export_round_trips_a_profile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "tienda.yaml"
    path.write_text(PROFILE_YAML)

    main(["assistants", "import", str(path)])
    main(["assistants", "export", "tienda"])
    main(["assistants", "list"])

    out = capsys.readouterr().out
    assert "imported assistant 'tienda'" in out
    assert "instructions: test instructions" in out
    assert "greeting: test voice greeting" in out
    assert "\ntienda\tgpt-test\tgpt-realtime-test\t" in out


def test_importing_again_updates_the_profile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "tienda.yaml"
    path.write_text(PROFILE_YAML)
    main(["assistants", "import", str(path)])
    path.write_text(PROFILE_YAML.replace("test instructions", "new instructions"))

    main(["assistants", "import", str(path)])
    main(["assistants", "export", "tienda"])

    out = capsys.readouterr().out
    assert "updated assistant 'tienda'" in out
    assert "instructions: new instructions" in out


def test_import_rejects_a_bad_profile_naming_each_bad_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"key": "tienda", "model": "m", "tools": ["volar"], "tone": "x"}))

    with pytest.raises(SystemExit) as caught:
        main(["assistants", "import", str(path)])

    message = str(caught.value.code)
    assert message.startswith(f"talia: invalid assistant profile: {path}: ")
    for field in (
        "instructions",
        "greeting",
        "fallback",
        "voice",
        "realtime_model",
        "tools.0",
        "tone",
    ):
        assert f"{field}:" in message


def test_exporting_an_unknown_profile_says_so() -> None:
    with pytest.raises(SystemExit) as caught:
        main(["assistants", "export", "nadie"])

    assert caught.value.code == "talia: no assistant profile 'nadie'"


def test_a_file_that_is_not_yaml_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("key: [unclosed")

    with pytest.raises(SystemExit) as caught:
        main(["assistants", "import", str(path)])

    assert "not valid YAML" in str(caught.value.code)
