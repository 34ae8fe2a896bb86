"""An emulator of the Aeries SIS REST API v5 over real HTTP, for tests, the demo and benchmarks.

* :func:`generate_district` makes a deterministic synthetic district (:class:`District`), which
  :meth:`District.write` / :meth:`District.load` keep as a data dir (one JSON file per table, see README.md).
* :class:`EmulatorServer` serves a district in this process (a thread); :class:`EmulatorProcess` runs
  ``python -m aeries_sandbox.emulator`` as a subprocess.
* Certificates carry security areas (:data:`READ_AREAS`) and write permissions (:data:`WRITE_AREAS`,
  ``"<area> - Insert"`` / ``"<area> - Update"``); faults (429/500/503, dropped connections, truncated bodies, HTML
  login pages, latency) are injected at seeded rates.
* Write endpoints (InsertStudent, UpdateStudent, contacts, gradebook assignments and scores, course requests) validate
  as Aeries does, change the served district and are logged (``GET {base}/__emulator__/writes``).
"""

from aeries_sandbox.emulator.certificates import (
    READ_AREAS,
    SECURITY_AREAS,
    WRITE_AREAS,
    WRITE_PERMISSIONS,
    CertificateError,
    load_certificates,
)
from aeries_sandbox.emulator.district import District
from aeries_sandbox.emulator.faults import FAULT_KINDS, FaultConfig, FaultInjector, parse_fault_spec
from aeries_sandbox.emulator.generator import generate_district
from aeries_sandbox.emulator.generator.state import DistrictShape
from aeries_sandbox.emulator.paging import DEFAULT_UNPAGED_ROUTES, PAGED_ROUTES, PagingConfig
from aeries_sandbox.emulator.process import EmulatorError, EmulatorProcess
from aeries_sandbox.emulator.server import EmulatorServer

__all__ = [
    "District",
    "generate_district",
    "DistrictShape",
    "EmulatorServer",
    "EmulatorProcess",
    "EmulatorError",
    "CertificateError",
    "load_certificates",
    "READ_AREAS",
    "WRITE_AREAS",
    "SECURITY_AREAS",
    "WRITE_PERMISSIONS",
    "FAULT_KINDS",
    "FaultConfig",
    "FaultInjector",
    "parse_fault_spec",
    "PagingConfig",
    "PAGED_ROUTES",
    "DEFAULT_UNPAGED_ROUTES",
]
