"""Writing a sample set for a checker's tests, and changing one thing in it."""

from __future__ import annotations

import zipfile
from pathlib import Path


def write_set(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_bytes(text.encode("utf-8"))
    return folder


def write_zip(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text.encode("utf-8"))
    return path


def changed(files: dict[str, str], name: str, old: str, new: str) -> dict[str, str]:
    """The set with one occurrence of `old` in file `name` replaced (it must occur exactly once)."""
    assert files[name].count(old) == 1, f"{old!r} occurs {files[name].count(old)} times in {name}"
    return {**files, name: files[name].replace(old, new)}


def without(files: dict[str, str], name: str) -> dict[str, str]:
    return {key: value for key, value in files.items() if key != name}
