"""The console app starts, answers its probes, and refuses a bad configuration."""

from pathlib import Path

from talia_console.main import create_app
from talia_testkit.app_checks import import_failure, probe_answers, start_up_failure

from .console_kit import console_settings


def test_app_answers_health_ready_and_metrics(database_url: str) -> None:
    # Nothing answers at this Supabase URL: the app starts all the same.
    settings = console_settings(database_url, "http://127.0.0.1:9")

    health, ready, metrics = probe_answers(create_app(settings))

    assert health == {"status": "ok"}
    assert ready == {"status": "ready"}
    assert 'route="/health"' in metrics


def test_start_up_without_required_variables_stops_with_one_line(tmp_path: Path) -> None:
    assert start_up_failure("talia_console.main", tmp_path) == (
        1,
        ["talia: configuration error: DATABASE_URL is required but not set; "
         "SUPABASE_URL is required but not set; OPENAI_API_KEY is required but not set; "
         "TWILIO_ACCOUNT_SID is required but not set; TWILIO_AUTH_TOKEN is required but not set"],
    )  # fmt: skip


def test_importing_the_module_reads_no_configuration(tmp_path: Path) -> None:
    assert import_failure("talia_console.main", tmp_path) is None
