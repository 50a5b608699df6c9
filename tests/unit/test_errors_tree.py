"""The exception tree drawn in hardenkit/errors.py is the real one, and it is the only one."""

from __future__ import annotations

import ast
import builtins
import importlib
import pkgutil
import re
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import hardenkit
from hardenkit import errors
from hardenkit.spawn import CommandFailed

if TYPE_CHECKING:
    from types import ModuleType

_LINE = re.compile(r"^(?P<indent>[ │├└─]*)(?P<name>\w+)(?: \((?P<bases>[\w., ]+)\))?(?P<rest>.*)$")


def _public_modules() -> list[ModuleType]:
    """Every hardenkit module whose dotted name has no private part."""
    modules = [hardenkit]
    for info in pkgutil.walk_packages(hardenkit.__path__, "hardenkit."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        modules.append(importlib.import_module(info.name))
    return modules


def _reachable_errors() -> set[type[BaseException]]:
    """Exception classes a user can reach: public modules' names and the top namespace."""
    found: set[type[BaseException]] = set()
    for module in _public_modules():
        names = [n for n in dir(module) if not n.startswith("_")]
        if module is hardenkit:
            names = list(hardenkit.__all__)
        for name in names:
            obj = getattr(module, name)
            if (
                isinstance(obj, type)
                and issubclass(obj, BaseException)
                and obj.__module__.startswith("hardenkit")
            ):
                found.add(obj)
    # Subclasses defined anywhere that the imports above loaded.
    todo = [errors.HardenkitError]
    while todo:
        cls = todo.pop()
        found.add(cls)
        todo.extend(cls.__subclasses__())
    return {cls for cls in found if not cls.__name__.startswith("_")}


def _drawn() -> dict[str, tuple[str | None, frozenset[str], frozenset[str]]]:
    """Name -> (parent, drawn builtin bases, drawn fields), parsed from the docstring."""
    doc = errors.__doc__ or ""
    start = doc.index("    HardenkitError (Exception)")
    lines = doc[start:].split("\n\n", 1)[0].splitlines()
    tree: dict[str, tuple[str | None, frozenset[str], frozenset[str]]] = {}
    stack: list[tuple[int, str]] = []
    for line in lines:
        match = _LINE.match(line.strip("\n")[4:])
        assert match, line
        depth = len(match["indent"])
        while stack and stack[-1][0] >= depth:
            stack.pop()
        bases = frozenset(b.strip() for b in (match["bases"] or "").split(",") if b.strip())
        fields = frozenset(re.findall(r"\.(\w+)", match["rest"]))
        tree[match["name"]] = (stack[-1][1] if stack else None, bases, fields)
        stack.append((depth, match["name"]))
    return tree


def _public_parent(cls: type[BaseException]) -> str | None:
    for base in cls.__mro__[1:]:
        if issubclass(base, errors.HardenkitError) and not base.__name__.startswith("_"):
            return base.__name__
    return None


def _builtin_bases(cls: type[BaseException]) -> frozenset[str]:
    return frozenset(
        base.__name__ if base.__module__ == "builtins" else f"{base.__module__}.{base.__qualname__}"
        for base in cls.__bases__
        if not issubclass(base, errors.HardenkitError)
    )


def test_every_reachable_error_is_defined_in_errors_and_drawn_where_it_sits() -> None:
    tree = _drawn()
    reachable = _reachable_errors()
    assert len(reachable) >= len(errors.__all__)
    for cls in reachable:
        assert cls.__module__ == "hardenkit.errors", f"{cls.__qualname__} lives in {cls.__module__}"
        assert cls.__name__ in tree, f"{cls.__name__} is missing from the tree in errors.py"
        assert cls.__name__ in errors.__all__
        parent, bases, fields = tree[cls.__name__]
        assert parent == _public_parent(cls), cls.__name__
        assert bases == _builtin_bases(cls), cls.__name__
        own: tuple[str, ...] = getattr(cls, "_fields", ())
        inherited = getattr(cls.__mro__[1], "_fields", ())
        assert fields <= set(own), f"{cls.__name__} draws fields it does not have"
        assert set(own) - set(inherited) <= fields, f"{cls.__name__} hides its fields"


def test_every_drawn_error_exists() -> None:
    for name in _drawn():
        assert isinstance(getattr(errors, name), type), name
        assert name in errors.__all__


def test_command_failed_is_one_class_wherever_it_is_imported() -> None:
    assert CommandFailed is errors.CommandFailed is hardenkit.CommandFailed
    assert issubclass(CommandFailed, subprocess.CalledProcessError)
    assert issubclass(CommandFailed, errors.HardenkitError)


#: Public-named exception classes defined outside errors.py on purpose: internal signals that
#: are always caught inside hardenkit and turned into a tree error, never raised to a caller.
#: Each says where it is caught; a new entry needs the same justification. A private class
#: (``_Usage`` of the CLI, ``_Cancelled`` of run()'s pump) is internal by its name, wherever
#: it moves; the test below checks that no private one is a HardenkitError or reachable.
_INTERNAL = {
    # caught in spawn/_helper.py (the exec helper's report becomes SandboxError/OSError)
    ("hardenkit._linux.exec_helper", "HelperError"),
    # caught in audit/_filter.py (an unreadable filter is scored, not raised)
    ("hardenkit._linux.seccomp_read", "FilterUnreadable"),
    # raised by spawn/_supervise.py when run_async is cancelled, caught in spawn/_async.py
    ("hardenkit.spawn._result", "Cancelled"),
}
_SRC = Path(hardenkit.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(_SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_exception_def(module: str, node: ast.ClassDef, *, top_level: bool) -> bool:
    """Whether ``node`` defines an exception (imported when top level, else by its bases)."""
    if top_level and not module.endswith("__main__"):
        obj = getattr(importlib.import_module(module), node.name, None)
        if isinstance(obj, type):
            return issubclass(obj, BaseException)
    names = {ast.unparse(b).rsplit(".", 1)[-1] for b in node.bases}
    builtin = {n for n in dir(builtins) if isinstance(getattr(builtins, n), type)}
    return any(
        n.endswith(("Error", "Exception", "Failed", "Unreadable"))
        or (n in builtin and issubclass(getattr(builtins, n), BaseException))
        or n in errors.__all__
        for n in names
    )


def _defined_exceptions() -> list[tuple[str, str]]:
    """(module, class) for every exception class defined in hardenkit's source, nested too."""
    found = []
    for path in sorted(_SRC.rglob("*.py")):
        module = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = {id(n) for n in tree.body}
        found += [
            (module, node.name)
            for node in ast.walk(tree)
            if isinstance(node, ast.ClassDef)
            and _is_exception_def(module, node, top_level=id(node) in top)
        ]
    return found


def test_every_exception_class_defined_anywhere_is_in_the_tree_or_internal() -> None:
    tree = _drawn()
    defined = _defined_exceptions()
    assert ("hardenkit.errors", "CommandFailed") in defined  # the walk sees nested classes
    assert ("hardenkit._linux.seccomp_read", "FilterUnreadable") in defined
    for module, name in defined:
        if module == "hardenkit.errors":
            if name.startswith("_"):  # a shared private base (_NamedEnvError)
                assert name not in errors.__all__
                continue
            assert name in tree, f"{name} is missing from the tree drawn in errors.py"
            assert name in errors.__all__, f"{name} is not exported by errors.__all__"
        elif not name.startswith("_"):
            assert (module, name) in _INTERNAL, (
                f"{module}.{name} is an exception defined outside errors.py: define it there "
                "(drawn in the tree, in __all__, re-exported where raised), or, if it never "
                "leaves hardenkit, list it in _INTERNAL with where it is caught"
            )


def test_internal_exceptions_stay_out_of_the_tree_and_the_public_modules() -> None:
    reachable = _reachable_errors()
    internal = _INTERNAL | {
        (m, n) for m, n in _defined_exceptions() if m != "hardenkit.errors" and n.startswith("_")
    }
    for module, name in internal:
        cls = getattr(importlib.import_module(module), name, None)
        if cls is None:
            continue  # defined inside a function: judged by the walk above only
        assert not issubclass(cls, errors.HardenkitError), name
        assert cls not in reachable, name
        assert name not in _drawn(), name
