"""Policy: the code stays in modules a newcomer can read whole (issue 15: "no module over about 450 lines"), and
modules use each other's public names only (ruff's SLF001 enforces that part in `make lint`)."""

from __future__ import annotations

from pathlib import Path

import aeries_hub
import aeries_sandbox

MAX_LINES = 450
PROJECT = Path(aeries_hub.__file__).resolve().parents[2]
PACKAGES = {
    "plugins/aeries_hub": Path(aeries_hub.__file__).resolve().parent,
    "sandbox/aeries_sandbox": Path(aeries_sandbox.__file__).resolve().parent,
    "dags": PROJECT / "dags",
}


def modules() -> list[tuple[str, Path]]:
    return [(f"{name}/{path.relative_to(root)}", path)
            for name, root in PACKAGES.items() for path in sorted(root.rglob("*.py"))]


def test_the_packages_are_where_the_layout_says():
    assert all(root.is_dir() for root in PACKAGES.values())
    assert len(modules()) > 100


def test_no_module_passes_the_line_limit():
    too_long = {name: lines for name, path in modules()
                if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert too_long == {}, f"split these by purpose (limit {MAX_LINES} lines): {too_long}"
