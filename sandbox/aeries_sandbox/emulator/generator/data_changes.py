"""The ``data_changes`` log: which records changed when, as the ``*DataChanges`` endpoints list them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aeries_sandbox.emulator.generator.state import DATABASE_YEAR, OTHER_AREAS, STUDENT_AREAS, GeneratorState

__all__ = ["make_data_changes"]


def make_data_changes(gen: GeneratorState) -> None:
    rng = gen.rng
    areas = STUDENT_AREAS + OTHER_AREAS
    weights = (30, 15, 15, 10, 5, 5, 8, 3, 6, 3)
    active_sections = [s for s in gen.sections if s["InactiveStatusCode"] == " "]
    start = datetime(DATABASE_YEAR, 8, 1)
    span = int((datetime(DATABASE_YEAR, 11, 21) - start).total_seconds())
    entries = []
    for n in range(max(24, gen.size // 40)):
        area = areas[n] if n < len(areas) else rng.choices(areas, weights)[0]
        changed = (start + timedelta(seconds=rng.randrange(span))).isoformat()
        entry: dict[str, Any] = {"area": area, "ChangedAt": changed}
        if area in STUDENT_AREAS:
            record = gen.students[rng.randrange(len(gen.students))]
            entry.update({"StudentID": record["StudentID"], "SchoolCode": record["SchoolCode"],
                          "StudentNumber": record["StudentNumber"]})
        elif area == "staff":
            entry["ID"] = gen.staff[rng.randrange(len(gen.staff))]["ID"]
        elif area == "course":
            entry["ID"] = gen.courses[rng.randrange(len(gen.courses))]["ID"]
        elif active_sections:
            section = active_sections[rng.randrange(len(active_sections))]
            entry.update({"SchoolCode": section["SchoolCode"], "SectionNumber": section["SectionNumber"]})
        else:
            continue
        entries.append(entry)
    entries.sort(key=lambda e: e["ChangedAt"])
    gen.data_changes = entries
