"""Why rows were rejected, for the run report: by the checks (per source table and file) and by the vendor.

The report keeps the reasons, their counts and the key values of sample rows, never other student data: the
values a vendor quotes in its errors are taken out, and every rejected row with its values stays in the staged
``rejects/*.csv``.
"""

from __future__ import annotations

import re
from typing import Any

from aeries_hub.mapping.models import Mapping
from aeries_hub.run.summary import BuildSummary, check_name

#: How many reasons for rejected rows the report gives per file (the most frequent first), and how many ids each.
REASONS_SHOWN = 5
IDS_SHOWN = 5


def reject_reasons(checks: dict, id_columns: tuple[str, ...]) -> tuple[list[dict], int]:
    """Why rows of a file or table were rejected, most rows first: ``{reason, count, sample_ids}`` for each reject
    check that removed rows (at most ``REASONS_SHOWN``), and how many further reasons there are.

    ``checks`` is a validation outcome's ``to_dict()``; ``sample_ids`` are the key values of its first rejected
    rows (their other values are student data and stay in the staged summary and ``rejects/*.csv``)."""
    found = [
        {"reason": result.get("reason") or check_name(result),
         "count": result["rejected_count"],
         "sample_ids": sample_ids(result.get("sample", []), id_columns)[:IDS_SHOWN]}
        for result in checks.get("results", [])
        if result.get("severity") == "reject" and result.get("rejected_count")
    ]
    found.sort(key=lambda reason: -reason["count"])  # stable: the checks' own order among equal counts
    return found[:REASONS_SHOWN], max(len(found) - REASONS_SHOWN, 0)


def vendor_reject_reasons(rejected: list[dict]) -> tuple[list[dict], int]:
    """Why the vendor refused records (a delivery receipt's ``rejected``), most records first, as
    :func:`reject_reasons`; values the vendor quotes in its errors are left out (:func:`vendor_reason`)."""
    ids_by_reason: dict[str, list[str]] = {}
    for record in rejected:
        record_id = "?" if record.get("id") is None else str(record["id"])
        for reason in dict.fromkeys(vendor_reason(e) for e in record.get("errors") or ["no reason given"]):
            ids_by_reason.setdefault(reason, []).append(record_id)
    found: list[dict[str, Any]] = [{"reason": reason, "count": len(ids), "sample_ids": list(dict.fromkeys(ids))[:IDS_SHOWN]}
             for reason, ids in ids_by_reason.items()]
    found.sort(key=lambda reason: -reason["count"])
    return found[:REASONS_SHOWN], max(len(found) - REASONS_SHOWN, 0)


#: A value inside a vendor's error text: quoted, an e-mail address or a date (e.g. ``students.DOB: '02/10/2010'
#: is not a YYYY-MM-DD date``): a birth date or a name must not reach a report that is kept.
_QUOTED_OR_DATE = re.compile(r"""(?<!\w)'[^']*'(?!\w)|(?<!\w)"[^"]*"(?!\w)|\b\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}\b""")
_LOCAL_PART = re.compile(r"[\w.+-]+")
_AT_DOMAIN = re.compile(r"@[\w-]+(?:\.[\w-]+)+")


def vendor_reason(error: str) -> str:
    """``error`` with each value it quotes replaced by ``<value>``, in time linear in its length.

    The result is that of ``re.sub`` with one pattern, quoted | e-mail address (``[\\w.+-]+@domain``) | date, but
    such a regex tries the e-mail address at every character of a long word, to its end: a 40 kB vendor message
    took 12 s. An address is found at any character of a run of local-part characters exactly when the run ends
    in ``@domain``, so each run is looked at once."""
    text = str(error)
    if "@" not in text:  # no address: the other values are found in one pass
        return _QUOTED_OR_DATE.sub("<value>", text)
    # (first character of the run, end of the run, end of the address) of each run that ends in @domain
    addresses = [(run.start(), run.end(), domain.end()) for run in _LOCAL_PART.finditer(text)
                 if (domain := _AT_DOMAIN.match(text, run.end()))]
    parts, at, index, other = [], 0, 0, None
    while True:
        while index < len(addresses) and addresses[index][1] <= at:
            index += 1
        if other is None or other.start() < at:
            other = _QUOTED_OR_DATE.search(text, at)
        address = (max(at, addresses[index][0]), addresses[index][2]) if index < len(addresses) else None
        if address is not None and (other is None or address[0] <= other.start()):
            start, at_next = address  # the address is tried before a date at the same character
        elif other is not None:
            start, at_next = other.span()
        else:
            break
        parts += [text[at:start], "<value>"]
        at = at_next
    parts.append(text[at:])
    return "".join(parts)


