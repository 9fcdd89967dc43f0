"""The corrections store (SQLite or a database by URL) and its file exchange format."""
