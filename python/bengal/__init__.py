"""bengal: a static site generator whose hot paths run in the C++ module ``bengal_native``."""

from __future__ import annotations

# The one place the version is written: pyproject.toml reads it (scikit-build-core's regex
# provider) and CMake reads it for bengal_native.__version__.
__version__ = "0.1.0"

__all__ = ["__version__"]
