"""How a mapping's files reach the vendor: the :class:`Delivery` protocol, and the delivery methods by the key of
the mapping's ``delivery`` section.

A new method is a class with the protocol's methods and a ``from_mapping`` constructor (returning None for a
mapping that delivers otherwise), one line in :data:`DELIVERIES`, and its key in the mapping schema's ``delivery``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from airflow.sdk import Param

from aeries_hub.delivery.http_import import HttpImportDelivery
from aeries_hub.delivery.http_upload import HttpUploadDelivery
from aeries_hub.delivery.sftp_folder import SftpFolderDelivery
from aeries_hub.mapping.models import Mapping
from aeries_hub.staging import RunFolder


class Delivery(Protocol):
    def params(self) -> dict[str, Param]:
        """The DAG params this method adds to the trigger form."""
        ...

    def needs_target_gate(self) -> bool:
        """Whether the DAG checks the target (:meth:`skip_reason`) before it pulls from Aeries."""
        ...

    def skip_reason(self, context: Any) -> str | None:
        """Why this run must not deliver to its target (the run skips), or None."""
        ...

    def target_name(self, params: dict) -> str:
        """The run's target; it names the folder of the DAG's last delivered snapshot there."""
        ...

    def target_address(self, params: dict) -> tuple[str, str]:
        """The connection and the place (folder, endpoint) the run delivers to, for the delivery's fingerprint."""
        ...

    def deliver(self, run: RunFolder, built: list[dict], context: Any, state: Any) -> list[dict]:
        """Send the built files (``state`` is the target's delivered state); one receipt per file."""
        ...

    def files_at_target(self, names: list[str]) -> tuple[str, list[str]]:
        """Where the target is and which of ``names`` it already holds; ``("", [])`` when it cannot tell."""
        ...


#: The delivery methods by their key under ``delivery`` in a mapping.
DELIVERIES: dict[str, Callable[[Mapping], Delivery | None]] = {
    "sftp": SftpFolderDelivery.from_mapping,
    "http": HttpImportDelivery.from_mapping,
    "http_upload": HttpUploadDelivery.from_mapping,
}


def delivery_for(mapping: Mapping) -> Delivery:
    """The delivery method of ``mapping`` (its schema allows exactly one)."""
    for from_mapping in DELIVERIES.values():
        delivery = from_mapping(mapping)
        if delivery is not None:
            return delivery
    raise ValueError(f"{mapping.path.name}: delivery names none of {', '.join(DELIVERIES)}")
