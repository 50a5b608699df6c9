"""hardenkit's public dataclasses, built without importing :mod:`dataclasses` first.

Why: ``import dataclasses`` loads ``inspect`` and with it ``re``, ``enum``, ``ast``, ``dis``
and ``tokenize``: ~30 ms of a fresh process on 3.11, paid by the first call of every
subpackage before it does anything (a first use has a budget of 40 ms and ``hardenkit
exec`` one of 80 ms). ``@dataclasses.dataclass`` then ``exec``-s six methods a class
(0.7-1 ms each class). None of that is needed to make or use a frozen record.

:func:`dataclass` takes the standard decorator's arguments and builds the same class: the
same ``__init__`` (signature, defaults, ``default_factory``, ``init=False`` fields,
``KW_ONLY``, ``__post_init__``), ``__repr__`` (recursion-safe), ``__eq__``, ``__hash__``,
``__match_args__``, ``__slots__``, :class:`dataclasses.FrozenInstanceError` on assignment,
pickling and copying, and ``__replace__`` on 3.13. To the dataclass machinery it is a
dataclass: ``__dataclass_fields__`` and ``__dataclass_params__`` are made on first access
by running :func:`dataclasses.dataclass` on the same definition, so
``dataclasses.fields``, ``replace``, ``asdict`` and ``is_dataclass`` see the standard
library's own Field objects, and only a caller who introspects pays for the import.

Where :mod:`dataclasses` cannot be loaded (a process whose Landlock policy leaves the
standard library out), an assignment still raises an :class:`AttributeError` (a subclass of
it named ``_FrozenInstanceError``) and ``hasattr(obj, "__dataclass_fields__")`` is False.
Subclasses, the standard decorator's ones too, copy, pickle and ``replace`` their own fields.

Only what a frozen, slotted hardenkit record needs is accepted; anything else
(``frozen=False``, ``order=True``, base classes, ``ClassVar``/``InitVar`` fields, also
under another name, ``__slots__`` of its own, a class without a docstring) raises
:class:`TypeError` when the class is made, rather than behave differently from the
standard decorator. tests/unit/test_dataclass.py builds each hardenkit class again with
:mod:`dataclasses` and compares the two.

Modules import ``dataclass``, ``field`` and ``KW_ONLY`` from here; the type checker is
shown the standard library's (so mypy checks each class as the dataclass it behaves as).
"""

from __future__ import annotations

import sys
from _operator import attrgetter
from _thread import RLock, get_ident

# Not typing.TYPE_CHECKING, for import time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, TypeVar

    _T = TypeVar("_T")

__all__ = ["KW_ONLY", "dataclass", "field", "field_names", "replace"]


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()


