"""Databases for the store tests: a fresh database on a real PostgreSQL server (the SQLite case needs none).

The server's URL comes from $DIGITLIB_TEST_DATABASE_URL (`.ci/postgres` starts one and prints it).
Without it the PostgreSQL cases skip on a developer's machine and fail under CI, which must test both.
"""

from __future__ import annotations

import os
import uuid

import pytest

URL_VAR = "DIGITLIB_TEST_DATABASE_URL"
BACKENDS = ["sqlite", "postgresql"]


def server_url() -> str:
    url = os.environ.get(URL_VAR)
    if not url:
        message = f"no PostgreSQL server to test against: set {URL_VAR} (bash .ci/postgres starts one)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must test the PostgreSQL store: {message}")
        pytest.skip(message)
    return url


def fresh_database(url: str) -> tuple[str, callable]:
    """A new empty database on the server of ``url``: (its URL, a function that drops it)."""
    import sqlalchemy as sa

    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"digitlib_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

    return sa.make_url(url).set(database=name).render_as_string(hide_password=False), drop
