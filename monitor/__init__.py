"""Earshot's core: settings, topics, the data model and store, sources, the pipeline, the CLI."""

__version__ = "0.1.0"