class _FactoryMarker:
    """The default a ``default_factory`` parameter shows (``dataclasses`` shows ``<factory>``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<factory>"


_HAS_FACTORY = _FactoryMarker()


class _KwOnly:
    """Annotation marking the fields after it keyword-only (as :data:`dataclasses.KW_ONLY`)."""


class _Field:
    """A field, as :func:`dataclasses.field` declares it (same keywords); ``field`` here.

    The standard library's Field is made from it on first introspection.

    Examples:
        >>> @dataclass(frozen=True, slots=True, kw_only=True)
        ... class Job:
        ...     '''A job.'''
        ...     name: str
        ...     tries: int = field(default=3, compare=False)
        >>> Job(name="a") == Job(name="a", tries=1), Job(name="a")
        (True, Job(name='a', tries=3))
    """

    __slots__ = (
        "compare",
        "default",
        "default_factory",
        "hash",
        "init",
        "kw_only",
        "metadata",
        "name",
        "repr",
        "type",
    )

    def __init__(
        self,
        *,
        default: Any = _MISSING,
        default_factory: Any = _MISSING,
        init: bool = True,
        repr: bool = True,  # noqa: A002 -- the standard library's keyword
        hash: bool | None = None,  # noqa: A002 -- the standard library's keyword
        compare: bool = True,
        metadata: Mapping[Any, Any] | None = None,
        kw_only: Any = _MISSING,
    ) -> None:
        if default is not _MISSING and default_factory is not _MISSING:
            raise ValueError("cannot specify both default and default_factory")
        self.name = ""
        self.type = ""
        self.default = default
        self.default_factory = default_factory
        self.init = init
        self.repr = repr
        self.hash = hash
        self.compare = compare
        self.metadata = metadata
        self.kw_only = kw_only


class _Spec:
    """What :func:`dataclass` was told about a class, for the lazy standard view."""

    __slots__ = ("fields", "kw_only", "repr")

    def __init__(self, fields: tuple[_Field, ...], kw_only: bool, repr: bool) -> None:  # noqa: A002
        self.fields = fields
        self.kw_only = kw_only
        self.repr = repr


#: Each class :func:`dataclass` made, with its fields (classes are module-level and live on).
_SPECS: dict[type, _Spec] = {}

#: The standard decorator's keywords this one takes only at these values.
_FIXED = {
    "init": True,
    "eq": True,
    "order": False,
    "unsafe_hash": False,
    "frozen": True,
    "match_args": True,
    "slots": True,
    "weakref_slot": False,
}


def _dataclass(**options: bool) -> Callable[[type[_T]], type[_T]]:
    """Make the decorated class a frozen, slotted dataclass (see the module docstring).

    Examples:
        >>> @dataclass(frozen=True, slots=True, kw_only=True)
        ... class Point:
        ...     '''A point.'''
        ...     x: int
        ...     y: int = 0
        >>> p = Point(x=1)
        >>> p, p == Point(x=1, y=0), hash(p) == hash((1, 0))
        (Point(x=1, y=0), True, True)
        >>> import dataclasses
        >>> dataclasses.replace(p, y=5), [f.name for f in dataclasses.fields(p)]
        (Point(x=1, y=5), ['x', 'y'])
        >>> p.x = 3
        Traceback (most recent call last):
        ...
        dataclasses.FrozenInstanceError: cannot assign to field 'x'
    """
    for key, value in options.items():
        if key in ("kw_only", "repr"):
            continue
        if key not in _FIXED or value is not _FIXED[key]:
            raise TypeError(f"hardenkit's dataclass() does not take {key}={value!r}")
    if not (options.get("frozen") and options.get("slots")):
        raise TypeError("hardenkit's dataclass() makes frozen, slotted classes only")
    kw_only = options.get("kw_only", False)
    with_repr = options.get("repr", True)

    def wrap(cls: type[_T]) -> type[_T]:
        return _process(cls, kw_only=kw_only, with_repr=with_repr)

    return wrap


def _collect(cls: type, kw_only: bool) -> tuple[_Field, ...]:
    """The fields in definition order, checked as :mod:`dataclasses` checks them."""
    name = cls.__qualname__
    body = cls.__dict__
    annotations: dict[str, Any] = body.get("__annotations__", {})
    for key, value in body.items():
        if isinstance(value, _Field) and key not in annotations:
            raise TypeError(f"{key!r} is a field but has no type annotation")
    fields: list[_Field] = []
    seen_marker = False
    module = sys.modules.get(cls.__module__)
    namespace: Mapping[str, Any] = vars(module) if module else {}
    for key, kind in annotations.items():
        if not isinstance(kind, str):
            raise TypeError(f"{name}.{key}: annotations must be strings (postponed evaluation)")
        marker = _marker(kind, namespace)
        if marker == "refused":
            raise TypeError(f"{name}.{key}: {kind} fields are not supported here")
        if marker == "KW_ONLY":
            if seen_marker:
                raise TypeError(f"{key!r} is KW_ONLY, but KW_ONLY has already been specified")
            seen_marker = kw_only = True
            continue
        fields.append(_one_field(name, key, kind, body.get(key, _MISSING), kw_only))
    _check_order(fields)
    return tuple(fields)


def _marker(kind: str, namespace: Mapping[str, Any]) -> str:
    """``KW_ONLY``, ``refused`` (ClassVar, InitVar, Final) or ``""``, by name or by alias.

    An alias is looked up in the class's module, as :mod:`dataclasses` does; the standard
    library's objects are compared only if their module is loaded (if it is not, the
    module cannot have named them).
    """
    head = kind.split("[", 1)[0].strip()
    if head in ("KW_ONLY", "dataclasses.KW_ONLY"):
        return "KW_ONLY"
    if head.rpartition(".")[2] in ("ClassVar", "InitVar", "Final"):
        return "refused"
    first, *rest = head.split(".")
    found: Any = namespace.get(first)
    for part in rest:
        found = getattr(found, part, None)
    if found is None:
        return ""
    standard = sys.modules.get("dataclasses")
    typing = sys.modules.get("typing")
    if found is _KwOnly or (standard is not None and found is standard.KW_ONLY):
        return "KW_ONLY"
    refused = (
        *((standard.InitVar,) if standard is not None else ()),
        *((typing.ClassVar, typing.Final) if typing is not None else ()),
    )
    if any(found is r for r in refused) or (
        standard is not None and isinstance(found, standard.InitVar)
    ):
        return "refused"
    return ""


def _one_field(owner: str, key: str, kind: str, value: object, kw_only: bool) -> _Field:
    if key == "self":
        raise TypeError(f"{owner}: a field may not be called 'self'")
    spec = value if isinstance(value, _Field) else _Field(default=value)
    spec.name = key
    spec.type = kind
    if spec.kw_only is _MISSING:
        spec.kw_only = kw_only
    if spec.default is not _MISSING and spec.default.__class__.__hash__ is None:
        raise ValueError(
            f"mutable default {type(spec.default)} for field {key} is not allowed: "
            "use default_factory"
        )
    return spec


def _check_order(fields: list[_Field]) -> None:
    seen_default = False
    for spec in fields:
        if not spec.init or spec.kw_only:
            continue
        if spec.default is _MISSING and spec.default_factory is _MISSING:
            if seen_default:
                raise TypeError(f"non-default argument {spec.name!r} follows default argument")
        else:
            seen_default = True


def _make_init(cls: type, fields: tuple[_Field, ...], post_init: bool) -> Any:
    """``__init__`` as the standard decorator writes it: one compiled function."""
    names: dict[str, Any] = {"__hk_set": object.__setattr__, "__hk_factory": _HAS_FACTORY}
    positional: list[str] = []
    keyword: list[str] = []
    body: list[str] = []
    for spec in fields:
        key = spec.name
        if spec.default_factory is not _MISSING:
            names[f"__hk_make_{key}"] = spec.default_factory
        elif spec.default is not _MISSING:
            names[f"__hk_dflt_{key}"] = spec.default
        if spec.init:
            if spec.default_factory is not _MISSING:
                param = f"{key}=__hk_factory"
                value = f"__hk_make_{key}() if {key} is __hk_factory else {key}"
            elif spec.default is not _MISSING:
                param, value = f"{key}=__hk_dflt_{key}", key
            else:
                param, value = key, key
            (keyword if spec.kw_only else positional).append(param)
        elif spec.default_factory is not _MISSING:
            value = f"__hk_make_{key}()"
        elif spec.default is not _MISSING:
            value = f"__hk_dflt_{key}"
        else:
            continue
        body.append(f"  __hk_set(self, {key!r}, {value})")
    if post_init:
        body.append("  self.__post_init__()")
    params = ["self", *positional, *(["*", *keyword] if keyword else [])]
    source = (
        f"def __hk_create__({', '.join(names)}):\n"
        f" def __init__({', '.join(params)}):\n"
        + ("\n".join(" " + line for line in body) if body else "  pass")
        + "\n return __init__\n"
    )
    module = sys.modules.get(cls.__module__)
    namespace: dict[str, Any] = {}
    exec(source, module.__dict__ if module else {}, namespace)  # noqa: S102 -- our own source
    init = namespace["__hk_create__"](**names)
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__annotations__ = {s.name: s.type for s in fields if s.init} | {"return": None}
    return init


def _values(names: tuple[str, ...]) -> Callable[[object], tuple[object, ...]]:
    """A function giving an object's values of ``names`` as a tuple."""
    if not names:
        return lambda _obj: ()
    if len(names) == 1:
        one = attrgetter(names[0])
        return lambda obj: (one(obj),)
    return attrgetter(*names)


