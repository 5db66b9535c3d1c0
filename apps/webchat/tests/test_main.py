"""The webchat app starts, answers its probes, and refuses a bad configuration."""

from pathlib import Path

import httpx

from talia_testkit.processes import run_python
from talia_testkit.server import serve_app
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

    with serve_app(create_app(settings)) as server, httpx.Client(base_url=server.http_url) as http:
        health = http.get("/health")
        ready = http.get("/ready")
        metrics = http.get("/metrics")

    assert health.json() == {"status": "ok"}
    assert ready.json() == {"status": "ready"}
    assert 'route="/health"' in metrics.text


def test_start_up_without_required_variables_stops_with_one_line(tmp_path: Path) -> None:
    result = run_python("import talia_webchat.main as main; main.app", cwd=tmp_path)

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "talia: configuration error: DATABASE_URL is required but not set; "
        "TALIA_WEBCHAT_SESSION_SECRET is required but not set; "
        "OPENAI_API_KEY is required but not set"
    ]


def test_importing_the_module_reads_no_configuration(tmp_path: Path) -> None:
    result = run_python("import talia_webchat.main", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
