"""Newshound: watches news feeds for the words a team cares about and tells them in their channels."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("newshound")
except PackageNotFoundError:  # running from a checkout without installing
    __version__ = "0.0.0+local"
