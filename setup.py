"""The optional C accelerator of the parse stage, bot/parse/_speedups.c; the rest is in pyproject.toml.

``bot/parse/normalise.py`` and ``guards.py`` run the same loops in Python when the extension is not
built (no C compiler where it is installed, say): ``optional=True`` lets the install go on without it.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "bot.parse._speedups",
            sources=["bot/parse/_speedups.c"],
            depends=["bot/parse/_speedups_impl.h"],
            optional=True,
        )
    ]
)
