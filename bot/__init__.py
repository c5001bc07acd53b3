"""Newshound: watches news feeds for the words a team cares about and tells them in their channels."""

#: The one place the version is written (``pyproject.toml`` reads it from here). A constant, not
#: ``importlib.metadata``: reading the installed distributions costs ~30 ms on every start.
__version__ = "0.1.0"