def _make_repr(shown: tuple[str, ...]) -> Callable[[object], str]:
    """``__repr__`` of the fields shown, ``...`` where an object holds itself."""
    running: set[tuple[int, int]] = set()

    def __repr__(self: object) -> str:  # noqa: N807
        key = (id(self), get_ident())
        if key in running:
            return "..."
        running.add(key)
        try:
            parts = ", ".join([f"{n}={getattr(self, n)!r}" for n in shown])
            return f"{self.__class__.__qualname__}({parts})"
        finally:
            running.discard(key)

    return __repr__


def _pickling(every: tuple[str, ...]) -> dict[str, Any]:
    """``__getstate__``/``__setstate__`` of a frozen slotted class, as the standard ones."""

    def names(obj: object) -> tuple[str, ...]:
        return every if type(obj) in _SPECS else _subclass_names(type(obj), every)

    def __getstate__(self: object) -> list[object]:  # noqa: N807
        return [getattr(self, n) for n in names(self)]

    def __setstate__(self: object, state: list[object]) -> None:  # noqa: N807
        for key, value in zip(names(self), state, strict=False):
            object.__setattr__(self, key, value)

    return {"__getstate__": __getstate__, "__setstate__": __setstate__}


def _subclass_names(cls: type, inherited: tuple[str, ...]) -> tuple[str, ...]:
    """The fields of a subclass (a dataclass on top of ours may add some), as ``fields()``."""
    try:
        import dataclasses  # noqa: PLC0415 -- subclasses only; loaded by whoever made them
    except (ImportError, OSError):  # out of reach (confined): no dataclass subclass then
        return inherited
    return tuple(f.name for f in dataclasses.fields(cls))