def without_vendor_values(receipt: dict) -> dict:
    """A delivery receipt for the report: the vendor's errors per refused record without the values they quote
    (the verbatim errors are in the staged ``rejects/delivery_<file>.csv``)."""
    if not receipt.get("rejected"):
        return receipt
    rejected = [{**record, "errors": [vendor_reason(e) for e in record.get("errors") or []]}
                for record in receipt["rejected"]]
    return {**receipt, "rejected": rejected}


def sample_ids(sample: list[dict], id_columns: tuple[str, ...]) -> list[str]:
    """The key values of a check's sample rows, in order, once each (``994/101`` for a two-column key)."""
    ids = ("/".join(str(row[c]) for c in id_columns) for row in sample
           if id_columns and all(c in row for c in id_columns))
    return list(dict.fromkeys(ids))


def rejects_of_file(mapping: Mapping, stem: str, build: BuildSummary, delivered: list[dict]) -> dict:
    """The report's reasons for a built file's rejected rows, and for the records the vendor refused."""
    keys = {o.stem: o.key for o in mapping.outputs}
    reasons, more = reject_reasons(build.checks, keys.get(stem, ()))
    refused = [r for d in delivered if d.get("file") == build.file for r in d.get("rejected") or []]
    vendor_reasons, vendor_more = vendor_reject_reasons(refused)
    return {
        "reject_reasons": reasons,
        "more_reject_reasons": more,
        "rejected_by_vendor": len(refused),
        "vendor_reject_reasons": vendor_reasons,
        "more_vendor_reject_reasons": vendor_more,
    }


def rejects_of_table(name: str, table: dict) -> dict:
    from aeries_hub.aeries.tables import TABLES

    reasons, more = reject_reasons(table.get("checks") or {}, TABLES[name].key if name in TABLES else ())
    return {"reject_reasons": reasons, "more_reject_reasons": more}


def reason_text(reason: dict, unit: str = "row") -> str:
    """``field_siteShortName is required (887 rows, e.g. 101, 102, 103)``"""
    ids = reason.get("sample_ids") or []
    counted = f"{reason['count']} {unit}{'' if reason['count'] == 1 else 's'}"
    return f"{reason['reason']} ({counted}" + (f", e.g. {', '.join(ids)})" if ids else ")")


def more_reasons(more: int) -> str:
    return f"{more} more reason{'s' if more != 1 else ''}"



def reject_reason_lines(document: dict) -> list[str]:
    """One line per reason rows were rejected, per source table and file, and per reason the vendor gave."""
    lines = []
    for name, table in (document.get("sources") or {}).items():
        lines += [f"rejected from Aeries {name}: {reason_text(r)}" for r in table.get("reject_reasons") or []]
        if table.get("more_reject_reasons"):
            lines.append(f"rejected from Aeries {name}: {more_reasons(table['more_reject_reasons'])}, "
                         f"see rejects/source_{name}.csv")
    for stem, file in (document.get("files") or {}).items():
        lines += [f"rejected from {file['file']}: {reason_text(r)}" for r in file.get("reject_reasons") or []]
        if file.get("more_reject_reasons"):
            lines.append(f"rejected from {file['file']}: {more_reasons(file['more_reject_reasons'])}, "
                         f"see rejects/{stem}.csv")
        lines += [f"refused by the vendor from {file['file']}: {reason_text(r, 'record')}"
                  for r in file.get("vendor_reject_reasons") or []]
        if file.get("more_vendor_reject_reasons"):
            lines.append(f"refused by the vendor from {file['file']}: "
                         f"{more_reasons(file['more_vendor_reject_reasons'])}, see rejects/delivery_{stem}.csv")
    return lines



def top_reject_reasons(sources: dict[str, dict], files: dict[str, dict], shown: int = 3) -> list[str]:
    """The ``shown`` reasons that rejected the most rows of the run, over its source tables, its files and the
    vendor's refusals (the report's ``sources`` and ``files``): ``patrons.csv: field_siteShortName is required
    (887 rows)``; their sample ids are in the report's lines."""
    found = [(f"Aeries {name}", reason, "row") for name, table in sources.items()
             for reason in table.get("reject_reasons") or []]
    for file in files.values():
        found += [(file["file"], reason, "row") for reason in file.get("reject_reasons") or []]
        found += [(f"refused by the vendor from {file['file']}", reason, "record")
                  for reason in file.get("vendor_reject_reasons") or []]
    found.sort(key=lambda item: -item[1]["count"])
    return [f"{where}: {reason_text({**reason, 'sample_ids': []}, unit)}" for where, reason, unit in found[:shown]]


def rejected_ids(frame, key: tuple[str, ...]) -> list[str]:
    """The key values of the first 1,000 rejected rows (``994/101`` for a two-column key), for a stage summary."""
    if not len(frame):
        return []
    columns = [k for k in key if k in frame.columns]
    return ["/".join(str(v) for v in row) for row in frame[columns].head(1000).itertuples(index=False, name=None)]
