"""A local stand-in for a vendor's HTTPS import API: SchoolMint Enroll's student import (see vendor_api_README.md).

A real HTTP server, standard library only (``ThreadingHTTPServer`` + ``json``), like the Aeries emulator:

    with VendorApiServer(tokens=[token]) as api:              # in this process, a daemon thread
        api.url                                                # http://127.0.0.1:PORT
        api.airflow_connection("enroll_sandbox", "sandbox", token)   # AIRFLOW_CONN_* dict (type http)
        api.set_faults({"503": 1.0}, max_faults=2)             # fails twice, then succeeds
        api.state("sandbox")                                   # {"records", "batches", "requests", ...}

    with VendorApiProcess(tokens=[token]) as api:             # python -m aeries_sandbox.vendor_api
        ...                                                    # the same helpers, over the control endpoints

Every instance (the first path segment: ``/sandbox``, ``/production``, any ``[a-z0-9_-]+``) has its own store.
``POST /{instance}/api/v1/students/import`` takes ``{"records": [...]}`` with ``Authorization: Bearer <token>``
and an ``Idempotency-Key``; each record is checked on its own and upserted by ``students.student_district_id``
(Enroll's "Overwrite": null clears a field, an absent key keeps it, a list replaces the stored list). The
same key with the same body replays the first answer; with another body it is a 422. The export side (what a
write-back with ``source.http`` reads): ``GET /{instance}/api/v1/exports`` lists the files placed with
``put_export(instance, name, data)`` and ``GET /{instance}/api/v1/exports/{name}`` serves one (both need the
token). Faults are seeded and
rate-controlled with the emulator's :class:`~aeries_sandbox.emulator.faults.FaultInjector`.

Modules: ``records`` (what Enroll accepts in a record, the Overwrite merge), ``receiver`` (tokens, the
per-instance store, :class:`ReceiverApp`), ``handler`` (one HTTP request), ``server`` (:class:`VendorApiServer`,
:class:`VendorApiProcess`) and ``__main__`` (the command line).

Tokens are never logged: one line per request gives method, path, status, milliseconds, the idempotency
key, counts and the injected fault.
"""
