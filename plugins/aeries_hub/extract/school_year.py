"""The run's date and the Aeries school year (DatabaseYear) a run reads: the year of its date, the year Aeries
actually served, that year's first and last day of school, and the ``{run.NAME}`` values a mapping takes from it."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Iterable

from aeries_hub.mapping.models import Mapping
from aeries_hub.run.summary import ExtractSummary, SchoolYearSummary, write_summary
from aeries_hub.staging import RunFolder


def run_date(mapping):
    """The run's date in the time zone of the mapping's (or write-back's) schedule: its logical date, or when it
    was due for a manual run."""
    from zoneinfo import ZoneInfo

    from airflow.sdk import get_current_context

    dag_run = get_current_context()["dag_run"]
    moment = dag_run.logical_date or dag_run.run_after
    return moment.astimezone(ZoneInfo(mapping.schedule.timezone if mapping.schedule else "UTC")).date()


def school_year_of(day) -> int:
    """Aeries' DatabaseYear for a date: the year its school year starts, which begins on
    ``[aeries_hub] school_year_start`` (MM-DD, default 07-01)."""
    month, first = school_year_start_day()
    return day.year if (day.month, day.day) >= (month, first) else day.year - 1


def school_year_start_day() -> tuple[int, int]:
    """``[aeries_hub] school_year_start`` as (month, day)."""
    from airflow.sdk import conf

    start = conf.get("aeries_hub", "school_year_start", fallback="07-01")
    try:
        month, first = (int(part) for part in start.split("-"))
    except ValueError:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(
            f"[aeries_hub] school_year_start is {start!r}; give the first day of the school year as MM-DD, e.g. 07-01"
        ) from None
    return month, first


def aeries_for_run(conn_id: str, owner, run: RunFolder):
    """The Aeries hook of a run (an extraction or a write-back) and the school year it reads and writes: the one
    Aeries serves for the run's date, settled by :meth:`AeriesHook.check_database_year` (the connection extra
    ``unavailable_year`` decides when Aeries does not offer it). When the rule fails the run, the reason goes to
    ``summary/school_year.json`` for the report. ``owner`` is the mapping or write-back whose schedule's time zone
    dates the run. A ``rollover_preview`` run reads the next school year (DatabaseYear + 1) and fails, naming the
    years Aeries offers, when Aeries does not offer it yet."""
    from airflow.sdk import get_current_context

    from aeries_hub.aeries.errors import AeriesConfigError
    from aeries_hub.aeries.hook import AeriesHook

    preview = bool(get_current_context()["params"].get("rollover_preview"))
    this_year = school_year_of(run_date(owner))
    hook = AeriesHook(aeries_conn_id=conn_id, school_year=this_year,
                      database_year=this_year + 1 if preview else None)
    try:
        year = hook.check_database_year()
        if preview and year.served != this_year + 1:
            raise AeriesConfigError(rollover_not_offered(conn_id, this_year + 1, year))
    except AeriesConfigError as exc:
        write_summary(run, "school_year", SchoolYearSummary(error=str(exc)))
        raise
    if preview:  # the note goes to the report's attention lines
        year = dataclasses.replace(year, note=f"rollover preview: read next school year {year.label} from Aeries, "
                                   "built and compared the files with the last delivery; nothing is delivered")
    return hook, year


def rollover_not_offered(conn_id: str, next_year: int, year) -> str:
    """Why a rollover preview cannot run: Aeries does not serve next year's database yet."""
    from aeries_hub.aeries.school_year import school_year_label

    offered = ", ".join(school_year_label(y) for y in year.available) or "it does not list its years"
    return (f"rollover_preview: Aeries connection {conn_id!r} does not offer the school year "
            f"{school_year_label(next_year)} (DatabaseYear {next_year}) yet (it offers {offered}); run the preview "
            "once the district has created next year's database in Aeries")


def settle_run_values(mapping: Mapping, run: RunFolder, extracts: Iterable[ExtractSummary]) -> tuple[date, date, dict[str, str]]:
    """What every build of the run takes from Aeries, settled once (by validate_sources, into its summary): the
    run's date (:func:`run_date`), the day its date conditions compare with (:func:`dates_as_of`) and the
    ``{run.NAME}`` values the mapping uses (:func:`aeries_run_values`). A cleared and re-run run settles the same.

    :raises AirflowFailException: Aeries did not give a value the mapping needs (:func:`aeries_run_values`).
    """
    years = served_years(extracts)
    day = run_date(mapping)
    return day, dates_as_of(run, day, years), aeries_run_values(mapping, run, years) if mapping.run_values else {}