def _methods(
    cls: type, fields: tuple[_Field, ...], body: Mapping[str, Any], with_repr: bool
) -> dict[str, Any]:
    """The methods the standard decorator adds, for those the class does not define."""
    qualname = cls.__qualname__
    added: dict[str, Any] = {}
    compared = tuple(s.name for s in fields if s.compare)
    hashed = _values(tuple(s.name for s in fields if (s.compare if s.hash is None else s.hash)))

    if with_repr:
        added["__repr__"] = _make_repr(tuple(s.name for s in fields if s.repr))
    added["__eq__"] = _eq_by_field(compared) if sys.version_info >= (3, 13) else _eq(compared)

    def __hash__(self: object) -> int:  # noqa: N807
        return hash(hashed(self))

    class_hash = body.get("__hash__", _MISSING)
    explicit_hash = not (class_hash is _MISSING or (class_hash is None and "__eq__" in body))
    if not explicit_hash:
        added["__hash__"] = __hash__
    added.update(_pickling(tuple(s.name for s in fields)))
    if sys.version_info >= (3, 13):
        added["__replace__"] = lambda self, /, **changes: replace(self, **changes)
    for key, method in added.items():
        method.__qualname__ = f"{qualname}.{key}"
        method.__module__ = cls.__module__
    return {k: v for k, v in added.items() if k not in body or k == "__hash__"}


def _eq(names: tuple[str, ...]) -> Callable[[object, object], object]:
    """3.10-3.12's ``__eq__``: the tuples of the compared fields."""
    values = _values(names)

    def __eq__(self: object, other: object) -> object:  # noqa: N807
        if other.__class__ is self.__class__:
            return values(self) == values(other)
        return NotImplemented

    return __eq__


