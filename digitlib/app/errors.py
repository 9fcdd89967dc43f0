"""Error texts fit for a visitor: no server folders, and a database failure only in the server's log."""

from __future__ import annotations

import logging
import re
import tempfile
from pathlib import Path

from digitlib.app.access import is_owner
from digitlib.app.models import shipped_models_dir, trained_models_dir, trained_models_root
from digitlib.store.corrections import StoreError

log = logging.getLogger(__name__)

ABSOLUTE_PATH = re.compile(r"(?<![\w:/.~])/(?:[\w.+-]+/)+([\w.+-]*)")  # /a/b/c (not a URL's //host/): c


def without_server_paths(message: str) -> str:
    """A message for visitors with this server's folders (models, repository, temp, home) cut down to names."""
    places = [
        (trained_models_dir(), ""),
        (trained_models_root(), ""),
        (shipped_models_dir(), "models/"),
        (Path.cwd(), ""),
        (Path(tempfile.gettempdir()), ""),
        (Path.home(), ""),
    ]
    for place, short in places:
        message = message.replace(f"{place}/", short).replace(str(place), short.rstrip("/") or "…")
    return ABSOLUTE_PATH.sub(r"\1", message)  # any other folder (a data directory, a database file): its name


def for_visitor(error: Exception) -> str:
    """An error's text as this visitor may see it: whole for the owner; for anyone else without server paths, and
    a database failure (its address, its driver's words) only in the server's log."""
    if is_owner():
        return str(error)
    if isinstance(error, StoreError):
        log.error("corrections database failed: %s", error)
        return "the corrections database is unavailable (the details are in the server's log)."
    return without_server_paths(str(error))
