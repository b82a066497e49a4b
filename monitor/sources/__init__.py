"""Sources: each turns a platform's responses into :class:`monitor.items.Batch` objects.

A source never writes to the store. See :mod:`monitor.sources.base` for the contract.
"""