def _eq_by_field(names: tuple[str, ...]) -> Callable[[object, object], object]:
    """3.13's ``__eq__``: identity first, then ``self.a == other.a and ...``."""

    def __eq__(self: object, other: object) -> object:  # noqa: N807
        if self is other:
            return True
        if other.__class__ is not self.__class__:
            return NotImplemented
        result: object = True
        for name in names:
            result = getattr(self, name) == getattr(other, name)
            if not result:
                return result
        return result

    return __eq__


class _FrozenInstanceError(AttributeError):
    """Raised for :class:`dataclasses.FrozenInstanceError` where that module cannot be loaded.

    A confined process (Landlock without the standard library) still refuses the write as
    an :class:`AttributeError`, as the standard class is, rather than with the import's
    PermissionError.
    """


def _frozen_error(message: str) -> Exception:
    try:
        from dataclasses import FrozenInstanceError  # noqa: PLC0415 -- only on misuse
    except (ImportError, OSError):
        return _FrozenInstanceError(message)
    return FrozenInstanceError(message)


def _process(cls: type[_T], *, kw_only: bool, with_repr: bool) -> type[_T]:
    name = cls.__qualname__
    if cls.__bases__ != (object,) or type(cls) is not type:
        raise TypeError(f"{name}: hardenkit dataclasses have no base class and no metaclass")
    body = dict(cls.__dict__)
    if not body.get("__doc__"):
        raise TypeError(f"{name}: give it a docstring (the standard decorator would make one)")
    if "__slots__" in body:
        raise TypeError(f"{name} already specifies __slots__")
    for key in ("__setattr__", "__delattr__"):
        if key in body:
            raise TypeError(f"Cannot overwrite attribute {key} in class {cls.__name__}")
    fields = _collect(cls, kw_only)
    every = tuple(s.name for s in fields)
    if "__init__" not in body:
        body["__init__"] = _make_init(cls, fields, "__post_init__" in body)
    body.update(_methods(cls, fields, cls.__dict__, with_repr))
    body.setdefault("__match_args__", tuple(s.name for s in fields if s.init and not s.kw_only))
    for key in (*every, "__dict__", "__weakref__"):
        body.pop(key, None)
    body["__slots__"] = every
    body["__qualname__"] = cls.__qualname__
    body["__dataclass_fields__"] = _StandardView("fields")
    body["__dataclass_params__"] = _StandardView("params")
    new = type(cls.__name__, (object,), body)
    _freeze(new, every)
    body["__dataclass_fields__"].home = new
    body["__dataclass_params__"].home = new
    _SPECS[new] = _Spec(fields, kw_only, with_repr)
    return new


def _freeze(new: type, every: tuple[str, ...]) -> None:
    """Add ``__setattr__``/``__delattr__`` raising FrozenInstanceError, as the standard one."""

    def __setattr__(self: object, key: str, value: object) -> None:  # noqa: N807
        if type(self) is new or key in every:
            raise _frozen_error(f"cannot assign to field {key!r}")
        object.__setattr__(self, key, value)  # a subclass's own attribute

    def __delattr__(self: object, key: str) -> None:  # noqa: N807
        if type(self) is new or key in every:
            raise _frozen_error(f"cannot delete field {key!r}")
        object.__delattr__(self, key)

    for method in (__setattr__, __delattr__):
        method.__qualname__ = f"{new.__qualname__}.{method.__name__}"
        method.__module__ = new.__module__
        setattr(new, method.__name__, method)


_VIEW_LOCK = RLock()