def served_years(extracts: Iterable[ExtractSummary]) -> list[int]:
    """The school years (DatabaseYear) the run's extracts read, sorted: one, unless Aeries rolled over mid-run."""
    return sorted({s.database_year for s in extracts if s.database_year is not None})


def dates_as_of(run: RunFolder, day, years: list[int]):
    """The day the date conditions (``before_run_date``, ``after_run_date``) compare with: the run's date, held
    inside the school year Aeries served (``years``, :func:`served_years`). A run after that year ended (Aeries
    still serves it after the July rollover, or the connection pins it) sees the year's last day of school, so
    whoever taught to the end still teaches; a run before it began sees its first day. The run's date when no
    extract says which year was served."""
    if len(years) != 1:
        return day
    first, last = school_days(run, years[0])
    return min(max(day, first), last)


def school_days(run: RunFolder, year: int, records: list[dict] | None = None):
    """The first and last day of school of the year Aeries served: the earliest StartDate and the latest EndDate
    of the validated schools' terms; without terms, ``[aeries_hub] school_year_start`` to the day before the next."""
    from datetime import date, timedelta

    if records is None:
        records = []
        if run.exists("validated/schools.parquet"):
            schools = run.read_parquet("validated/schools.parquet", columns={"Terms"})
            records = schools.astype(object).where(schools.notna(), None).to_dict("records")
    terms = [term for school in records for term in (school["Terms"] if school.get("Terms") is not None else [])
             if isinstance(term, dict)]
    starts = sorted(str(t["StartDate"])[:10] for t in terms if t.get("StartDate"))
    ends = sorted(str(t["EndDate"])[:10] for t in terms if t.get("EndDate"))
    month, day = school_year_start_day()
    first = date.fromisoformat(starts[0]) if starts else date(year, month, day)
    last = date.fromisoformat(ends[-1]) if ends else date(year + 1, month, day) - timedelta(days=1)
    return first, last


def aeries_run_values(mapping: Mapping, run: RunFolder, years: list[int]) -> dict[str, str]:
    """The ``{run.NAME}`` values the mapping uses (loader.RUN_VALUES), from what Aeries served this run: the
    school year of the extracts (``years``, :func:`served_years`), and from the validated schools the district's name (school 0's Name) and the
    first and last day of its terms (without terms: ``[aeries_hub] school_year_start`` to the day before the next).

    :raises AirflowFailException: Aeries did not give a value the mapping needs, naming it and what to do.
    """
    from airflow.sdk.exceptions import AirflowFailException

    from aeries_hub.aeries.school_year import school_year_label
    from aeries_hub.aeries.tables import DISTRICT_OFFICE
    from aeries_hub.mapping.models import RUN_VALUES_FROM_SCHOOLS

    def failed(reason: str):
        return AirflowFailException(f"{mapping.path.name}: {reason}; nothing was built")

    if len(years) != 1:
        raise failed("the school year Aeries served is unknown (no extract says it)" if not years else
                     "the extracts read different school years (" + ", ".join(map(school_year_label, years))
                     + "), Aeries rolled over during the run; run it again")
    year = years[0]
    values = {"school_year": school_year_label(year), "school_year_start_year": str(year),
              "school_year_end_year": str(year + 1)}
    if mapping.run_values & RUN_VALUES_FROM_SCHOOLS:
        schools = run.read_parquet("validated/schools.parquet", columns={"SchoolCode", "Name", "Terms"})
        records = schools.astype(object).where(schools.notna(), None).to_dict("records")  # a few hundred schools
        office = next((s for s in records if str(s.get("SchoolCode")).strip() == str(DISTRICT_OFFICE)), None)
        name = str((office or {}).get("Name") or "").strip()
        if "district_name" in mapping.run_values:
            if not name:
                raise failed("{run.district_name} is the Name of Aeries school 0 (the district office), but Aeries "
                             + ("gave school 0 no Name" if office else "listed no school 0")
                             + "; give school 0 the district's name in Aeries")
            values["district_name"] = name
        first, last = school_days(run, year, records)
        values["school_year_first_day"], values["school_year_last_day"] = first.isoformat(), last.isoformat()
    return {name: values[name] for name in mapping.run_values}

