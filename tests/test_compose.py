"""The compose file deploys each channel as its own service behind the `proxy` network."""

from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "infra" / "docker-compose.yml"
PORTS = {"whatsapp": 8001, "webchat": 8002, "voice": 8003, "console": 8004}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def _resolved(compose: dict[str, Any], name: str) -> dict[str, Any]:
    service: dict[str, Any] = compose["services"][name]
    return service


def test_one_service_per_app_and_the_one_shot_migration(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {*PORTS, "migrate"}


def test_migrations_run_once_before_any_app_starts(compose: dict[str, Any]) -> None:
    migrate = _resolved(compose, "migrate")

    assert migrate["command"] == ["talia", "migrate"]
    assert migrate["restart"] == "no"
    assert migrate["env_file"] == "../.env"
    assert (REPO / migrate["build"]["dockerfile"]).is_file()
    for name in PORTS:
        depends = _resolved(compose, name)["depends_on"]
        assert depends == {"migrate": {"condition": "service_completed_successfully"}}


@pytest.mark.parametrize(("name", "port"), PORTS.items())
def test_service_publishes_its_own_port(compose: dict[str, Any], name: str, port: int) -> None:
    ports = _resolved(compose, name)["ports"]

    assert [str(p).rsplit(":", 2)[-2:] for p in ports] == [[str(port), str(port)]]


@pytest.mark.parametrize("name", PORTS)
def test_service_builds_its_own_dockerfile_from_the_repo_root(
    compose: dict[str, Any], name: str
) -> None:
    build = _resolved(compose, name)["build"]

    assert (COMPOSE.parent / build["context"]).resolve() == REPO
    assert build["dockerfile"] == f"apps/{name}/Dockerfile"
    assert (REPO / build["dockerfile"]).is_file()


@pytest.mark.parametrize("name", PORTS)
def test_service_runs_behind_the_external_proxy_network(compose: dict[str, Any], name: str) -> None:
    service = _resolved(compose, name)

    assert service["networks"] == ["proxy"]
    assert compose["networks"]["proxy"] == {"external": True}


@pytest.mark.parametrize("name", PORTS)
def test_service_restarts_reads_env_and_checks_health(compose: dict[str, Any], name: str) -> None:
    service = _resolved(compose, name)

    assert service["restart"] == "unless-stopped"
    assert service["env_file"] == "../.env"
    assert f"127.0.0.1:{PORTS[name]}/health" in " ".join(service["healthcheck"]["test"])
