"""Attributes of a package imported when first used (PEP 562): the command line can read a package's light
names (a registry, its help) without loading pandas, scikit-learn or Keras behind the heavy ones.

    __getattr__ = lazy_attributes(__name__, {"compare": "comparison", ...})   # name -> submodule that defines it
    __all__ = public_names(globals(), _LAZY)   # what the package imports, and what it defers, in one list
"""

from __future__ import annotations

import importlib
import types


def lazy_attributes(package: str, where: dict[str, str]):
    """A module-level __getattr__ for `package` that imports `where[name]` (a submodule) on first use of `name`
    and keeps the value in the package, so the next use is a plain attribute."""

    def __getattr__(name: str):
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(importlib.import_module(package), name, value)
        return value

    return __getattr__


def public_names(namespace: dict, lazy: dict | None = None) -> list[str]:
    """A package's `__all__`: the public names it imports (its submodules and this module's helpers aside) and those
    it defers, so that the names are written once, where they are imported or deferred."""
    own = {n for n, v in namespace.items() if not n.startswith("_") and not isinstance(v, types.ModuleType)}
    return sorted((own - {"annotations", "lazy_attributes", "public_names"}) | set(lazy or ()))
