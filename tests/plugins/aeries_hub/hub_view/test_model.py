"""What the hub view reads (aeries_hub.hub_view.model): a run's report.json is parsed once while it is unchanged."""

from __future__ import annotations

import os

from aeries_hub.hub_view import model
from aeries_hub.staging import local_path


def _write(path, text: str, mtime_ns: int | None = None) -> None:
    path.write_text(text)
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))


def test_an_unchanged_report_is_read_once_and_a_changed_one_again():
    folder = model.run_folder("aeries_to_report_cache", "manual__1")
    folder.write_bytes("report.json", b'{"status": "Completed"}')
    path = local_path(folder.root / "report.json")
    stamp = path.stat().st_mtime_ns
    assert model.read_report("aeries_to_report_cache", "manual__1") == {"status": "Completed"}

    # Other bytes of the same size and time: not read again (what the page shows comes from the parsed report).
    _write(path, '{"status": "Cancelled"}', stamp)
    assert model.read_report("aeries_to_report_cache", "manual__1") == {"status": "Completed"}
    # A newer report of the same size, then one of another size at the same time: read again each time.
    _write(path, '{"status": "Cancelled"}', stamp + 1_000_000_000)
    assert model.read_report("aeries_to_report_cache", "manual__1") == {"status": "Cancelled"}
    _write(path, '{"status": "Error"}', stamp + 1_000_000_000)
    assert model.read_report("aeries_to_report_cache", "manual__1") == {"status": "Error"}
    assert model.read_report("aeries_to_report_cache", "manual__2") is None


def test_the_reports_kept_are_bounded(monkeypatch):
    monkeypatch.setattr(model, "REPORTS_KEPT", 3)
    for n in range(5):
        model.run_folder("aeries_to_report_bound", f"manual__{n}").write_bytes("report.json", b'{"status": "Completed"}')
        assert model.read_report("aeries_to_report_bound", f"manual__{n}") == {"status": "Completed"}
    assert [key.rsplit("/", 2)[-2] for key in model._reports][-3:] == ["manual__2", "manual__3", "manual__4"]
    assert len(model._reports) == 3
