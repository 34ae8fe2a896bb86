"""What a write-back kind is, and the registry of kinds by the key of their section in a write-back file.

A kind (``students``, ``course_requests``, ``scores``) reads its section of the file, checks it, turns the
vendor's records into rows (validate), compares them with Aeries (plan) and knows its writes (security area,
the id an insert gets, how to find a record whose insert answer was lost). A new kind is one module in this
package that ends with ``register(...)``, imported in ``kinds/__init__.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

if TYPE_CHECKING:
    import pandas as pd

    from aeries_hub.aeries.hook import AeriesHook
    from aeries_hub.staging import RunFolder
    from aeries_hub.writeback.spec import WriteBack


class Validated(NamedTuple):
    """The outcome of validate_exports: every reject (``_record``, reason) and the counts."""

    rejects: pd.DataFrame
    records: int
    accepted: int


class Planned(NamedTuple):
    """The plan of writes and how many Aeries students the plan read (for the guard's percent limit)."""

    writes: list[dict]
    students_read: int


class WriteBackKind(Protocol):
    #: The key of the kind's section in a write-back file.
    key: str
    #: The kind of record (``guard.allowed_fields``' key) of each kind of planned write (its ``kind``).
    record_kinds: dict[str, str]
    #: The report's name for the id Aeries gives an insert (``student_id``, ``assignment_number``).
    new_id_name: str
    #: Per kind of record, every Aeries field a write-back of this kind can write (its ``guard.allowed_fields``
    #: says which it may).
    writable_fields: dict[str, tuple[str, ...]]
    #: The Aeries security area of each kind of planned write: the certificate needs it to write.
    security_areas: dict[str, str]

    def load(self, section: dict[str, Any], common: dict[str, Any], origin: dict[str, Any]) -> WriteBack:
        """The write-back of a file with this section: ``common`` are the other keyword arguments of WriteBack,
        ``origin`` the file's ``source.sftp`` or ``source.http``."""
        ...

    def problems(self, writeback: WriteBack) -> list[str]:
        """What is wrong in the section (the schema aside), each line ``<key path>: <problem>`` (the loader adds
        the file and line)."""
        ...

    def written_fields(self, writeback: WriteBack) -> dict[str, dict[str, str]]:
        """Per kind of record, each Aeries field the write-back writes and the key of its file that makes it."""
        ...

    def validate(self, writeback: WriteBack, run: RunFolder, fetched: dict) -> Validated:
        """Read the fetched export files into rows under ``validated/``; a failing record is rejected whole."""
        ...

    def plan(self, writeback: WriteBack, hook: AeriesHook, run: RunFolder) -> Planned:
        """Compare the validated rows with Aeries: the writes, in order."""
        ...

    def id_field(self, write: dict) -> str | None:
        """The field of Aeries' answer to an insert that holds the new record's id, when later writes need it."""
        ...

    def inserted(self, writeback: WriteBack, write: dict, path: str, hook: AeriesHook,
                 rows_of: Callable[[str], list[dict]]) -> Any:
        """When Aeries has the record the insert ``write`` (to ``path``) makes: its id (True when it has none
        that matters), else None. ``rows_of(table)`` reads an Aeries table once per task."""
        ...

    def not_stored(self, write: dict, answer: Any) -> list[str]:
        """The fields of a write that Aeries' ``answer`` does not hold as sent."""
        ...


KINDS: dict[str, WriteBackKind] = {}


def register(kind: WriteBackKind) -> WriteBackKind:
    KINDS[kind.key] = kind
    return kind


def kind_of(writeback: WriteBack) -> WriteBackKind:
    return KINDS[writeback.kind]
