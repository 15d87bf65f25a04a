"""The version of skpool, in a module that imports nothing (records and caches store it)."""

__version__ = "0.1.0"
