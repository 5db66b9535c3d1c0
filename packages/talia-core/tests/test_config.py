"""Settings: a missing or malformed variable is named in one line."""

from pathlib import Path

import pytest

from talia_core.config import (
    AppSettings,
    ConfigError,
    DatabaseSettings,
    OpenAISettings,
    ServiceSettings,
    WebchatSettings,
    load_settings,
    settings_or_exit,
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no developer `.env` leaks in
    for name in (
        "DATABASE_URL",
        "OPENAI_API_KEY",
        "TALIA_LOG_LEVEL",
        "TALIA_LOG_FORMAT",
        "TALIA_PUBLIC_BASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)


def test_missing_database_url_is_named() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(DatabaseSettings)

    assert str(caught.value) == "DATABASE_URL is required but not set"


def test_a_missing_or_placeholder_openai_key_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError) as missing:
        load_settings(OpenAISettings)
    monkeypatch.setenv("OPENAI_API_KEY", "changeme")
    with pytest.raises(ConfigError) as placeholder:
        load_settings(OpenAISettings)

    # Without a key every reply would quietly be the fallback text: start-up stops instead.
    assert str(missing.value) == "OPENAI_API_KEY is required but not set"
    assert str(placeholder.value).startswith("OPENAI_API_KEY is invalid: ")


def test_malformed_database_url_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://db.example.com/talia")

    with pytest.raises(ConfigError, match=r"^DATABASE_URL is invalid: .*postgresql://"):
        load_settings(DatabaseSettings)


def test_unreadable_database_url_is_named_without_its_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://talia:s3cret@db.example.com/talia?pooled=yes")

    with pytest.raises(ConfigError) as caught:
        load_settings(DatabaseSettings)

    assert str(caught.value).startswith("DATABASE_URL is invalid: ")
    assert "s3cret" not in str(caught.value)


def test_every_bad_variable_is_reported_together(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALIA_LOG_FORMAT", "xml")
    monkeypatch.setenv("TALIA_PUBLIC_BASE_URL", "not a url")

    with pytest.raises(ConfigError) as caught:
        ServiceSettings.from_env()

    message = str(caught.value)
    assert "DATABASE_URL is required" in message
    assert "TALIA_LOG_FORMAT is invalid" in message
    assert "TALIA_PUBLIC_BASE_URL is invalid" in message
    assert "\n" not in message


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DATABASE_URL=postgresql://talia@localhost/talia\n")

    settings = load_settings(DatabaseSettings)

    assert settings.database_url.get_secret_value() == "postgresql://talia@localhost/talia"


def test_secrets_do_not_show_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://talia:hunter2@localhost/talia")

    settings = load_settings(DatabaseSettings)

    assert "hunter2" not in repr(settings)


def test_placeholder_session_secret_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALIA_WEBCHAT_SESSION_SECRET", "changeme")

    with pytest.raises(ConfigError, match="TALIA_WEBCHAT_SESSION_SECRET is invalid"):
        load_settings(WebchatSettings)


def test_allowed_origins_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALIA_WEBCHAT_SESSION_SECRET", "s" * 40)
    monkeypatch.setenv("TALIA_WEBCHAT_ALLOWED_ORIGINS", "https://a.example, https://b.example/")

    settings = load_settings(WebchatSettings)

    assert settings.allowed_origins == ("https://a.example", "https://b.example")


def test_start_up_stops_with_one_line_naming_the_variable() -> None:
    with pytest.raises(SystemExit) as caught:
        settings_or_exit(ServiceSettings)

    assert caught.value.code == "talia: configuration error: DATABASE_URL is required but not set"


def test_trusted_proxies_are_addresses_or_networks_and_never_everyone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TALIA_TRUSTED_PROXIES", "10.0.0.5, 172.16.0.0/12,fd00::/8")
    listed = load_settings(AppSettings)
    monkeypatch.setenv("TALIA_TRUSTED_PROXIES", "*")
    with pytest.raises(ConfigError) as everyone:
        load_settings(AppSettings)

    assert listed.trusted_proxies == ("10.0.0.5", "172.16.0.0/12", "fd00::/8")
    assert str(everyone.value).startswith("TALIA_TRUSTED_PROXIES is invalid: ")
