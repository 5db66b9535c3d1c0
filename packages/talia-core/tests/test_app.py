"""The app factory: probes, SPEC error bodies, request ids and metrics."""

import contextlib
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter
from pydantic import BaseModel

from talia_core.app import create_service_app
from talia_core.config import ServiceSettings
from talia_core.errors import Conflict
from talia_testkit.postgres import EmbeddedPostgres
from talia_testkit.server import RunningServer, serve_app
from talia_testkit.settings import app_settings, database_settings, logging_settings


class Greeting(BaseModel):
    name: str
    times: int


def _router() -> APIRouter:
    router = APIRouter(prefix="/api/test")

    @router.post("/greetings/{greeting_id}")
    async def create_greeting(greeting_id: int, greeting: Greeting) -> dict[str, object]:
        return {"id": greeting_id, "name": greeting.name}

    @router.get("/conflict")
    async def conflict() -> None:
        raise Conflict("That greeting already exists.")

    @router.get("/crash")
    async def crash() -> None:
        raise RuntimeError("secret internal detail")

    return router


def _settings(database_url: str) -> ServiceSettings:
    return ServiceSettings(
        app=app_settings(),
        database=database_settings(database_url, connect_timeout_seconds=1),
        logging=logging_settings(),
    )


@pytest.fixture
def server(database_url: str) -> Iterator[RunningServer]:
    app = create_service_app(channel="test", settings=_settings(database_url), router=_router())
    with serve_app(app) as running:
        yield running


@pytest.fixture
def client(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.http_url) as http:
        yield http


def test_health_answers_ok(client: httpx.Client) -> None:
    response = client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_answers_ready_while_the_database_is_up(client: httpx.Client) -> None:
    response = client.get("/ready")

    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


def test_unknown_path_is_a_json_404(client: httpx.Client) -> None:
    response = client.get("/api/test/nowhere")

    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not Found"}}


def test_wrong_method_is_a_json_405(client: httpx.Client) -> None:
    response = client.get("/api/test/greetings/1")

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_invalid_body_is_a_json_422_naming_the_fields(client: httpx.Client) -> None:
    response = client.post("/api/test/greetings/abc", json={"name": "Ana", "times": "many"})

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert "path.greeting_id" in error["message"]
    assert "times" in error["message"]
    assert "many" not in error["message"]


def test_malformed_json_is_a_json_422(client: httpx.Client) -> None:
    response = client.post(
        "/api/test/greetings/1", content=b"{not json", headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


def test_domain_error_carries_its_status_and_code(client: httpx.Client) -> None:
    response = client.get("/api/test/conflict")

    assert response.status_code == 409
    assert response.json() == {
        "error": {"code": "conflict", "message": "That greeting already exists."}
    }


def test_crash_is_a_bare_json_500_without_details(server: RunningServer) -> None:
    transport = httpx.HTTPTransport(retries=0)
    with httpx.Client(base_url=server.http_url, transport=transport) as http:
        response = http.get("/api/test/crash")

    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "internal_error", "message": "Something went wrong on our side."}
    }
    assert "secret" not in response.text


def test_request_id_is_echoed(client: httpx.Client) -> None:
    response = client.get("/health", headers={"X-Request-ID": "req-123"})

    assert response.headers["X-Request-ID"] == "req-123"


def test_request_id_is_made_when_missing_or_unsafe(client: httpx.Client) -> None:
    response = client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})

    assert response.headers["X-Request-ID"] != "bad id\twith spaces"
    assert len(response.headers["X-Request-ID"]) == 32


def test_metrics_count_requests_by_route_template(client: httpx.Client) -> None:
    client.post("/api/test/greetings/7", json={"name": "Ana", "times": 1})
    client.post("/api/test/greetings/8", json={"name": "Luis", "times": 2})

    response = client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    expected = (
        'talia_http_requests_total{method="POST",route="/api/test/greetings/{greeting_id}",'
        'status="200"} 2.0'
    )
    assert expected in response.text
    assert "talia_http_request_duration_seconds_bucket" in response.text


def test_ready_follows_the_database_down_and_up(tmp_path: Path) -> None:
    database = EmbeddedPostgres.start(tmp_path / "pg")
    app = create_service_app(channel="test", settings=_settings(database.url), router=_router())
    try:
        with serve_app(app) as running, httpx.Client(base_url=running.http_url) as http:
            up = http.get("/ready")
            database.stop()
            down = http.get("/ready")
            health_while_down = http.get("/health")
            database = EmbeddedPostgres.start(tmp_path / "pg")
            back = http.get("/ready")
    finally:
        database.stop()

    assert up.status_code == 200
    assert down.status_code == 503
    assert down.json()["error"]["code"] == "database_unavailable"
    assert health_while_down.status_code == 200
    assert back.status_code == 200