class _StandardView:
    """``__dataclass_fields__``/``__dataclass_params__``, made by :mod:`dataclasses` when read."""

    __slots__ = ("home", "kind")

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.home: type | None = None

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        home = self.home
        if home is None:  # pragma: no cover -- set before the class is returned
            raise AttributeError(f"__dataclass_{self.kind}__")
        with _VIEW_LOCK:  # one set of Field objects, whichever thread asks first
            if isinstance(vars(home)["__dataclass_fields__"], _StandardView):
                try:
                    fields, params = _standard_view(home)
                except (ImportError, OSError) as err:  # confined: hasattr() is False
                    raise AttributeError(
                        f"__dataclass_{self.kind}__: dataclasses cannot be loaded here "
                        f"({type(err).__name__})"
                    ) from None
                type.__setattr__(home, "__dataclass_fields__", fields)
                type.__setattr__(home, "__dataclass_params__", params)
            return vars(home)[f"__dataclass_{self.kind}__"]


def _standard_view(cls: type) -> tuple[dict[str, Any], Any]:
    """The standard library's Field objects and parameters for ``cls``'s definition."""
    import dataclasses  # noqa: PLC0415 -- the point: only when someone introspects

    spec = _SPECS[cls]
    namespace: dict[str, Any] = {
        "__module__": cls.__module__,
        "__qualname__": cls.__qualname__,
        "__doc__": cls.__doc__,
        "__annotations__": {s.name: s.type for s in spec.fields},
    }
    for s in spec.fields:
        options: dict[str, Any] = {
            "init": s.init,
            "repr": s.repr,
            "hash": s.hash,
            "compare": s.compare,
            "metadata": s.metadata,
            "kw_only": s.kw_only,
        }
        if s.default is not _MISSING:
            options["default"] = s.default
        if s.default_factory is not _MISSING:
            options["default_factory"] = s.default_factory
        namespace[s.name] = dataclasses.field(**options)
    twin: Any = dataclasses.dataclass(
        frozen=True, slots=True, kw_only=spec.kw_only, repr=spec.repr
    )(type(cls.__name__, (), namespace))
    return twin.__dataclass_fields__, twin.__dataclass_params__


def field_names(obj: object) -> tuple[str, ...]:
    """The field names of a class :func:`dataclass` made (or of its instance), in order.

    Examples:
        >>> @dataclass(frozen=True, slots=True)
        ... class Pair:
        ...     '''Two.'''
        ...     a: int
        ...     b: int
        >>> field_names(Pair), field_names(Pair(1, 2))
        (('a', 'b'), ('a', 'b'))
    """
    cls = obj if isinstance(obj, type) else type(obj)
    spec = _SPECS.get(cls)
    if spec is None:  # a subclass: the standard library answers
        import dataclasses  # noqa: PLC0415 -- subclasses only

        return tuple(f.name for f in dataclasses.fields(cls))
    return tuple(s.name for s in spec.fields)


def replace(obj: _T, /, **changes: Any) -> _T:
    """A copy of ``obj`` with ``changes``, as :func:`dataclasses.replace` (without its import).

    Examples:
        >>> @dataclass(frozen=True, slots=True, kw_only=True)
        ... class Limit:
        ...     '''A limit.'''
        ...     soft: int
        ...     hard: int
        >>> replace(Limit(soft=1, hard=2), hard=9)
        Limit(soft=1, hard=9)
    """
    own = _SPECS.get(type(obj))
    if own is None:  # a subclass: the standard library answers
        import dataclasses  # noqa: PLC0415 -- subclasses only

        return dataclasses.replace(obj, **changes)  # type: ignore[type-var]
    for spec in own.fields:
        if not spec.init:
            if spec.name in changes:
                raise ValueError(
                    f"field {spec.name} is declared with init=False, "
                    "it cannot be specified with replace()"
                )
            continue
        if spec.name not in changes:
            changes[spec.name] = getattr(obj, spec.name)
    return type(obj)(**changes)


if TYPE_CHECKING:
    from dataclasses import KW_ONLY, dataclass, field
else:
    KW_ONLY = _KwOnly
    dataclass = _dataclass
    field = _Field
