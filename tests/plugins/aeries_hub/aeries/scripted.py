"""Data and helpers shared by the tests that run AeriesHook against the scripted server of conftest.py."""

from __future__ import annotations

import json
import threading
from typing import Any

from aeries_hub.aeries.hook import AeriesHook

SCHOOLS = [
    {
        "SchoolCode": 0,
        "Name": "Eagle Unified School District",
        "InactiveStatusCode": "",
        "LowGradeLevel": -1,
        "HighGradeLevel": 12,
        "Terms": [{"TermCode": "Y", "TermDescription": "Year", "StartDate": "2025-07-06T00:00:00", "EndDate": "2026-06-12T00:00:00"}],
    },
    {
        "SchoolCode": 990,
        "Name": "Golden Eagle Elementary School",
        "InactiveStatusCode": "",
        "LowGradeLevel": -2,
        "HighGradeLevel": 6,
        "Terms": [
            {"TermCode": "1", "TermDescription": "1st Trimester", "StartDate": "2025-07-06T00:00:00", "EndDate": "2025-11-06T00:00:00"},
            {"TermCode": "Y", "TermDescription": "Year", "StartDate": "2025-07-06T00:00:00", "EndDate": "2026-06-12T00:00:00"},
        ],
    },
    {
        "SchoolCode": 994,
        "Name": "Eagle High School",
        "InactiveStatusCode": "",
        "LowGradeLevel": 9,
        "HighGradeLevel": 12,
        "Terms": [{"TermCode": "F", "TermDescription": "Fall", "StartDate": "2025-07-06T00:00:00", "EndDate": "2025-12-23T00:00:00"}],
    },
]


def students(school: int, count: int) -> list[dict]:
    return [
        {"StudentID": school * 100000 + i, "SchoolCode": school, "LastName": f"Last{i}", "FirstName": f"First{i}", "Grade": 9}
        for i in range(1, count + 1)
    ]


def serve_pages(server, path: str, data: list[dict]):
    """A route answering StartingRecord/EndingRecord (1-based, inclusive) from ``data``."""

    def handle(seen):
        if "StartingRecord" not in seen.query:
            return server.reply(200, data)
        start, end = int(seen.query["StartingRecord"]), int(seen.query["EndingRecord"])
        return server.reply(200, data[start - 1 : end])

    server.route(path, handle)


class SleepRecorder:
    def __init__(self):
        self.calls: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, seconds: float) -> None:
        with self._lock:
            self.calls.append(seconds)


def hook_for(conn_id: str, **kwargs) -> tuple[AeriesHook, SleepRecorder]:
    hook = AeriesHook(aeries_conn_id=conn_id, **kwargs)
    hook.sleep = SleepRecorder()
    return hook, hook.sleep


def emulator_hook(monkeypatch, url: str, conn_id: str, certificate: str, **extra: Any):
    """An AeriesHook on connection ``conn_id`` (an environment variable) to the emulator at ``url``, with fast
    retries and ``extra`` in its extras."""
    document = {"conn_type": "aeries", "host": url, "password": certificate,
                "extra": {"allow_insecure": True, "backoff_base": 0.01, "backoff_max": 0.02, **extra}}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(document))
    return AeriesHook(aeries_conn_id=conn_id)
