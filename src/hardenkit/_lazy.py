"""Lazy package namespaces (PEP 562): a name's module loads when the name is first used.

A subpackage's ``__init__`` lists which submodule defines each public name; importing
the package costs nothing, and ``from hardenkit.spawn import run`` loads ``run``'s module
and what it needs, not the package's every sibling (``run_async`` would pull in asyncio).
tests/unit/test_import_cost.py pins what each first use loads.
"""

from __future__ import annotations

import sys

# Not typing.TYPE_CHECKING: importing typing costs several ms, and type checkers treat any
# name TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any


def import_module(name: str) -> Any:
    """``importlib.import_module`` for an absolute name, without importing importlib.

    ``import importlib`` loads its package and :mod:`warnings` (~1 ms of a fresh process,
    of every ``hardenkit exec``); ``__import__`` is the same import system.

    Examples:
        >>> import_module("hardenkit.errors").__name__
        'hardenkit.errors'
    """
    __import__(name)
    return sys.modules[name]


def attach(
    package: str, names: dict[str, str], submodules: Iterable[str] = ()
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return ``(__getattr__, __dir__)`` for ``package``: ``names`` maps name -> submodule.

    Examples:
        >>> getattr_, dir_ = attach("hardenkit.fileperms", {"check_path": "_check"})
        >>> getattr_("check_path").__module__
        'hardenkit.fileperms._check'
        >>> dir_()
        ['check_path']
    """
    subs = frozenset(submodules)

    def __getattr__(name: str) -> Any:  # noqa: N807 -- the module hook's name
        sub = names.get(name)
        if sub is not None:
            value = getattr(import_module(f"{package}.{sub}"), name)
        elif name in subs:
            value = import_module(f"{package}.{name}")
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:  # noqa: N807
        return sorted({*names, *subs})

    return __getattr__, __dir__
