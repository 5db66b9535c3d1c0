"""The console app starts, answers its probes, and refuses a bad configuration."""

from pathlib import Path

from talia_console.main import create_app
from talia_testkit.app_checks import import_failure, probe_answers, start_up_failure

from .console_kit import Console, console_settings


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


def test_the_page_is_served_with_its_policy_and_nothing_else_is(console: Console) -> None:
    page = console.http.get("/console/")
    script = console.http.get("/console/console.js")
    config = console.http.get("/console/config.json").json()
    elsewhere = console.http.get("/console/../pyproject.toml")
    unknown = console.http.get("/console/secrets.txt")
    bare = console.http.get("/console", follow_redirects=False)

    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert f"connect-src 'self' {console.auth.base_url}" in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    assert script.headers["content-type"].startswith("text/javascript")
    assert config == {
        "supabase_url": console.auth.base_url,
        "anon_key": console.auth.anon_key,
        "api": "/api/console",
    }
    assert elsewhere.status_code == 404
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "not_found")
    assert (bare.status_code, bare.headers["location"]) == (308, "/console/")
