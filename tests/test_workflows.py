"""Each CI pipeline installs the programs its package's tests run, as `.ci/run` does."""

import ast
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
PACKAGES = sorted(
    path.parent.relative_to(REPO).as_posix()
    for path in [*REPO.glob("apps/*/pyproject.toml"), *REPO.glob("packages/*/pyproject.toml")]
)
APPS = [package for package in PACKAGES if package.startswith("apps/")]


def _programs_looked_up(tests: Path) -> set[str]:
    """The names its tests give `shutil.which`, alone or mapped over a tuple."""
    names: set[str] = set()
    for source in tests.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if not isinstance(node, ast.Call):
                continue
            called = ast.unparse(node.func)
            if called == "shutil.which" and isinstance(node.args[0], ast.Constant):
                names.add(str(node.args[0].value))
            if called == "map" and ast.unparse(node.args[0]) == "shutil.which":
                names |= {
                    str(item.value)
                    for item in ast.walk(node.args[1])
                    if isinstance(item, ast.Constant)
                }
    return names


def _declared(package: str) -> dict[str, Any]:
    with (REPO / package / "pyproject.toml").open("rb") as file:
        talia: dict[str, Any] = tomllib.load(file).get("tool", {}).get("talia", {})
    declared: dict[str, Any] = talia.get("test-tools", {})
    return declared


@pytest.mark.parametrize("package", PACKAGES)
def test_every_program_its_tests_run_is_declared_with_its_debian_package(package: str) -> None:
    declared = _declared(package)
    commands = {command for tool in declared.values() for command in tool["commands"]}

    assert _programs_looked_up(REPO / package / "tests") <= commands
    assert all(tool["debian"] for tool in declared.values())


def test_the_voice_and_widget_tests_have_their_programs_declared() -> None:
    assert {"espeak-ng", "sox"} <= set(_declared("apps/voice"))
    assert "chromium" in _declared("apps/webchat")


@pytest.mark.parametrize("app", APPS)
def test_each_app_pipeline_installs_its_declared_programs_before_its_tests(app: str) -> None:
    name = app.removeprefix("apps/")
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / f"{name}.yml").read_text())
    [job] = workflow["jobs"].values()
    shared = yaml.safe_load((REPO / ".github" / "workflows" / "_app.yml").read_text())
    steps = [step.get("run", "") for step in shared["jobs"]["check"]["steps"]]

    assert job["uses"] == "./.github/workflows/_app.yml"
    assert job["with"]["package"] == app
    install = steps.index('.ci/install-test-tools "${{ inputs.package }}"')
    tests = next(i for i, run in enumerate(steps) if "pytest" in run)
    assert install < tests


def test_the_whole_check_installs_every_packages_programs() -> None:
    script = (REPO / ".ci" / "run").read_text()
    [line] = [line for line in script.splitlines() if line.startswith(".ci/install-test-tools")]

    assert set(line.split()[1:]) == set(PACKAGES)
    assert script.index(line) < script.index("uv run --frozen pytest")
