"""The corrections store (SQLite or a database by URL), its file exchange format, and the state several app servers
share through the database."""


class StoreError(Exception):
    """The corrections database can't be used; the message names the database and what to do.

    Here, apart from the database code, so that reading pictures (``python -m digitlib predict``) needs no SQL library.
    """
