"""The webchat app starts, answers its probes, and refuses a bad configuration."""

from pathlib import Path

from talia_testkit.app_checks import import_failure, probe_answers, start_up_failure
from talia_testkit.settings import (
    app_settings,
    database_settings,
    logging_settings,
    openai_settings,
    webchat_settings,
)
from talia_webchat.config import Settings
from talia_webchat.main import create_app


def test_app_answers_health_ready_and_metrics(database_url: str) -> None:
    settings = Settings(
        app=app_settings(),
        database=database_settings(database_url),
        logging=logging_settings(),
        webchat=webchat_settings(),
        openai=openai_settings(),
    )

    health, ready, metrics = probe_answers(create_app(settings))

    assert health == {"status": "ok"}
    assert ready == {"status": "ready"}
    assert 'route="/health"' in metrics


def test_start_up_without_required_variables_stops_with_one_line(tmp_path: Path) -> None:
    assert start_up_failure("talia_webchat.main", tmp_path) == (
        1,
        [
            "talia: configuration error: DATABASE_URL is required but not set; "
            "TALIA_WEBCHAT_SESSION_SECRET is required but not set; "
            "OPENAI_API_KEY is required but not set"
        ],
    )


def test_importing_the_module_reads_no_configuration(tmp_path: Path) -> None:
    assert import_failure("talia_webchat.main", tmp_path) is None
