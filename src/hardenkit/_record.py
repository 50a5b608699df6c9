"""Frozen records for hot paths: a frozen, slotted dataclass's behaviour without its cost.

``@dataclass`` builds each class by generating and ``exec``-ing its methods: 0.7-1 ms a
class on these machines, paid by every fresh process that imports it (a ``hardenkit
exec`` defined 28 before confining, 12 of them the confinement steps). :func:`record`
makes the same class from shared methods, in microseconds: positional or keyword
``__init__``, ``__repr__``, ``__eq__`` and ``__hash__`` over the fields in order,
``__match_args__``, ``__slots__``, and :class:`dataclasses.FrozenInstanceError` on any
assignment or deletion. Pickle and copy work. Not supported (refused): defaults,
``field()``, ``__post_init__``, keyword-only fields, inheritance between records.
``dataclasses.fields``/``replace``/``asdict`` do not apply (these are not dataclasses).

Used as ``@record(frozen=True, slots=True)`` under the name of ``dataclass`` for the type
checker (``if TYPE_CHECKING: from dataclasses import dataclass as record``), so mypy
checks each constructor as the dataclass it behaves as.
tests/unit/test_record.py compares the two on the same class.

:class:`NamedTuple` is :class:`typing.NamedTuple`'s class syntax without importing
:mod:`typing` (~3 ms of a first use): the class statement makes the same
:func:`collections.namedtuple` class, with the annotations, defaults, docstring and methods.
"""

from __future__ import annotations

# Not typing.TYPE_CHECKING, for import time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    _C = TypeVar("_C", bound=type)

__all__ = ["NamedTuple", "record"]


class _Frozen:
    """Shared methods of every record (fields: ``__match_args__``, in order)."""

    __slots__ = ()
    __match_args__: tuple[str, ...] = ()

    def __init__(self, *args: object, **kwargs: object) -> None:
        names = self.__match_args__
        name = type(self).__qualname__
        if len(args) > len(names):
            raise TypeError(
                f"{name}.__init__() takes {len(names) + 1} positional arguments "
                f"but {len(args) + 1} were given"
            )
        values = dict(zip(names, args, strict=False))  # fewer args: checked below
        for key, value in kwargs.items():
            if key not in names:
                raise TypeError(f"{name}.__init__() got an unexpected keyword argument {key!r}")
            if key in values:
                raise TypeError(f"{name}.__init__() got multiple values for argument {key!r}")
            values[key] = value
        missing = [n for n in names if n not in values]
        if missing:
            raise TypeError(
                f"{name}.__init__() missing {len(missing)} required argument(s): "
                + ", ".join(repr(n) for n in missing)
            )
        for key in names:
            object.__setattr__(self, key, values[key])

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, n) for n in self.__match_args__)

    def __setattr__(self, name: str, value: object) -> None:
        from dataclasses import FrozenInstanceError  # noqa: PLC0415 -- only on misuse

        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        from dataclasses import FrozenInstanceError  # noqa: PLC0415 -- only on misuse

        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__match_args__)
        return f"{type(self).__qualname__}({fields})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._values() == other._values()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._values())

    def __reduce__(self) -> tuple[type, tuple[object, ...]]:
        return (type(self), self._values())


def record(*, frozen: bool = True, slots: bool = True) -> Callable[[_C], _C]:
    """Make the decorated class a frozen, slotted record (see the module docstring).

    Examples:
        >>> @record(frozen=True, slots=True)
        ... class Point:
        ...     x: int
        ...     y: int
        >>> p = Point(1, y=2)
        >>> p, p == Point(1, 2), hash(p) == hash((1, 2)), p.__match_args__
        (Point(x=1, y=2), True, True, ('x', 'y'))
        >>> p.x = 3
        Traceback (most recent call last):
        ...
        dataclasses.FrozenInstanceError: cannot assign to field 'x'
    """
    if not (frozen and slots):
        raise TypeError("record() makes frozen, slotted classes only")

    def wrap(cls: _C) -> _C:
        if cls.__bases__ != (object,):
            raise TypeError(f"record {cls.__qualname__}: no base classes")
        namespace: dict[str, Any] = dict(vars(cls))
        fields = tuple(namespace.get("__annotations__", {}))
        for key in ("__dict__", "__weakref__", "__post_init__"):
            if key == "__post_init__" and key in namespace:
                raise TypeError(f"record {cls.__qualname__}: no __post_init__")
            namespace.pop(key, None)
        for key in fields:
            if key in namespace:
                raise TypeError(f"record {cls.__qualname__}.{key}: no defaults")
        namespace["__slots__"] = fields
        namespace["__match_args__"] = fields
        new: _C = type(cls.__name__, (_Frozen,), namespace)  # type: ignore[assignment]
        return new

    return wrap


class _NamedTupleMeta(type):
    def __new__(
        mcls,
        name: str,
        bases: tuple[type, ...],
        namespace: dict[str, Any],
    ) -> Any:
        if not any(isinstance(b, _NamedTupleMeta) for b in bases):
            return super().__new__(mcls, name, bases, namespace)  # NamedTuple itself
        import collections  # noqa: PLC0415 -- loaded already by anything that uses this

        fields = tuple(namespace.get("__annotations__", {}))
        defaults = [namespace[f] for f in fields if f in namespace]
        if any(f in namespace for f in fields[: len(fields) - len(defaults)]):
            raise TypeError(f"{name}: a field without a default follows one with a default")
        make: Any = collections.namedtuple  # noqa: PYI024 -- typing.NamedTuple, minus typing
        cls = make(name, fields, defaults=defaults, module=namespace["__module__"])
        cls.__qualname__ = namespace["__qualname__"]
        cls.__annotations__ = namespace.get("__annotations__", {})
        if namespace.get("__doc__"):
            cls.__doc__ = namespace["__doc__"]
        skip = {"__module__", "__qualname__", "__annotations__", "__doc__", *fields}
        for key, value in namespace.items():
            if key not in skip:
                setattr(cls, key, value)
        return cls


class NamedTuple(metaclass=_NamedTupleMeta):
    """Base of a named tuple class statement (as :class:`typing.NamedTuple`).

    Examples:
        >>> class Abi(NamedTuple):
        ...     name: str
        ...     token: int = 0
        >>> Abi("x86_64"), Abi("x32", 1)._replace(token=2), Abi._fields
        (Abi(name='x86_64', token=0), Abi(name='x32', token=2), ('name', 'token'))
    """
