"""The two distributions: aeries-integration-hub (production: aeries_hub only) and aeries-hub-sandbox (development
and the demo image: aeries_sandbox), each installed once and imported from the project's own folders.

The wheels are built as a release would build them (``pip wheel --no-deps``), from a copy of the project, so
that the build leaves nothing in the working copy.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

import aeries_hub
import aeries_sandbox

REPO = Path(__file__).resolve().parents[1]
#: What the copy of the project leaves out: local state, caches and build output.
NOT_COPIED = shutil.ignore_patterns(".git", ".venv", ".demo", ".try", ".airflow", ".bench", "logs", "build", "dist",
                                    "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache")


def test_the_packages_are_imported_from_the_project_folders():
    """What the tests (and Airflow, from the plugins folder) import is the working copy: an install elsewhere,
    or a stale copy in site-packages, would shadow it."""
    assert Path(aeries_hub.__file__).resolve() == REPO / "plugins" / "aeries_hub" / "__init__.py"
    assert Path(aeries_sandbox.__file__).resolve() == REPO / "sandbox" / "aeries_sandbox" / "__init__.py"


def test_the_production_distribution_registers_the_provider():
    entry_points = metadata.distribution("aeries-integration-hub").entry_points
    assert [(e.group, e.value) for e in entry_points] == [("apache_airflow_provider", "aeries_hub:get_provider_info")]
    # the sandbox registers no provider: only its command, aeries-hub (test_the_sandbox_wheel_holds_the_sandbox_its_documentation_and_its_command)
    assert [e.group for e in metadata.distribution("aeries-hub-sandbox").entry_points if e.group != "console_scripts"] == []


def test_the_production_code_never_imports_the_sandbox():
    """The production image has no aeries_sandbox: a DAG or module that imported it would fail there."""
    importers = []
    for path in [*(REPO / "plugins").rglob("*.py"), *(REPO / "dags").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(name.split(".")[0] == "aeries_sandbox" for name in names):
                importers.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert importers == []


@pytest.fixture(scope="module")
def wheel_paths(tmp_path_factory) -> dict[str, Path]:
    """Distribution name -> its wheel, built from a copy of the project."""
    root = tmp_path_factory.mktemp("packaging")
    source = root / "project"
    shutil.copytree(REPO, source, ignore=NOT_COPIED, symlinks=True)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(root / "wheels"),
         str(source), str(source / "sandbox")],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    return {wheel.name.split("-")[0]: wheel for wheel in (root / "wheels").glob("*.whl")}


@pytest.fixture(scope="module")
def wheels(wheel_paths) -> dict[str, list[str]]:
    """Distribution name -> the files of its wheel."""
    return {name: zipfile.ZipFile(wheel).namelist() for name, wheel in wheel_paths.items()}


def test_the_production_wheel_holds_aeries_hub_only(wheels):
    files = wheels["aeries_integration_hub"]
    assert "aeries_hub/__init__.py" in files and "aeries_hub/paths.py" in files
    assert {name.split("/")[0] for name in files} == {"aeries_hub", "aeries_integration_hub-0.1.0.dist-info"}
    assert not [name for name in files if "aeries_sandbox" in name or "tests/" in name or "test_" in name]


def test_the_production_wheel_ships_the_json_schemas_the_loaders_read(wheels):
    """An install without the repository's include/ (a wheel, AERIES_HUB_INCLUDE_DIR elsewhere) still validates
    mappings, write-backs, check suites and the data-sharing policy: their schemas are package data."""
    from aeries_hub.paths import SCHEMAS_DIR

    shipped = sorted(name for name in wheels["aeries_integration_hub"] if name.startswith("aeries_hub/schemas/"))
    assert shipped == ["aeries_hub/schemas/checks.schema.json", "aeries_hub/schemas/district_policy.schema.json",
                       "aeries_hub/schemas/mapping.schema.json", "aeries_hub/schemas/writeback.schema.json"]
    assert SCHEMAS_DIR == REPO / "plugins" / "aeries_hub" / "schemas"
    assert sorted(path.name for path in SCHEMAS_DIR.glob("*.json")) == [name.rsplit("/", 1)[1] for name in shipped]


def test_the_production_wheel_ships_the_hub_views_templates(wheels):
    from aeries_hub.hub_view.render import TEMPLATES

    shipped = sorted(name for name in wheels["aeries_integration_hub"] if name.startswith("aeries_hub/hub_view/templates/"))
    assert shipped == [f"aeries_hub/hub_view/templates/{name}" for name in (
        "base.html", "disclosures.html", "failed_task.html", "hub.html", "refused.html", "run.html")]
    assert sorted(path.name for path in TEMPLATES.glob("*.html")) == [name.rsplit("/", 1)[1] for name in shipped]


def test_the_sandbox_wheel_holds_the_sandbox_its_documentation_and_its_command(wheels, wheel_paths):
    files = wheels["aeries_hub_sandbox"]
    assert {name.split("/")[0] for name in files} == {"aeries_sandbox", "aeries_hub_sandbox-0.1.0.dist-info"}
    sources = {path.relative_to(REPO / "sandbox").as_posix()
               for path in (REPO / "sandbox" / "aeries_sandbox").rglob("*") if path.suffix in {".py", ".md"}}
    assert sources and sources <= set(files)  # every module, and the README.md files beside them
    assert {"aeries_sandbox/emulator/README.md", "aeries_sandbox/vendor_api_README.md"} <= sources
    with zipfile.ZipFile(wheel_paths["aeries_hub_sandbox"]) as wheel:
        entry_points = wheel.read("aeries_hub_sandbox-0.1.0.dist-info/entry_points.txt").decode()
    assert entry_points.split() == ["[console_scripts]", "aeries-hub", "=", "aeries_sandbox.try_mapping:main"]
