"""After a crash, offer the session that was open.

Work is saved as it happens (see :mod:`dnnstudio.sessions`), so nothing finished is lost when
the app crashes or is killed; what a person loses is their place. :class:`SessionGuard`
remembers in the settings which session is open, and that the app has not yet closed
cleanly; the next launch finds the mark and offers to reopen that file.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

__all__ = ["SessionGuard"]


class SessionGuard:
    """Which session is open, kept in ``settings`` until a clean exit."""

    PATH_KEY = "recovery/session"
    CLEAN_KEY = "recovery/clean"

    def __init__(self, settings: QSettings) -> None:
        self.settings = settings

    def crashed_session(self) -> Path | None:
        """The session that was open when the app last stopped without closing cleanly (if
        the file is still there)."""
        clean = self.settings.value(self.CLEAN_KEY, True)
        if clean in (True, "true", "1", 1):
            return None
        path = self.settings.value(self.PATH_KEY, "")
        if not isinstance(path, str) or not path:
            return None
        candidate = Path(path)
        return candidate if candidate.is_file() else None

    def opened(self, path: str) -> None:
        """``path`` is now the open session; until :meth:`closed_cleanly`, a crash is
        assumed."""
        self.settings.setValue(self.PATH_KEY, str(path))
        self.settings.setValue(self.CLEAN_KEY, False)
        self.settings.sync()

    def closed_cleanly(self) -> None:
        self.settings.setValue(self.CLEAN_KEY, True)
        self.settings.sync()
