"""A local stand-in for Canvas LMS's SIS Imports API (https://canvas.instructure.com/doc/api/sis_imports.html), what
``delivery.http_upload`` speaks: a real HTTP server, standard library only, built on the emulator's plumbing
(``emulator/http.py``, ``emulator/faults.py``) like the vendor-API receiver.

    with CanvasApiServer(tokens=[token]) as canvas:
        canvas.airflow_connection(token)     # AIRFLOW_CONN_* document (type http)
        canvas.uploads                       # every accepted upload: import id, bytes, Content-Type, params

``imports`` holds what Canvas makes of an upload and how an import advances (each source cited there), ``server``
the routes, the token check, throttling and the faults.
"""

from aeries_sandbox.canvas_api.imports import Upload
from aeries_sandbox.canvas_api.server import CanvasApiServer

__all__ = ["CanvasApiServer", "Upload"]