SLOW_APP = """
import asyncio, sys, uvicorn
from fastapi import APIRouter
from talia_core.app import create_service_app
from talia_core.config import ServiceSettings
from talia_testkit.settings import app_settings, database_settings, logging_settings

router = APIRouter(prefix="/api/test")

@router.get("/slow")
async def slow() -> dict[str, str]:
    await asyncio.sleep(1.5)
    return {"status": "finished"}

settings = ServiceSettings(
    app=app_settings(), database=database_settings(sys.argv[1]), logging=logging_settings()
)
app = create_service_app(channel="test", settings=settings, router=router)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_config=None,
            timeout_graceful_shutdown=10)
"""


def test_sigterm_lets_an_in_flight_request_finish(database_url: str, tmp_path: Path) -> None:
    import signal
    import socket
    import subprocess
    import sys
    import threading
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    script = tmp_path / "slow_app.py"
    script.write_text(SLOW_APP)
    process = subprocess.Popen(  # noqa: S603  # our interpreter, our script
        [sys.executable, str(script), database_url, str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(base + "/health", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    result: dict[str, httpx.Response] = {}
    request = threading.Thread(
        target=lambda: result.update(slow=httpx.get(base + "/api/test/slow", timeout=10))
    )

    request.start()
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    request.join(15)
    output, _ = process.communicate(timeout=15)

    assert result["slow"].json() == {"status": "finished"}
    # uvicorn re-raises the signal once it has shut down cleanly.
    assert process.returncode in {0, -signal.SIGTERM}, output
    assert output.index("request_finished") < output.index("app_stopped")


def _raw_request(server: RunningServer, head: str, body: bytes = b"") -> bytes:
    """Send bytes as they are and read the answer until the server closes or 2 s pass."""
    with socket.create_connection((server.host, server.port), timeout=2) as raw:
        raw.sendall(head.encode() + b"\r\n" + body)
        answer = b""
        with contextlib.suppress(TimeoutError):
            while chunk := raw.recv(65536):
                answer += chunk
                if b"\r\n\r\n" in answer and answer.endswith(b"}"):
                    break
    return answer


def test_a_body_declared_over_the_limit_is_refused_before_it_is_sent(
    server: RunningServer,
) -> None:
    head = (
        "POST /api/test/greetings/1 HTTP/1.1\r\nHost: test\r\n"
        "Content-Type: application/json\r\nContent-Length: 500000000\r\n"
    )

    answer = _raw_request(server, head)  # not one byte of the 500 MB follows

    status, _, rest = answer.partition(b"\r\n")
    assert status.startswith(b"HTTP/1.1 413 ")
    assert json.loads(rest.split(b"\r\n\r\n", 1)[1]) == {
        "error": {"code": "payload_too_large", "message": "The body is over 262144 bytes."}
    }


def test_a_chunked_body_is_read_up_to_the_limit_only(client: httpx.Client) -> None:
    def chunks(total: int) -> Iterator[bytes]:
        yield b'{"name": "' + b"a" * (total - 24) + b'", "times": 1}'

    json_body = {"Content-Type": "application/json"}
    small = client.post("/api/test/greetings/1", content=chunks(1000), headers=json_body)
    large = client.post("/api/test/greetings/1", content=chunks(300_000), headers=json_body)

    assert small.status_code == 200
    assert small.json() == {"id": 1, "name": "a" * 976}
    assert large.status_code == 413
    assert large.json()["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize("api_docs", [False, True])
def test_api_documents_are_served_only_when_enabled(database_url: str, api_docs: bool) -> None:
    settings = ServiceSettings(
        app=app_settings(api_docs=api_docs),
        database=database_settings(database_url),
        logging=logging_settings(),
    )
    app = create_service_app(channel="test", settings=settings, router=_router())
    with serve_app(app) as running, httpx.Client(base_url=running.http_url) as http:
        document = http.get("/api/test/openapi.json")
        swagger = http.get("/api/test/docs")

    if api_docs:
        assert document.status_code == swagger.status_code == 200
        assert "/api/test/greetings/{greeting_id}" in document.json()["paths"]
    else:
        assert document.status_code == swagger.status_code == 404
        assert document.json()["error"]["code"] == "not_found"
