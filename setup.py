"""The optional C accelerator for the HTML-to-text loops; everything else is in pyproject.toml.

``bot/parse/normalise.py`` runs the same loops in Python when the extension is not built (no C
compiler where it is installed, say): ``optional=True`` lets the install go on without it.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "bot.parse._htmltext",
            sources=["bot/parse/_htmltext.c"],
            depends=["bot/parse/_htmltext_impl.h"],
            optional=True,
        )
    ]
)
