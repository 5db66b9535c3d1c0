"""The whatsapp app starts, answers its probes, and refuses a bad configuration."""

from pathlib import Path

import httpx

from talia_testkit.fake_openai import FakeOpenAI
from talia_testkit.fake_twilio import FakeTwilio
from talia_testkit.processes import run_python
from talia_testkit.server import serve_app
from talia_whatsapp.main import create_app

from .whatsapp_kit import whatsapp_settings


def test_app_answers_health_ready_and_metrics(
    database_url: str, fake_openai: FakeOpenAI, fake_twilio: FakeTwilio
) -> None:
    settings = whatsapp_settings(database_url, fake_openai.base_url, fake_twilio.base_url)

    with serve_app(create_app(settings)) as server, httpx.Client(base_url=server.http_url) as http:
        health = http.get("/health")
        ready = http.get("/ready")
        metrics = http.get("/metrics")

    assert health.json() == {"status": "ok"}
    assert ready.json() == {"status": "ready"}
    assert 'route="/health"' in metrics.text


def test_start_up_without_configuration_stops_with_one_line(tmp_path: Path) -> None:
    result = run_python("import talia_whatsapp.main as main; main.app", cwd=tmp_path)

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "talia: configuration error: DATABASE_URL is required but not set;"
        " TWILIO_ACCOUNT_SID is required but not set; TWILIO_AUTH_TOKEN is required but not set;"
        " OPENAI_API_KEY is required but not set"
    ]


def test_importing_the_module_reads_no_configuration(tmp_path: Path) -> None:
    result = run_python("import talia_whatsapp.main", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
