"""Sessions: the ``.dnnsession`` file that holds a whole session, and exports. No Qt here.

A session is one SQLite file written as work happens (:class:`SessionStore`); :func:`export_csv`,
:func:`export_json` and :func:`export_parameters_npz` write its results for other programs.
"""

from __future__ import annotations

from dnnstudio.sessions.export import (
    ExportError,
    csv_columns,
    export_csv,
    export_json,
    export_parameters_npz,
    session_json,
)
from dnnstudio.sessions.store import (
    APPLICATION_ID,
    MIGRATIONS,
    SCHEMA_VERSION,
    SUFFIX,
    SessionData,
    SessionError,
    SessionStore,
    StoredSearch,
)

__all__ = [
    "APPLICATION_ID",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "SUFFIX",
    "ExportError",
    "SessionData",
    "SessionError",
    "SessionStore",
    "StoredSearch",
    "csv_columns",
    "export_csv",
    "export_json",
    "export_parameters_npz",
    "session_json",
]
