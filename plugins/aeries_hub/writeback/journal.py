"""The write-ahead journal of ``write_to_aeries``: what was sent to Aeries and what it answered.

``journal.jsonl`` in the run's staging folder gets one line before each planned write is sent (``sending``)
and one once Aeries answered (``answered``), each on disk (fsync) before the task goes on. When the task is
run again (cleared after a crash or a kill), a write answered ``written`` is not sent again, and an insert
that was sent without a recorded answer is first looked for in Aeries: only an insert Aeries does not have
is sent again. The lines name writes by their position in ``plan.json`` (and the plan's sha256: a new plan
starts a new journal) and hold paths, ids and Aeries' answers, never the values written.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone

from aeries_hub.staging import RunFolder

JOURNAL = "journal.jsonl"


class WriteJournal:
    """The journal of one plan (``plan_sha256``) in ``run``'s staging folder."""

    def __init__(self, run: RunFolder, plan_sha256: str) -> None:
        self.target = run.path(JOURNAL)
        self.plan = plan_sha256
        self.lines: list[str] = []
        self.last: dict[int, dict] = {}  # write's position in the plan -> its last journal entry
        if self.target.exists():
            text = self.target.read_text()
            self.lines = text.splitlines()
            if text and not text.endswith("\n") and self._local:  # a kill cut the last line off: end it
                with open(self.target.path, "a", encoding="utf-8") as handle:
                    handle.write("\n")
            for line in self.lines:
                try:
                    entry = json.loads(line)
                except ValueError:  # the line a kill cut off: that write has no answer
                    continue
                if entry.get("plan") == plan_sha256:
                    self.last[entry["write"]] = entry

    @property
    def _local(self) -> bool:
        return self.target.protocol in ("file", "local", "")

    def written(self, index: int) -> dict | None:
        """The recorded answer of a write Aeries took in an earlier attempt (None otherwise)."""
        entry = self.last.get(index)
        return entry if entry and entry["event"] == "answered" and entry["status"] == "written" else None

    def unanswered(self, index: int) -> bool:
        """Whether the write was sent in an earlier attempt and its answer was lost (no answer, or an unknown one)."""
        entry = self.last.get(index)
        if not entry:
            return False
        return entry["event"] == "sending" or entry["status"] == "unknown"

    def sending(self, index: int, path: str) -> None:
        self._append({"write": index, "event": "sending", "path": path})

    def answered(self, index: int, path: str, status: str, **detail) -> None:
        self._append({"write": index, "event": "answered", "path": path, "status": status, **detail})

    def _append(self, entry: dict) -> None:
        entry = {"plan": self.plan, **entry, "at": datetime.now(timezone.utc).isoformat(timespec="milliseconds")}
        line = json.dumps(entry, sort_keys=True, default=str)
        self.lines.append(line)
        self.last[entry["write"]] = entry
        if self._local:
            with open(self.target.path, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        else:  # object storage has no append: the whole journal is written again (one PUT replaces it at once)
            with self.target.open("wb") as handle:
                handle.write(("\n".join(self.lines) + "\n").encode())
