"""Persistence: the ``Store`` protocol and its SQLite implementation."""
