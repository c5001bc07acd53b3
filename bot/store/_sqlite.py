"""sqlite-utils, imported without numpy and pandas.

sqlite-utils imports numpy and pandas whenever they are installed (numpy is, for matplotlib's charts) only
to map their number types to column types; the store never hands it such values. Importing numpy costs
~40 ms and ~15 MB in every process that opens the store, so it is hidden while sqlite-utils loads (unless
something already imported it); anything that needs numpy later imports it as usual.
"""

from __future__ import annotations

import sys

_hidden = [name for name in ("numpy", "pandas") if name not in sys.modules]
for _name in _hidden:
    sys.modules[_name] = None  # type: ignore[assignment]  # import fails at once: "not installed"
try:
    from sqlite_utils import Database, Migrations
finally:
    for _name in _hidden:
        if sys.modules.get(_name, ...) is None:
            del sys.modules[_name]

__all__ = ["Database", "Migrations"]
