"""hardenkit._dataclass builds the class the standard decorator builds, without its import.

The oracle is :mod:`dataclasses` itself: every hardenkit module that defines records is
loaded a second time with the standard decorator in place of ours, and each pair of classes
is compared (fields, signature, methods, parameters, default instances). A synthetic class
using every feature is compared operation by operation.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import importlib
import importlib.util
import inspect
import pickle
import pkgutil
import subprocess
import sys
import threading
import types
from typing import TYPE_CHECKING, Any

import pytest

import hardenkit
from hardenkit import _dataclass
from hardenkit.audit import AuditReport
from hardenkit.sandbox import Confinement, FilesystemPolicy, NetworkPolicy, ResourceLimits
from hardenkit.spawn import CommandPolicy, RunResult

if TYPE_CHECKING:
    from collections.abc import Iterator


def _all_modules() -> list[types.ModuleType]:
    names = [m.name for m in pkgutil.walk_packages(hardenkit.__path__, "hardenkit.")]
    modules = []
    for name in names:
        if name.endswith(("__main__", "._generate")):
            continue
        modules.append(importlib.import_module(name))
    return modules


def _ours() -> dict[str, type]:
    """Every class our decorator made, by qualified name (all modules imported)."""
    _all_modules()
    return {f"{c.__module__}.{c.__qualname__}": c for c in _dataclass._SPECS if _defined(c)}


def _defined(cls: type) -> bool:
    """Whether ``cls`` is reached by name from its module (not a doctest's or a test's)."""
    found: object = sys.modules.get(cls.__module__)
    for part in cls.__qualname__.split("."):
        found = getattr(found, part, None)
    return found is cls


def _twin_module(name: str) -> types.ModuleType:
    """``name`` executed again under another name with the standard decorator in place."""
    module = sys.modules[name]
    assert module.__file__
    spec = importlib.util.spec_from_file_location(
        f"_twin_{name.replace('.', '_')}", module.__file__
    )
    assert spec
    assert spec.loader
    twin = importlib.util.module_from_spec(spec)
    twin.__package__ = module.__package__
    sys.modules[spec.name] = twin
    try:
        with _standard_decorator():
            spec.loader.exec_module(twin)
    finally:
        del sys.modules[spec.name]
    return twin


#: hardenkit._dataclass's names -> the standard library's equivalents.
_STANDARD = {
    "dataclass": dataclasses.dataclass,
    "field": dataclasses.field,
    "KW_ONLY": dataclasses.KW_ONLY,
    "replace": dataclasses.replace,
    "field_names": lambda obj: tuple(f.name for f in dataclasses.fields(obj)),
}


@contextlib.contextmanager
def _standard_decorator() -> Iterator[None]:
    """While inside, ``from hardenkit._dataclass import ...`` gives the standard library's."""
    saved = {name: getattr(_dataclass, name) for name in _STANDARD}
    try:
        for name, value in _STANDARD.items():
            setattr(_dataclass, name, value)
        yield
    finally:
        for name, value in saved.items():
            setattr(_dataclass, name, value)


OURS = _ours()


def _pairs() -> list[Any]:
    """``pytest.param(ours, theirs)`` for each class, named after it."""
    twins: dict[str, types.ModuleType] = {}
    pairs = []
    for key, cls in sorted(OURS.items()):
        if cls.__module__ not in twins:
            twins[cls.__module__] = _twin_module(cls.__module__)
        twin: Any = twins[cls.__module__]
        for part in cls.__qualname__.split("."):
            twin = getattr(twin, part)
        pairs.append(pytest.param(cls, twin, id=key))
    return pairs


PAIRS = _pairs()


def test_every_public_record_is_made_here() -> None:
    # Not a count to keep in step: the public results and policies are among them.
    made = set(OURS.values())
    for cls in (AuditReport, Confinement, FilesystemPolicy, NetworkPolicy, ResourceLimits):
        assert cls in made
    assert {CommandPolicy, RunResult} <= made
    assert all(dataclasses.is_dataclass(c) for c in made)


def _field_facts(cls: type) -> list[tuple[object, ...]]:
    def name_of(obj: object) -> object:
        return getattr(obj, "__qualname__", obj)

    return [
        (
            f.name,
            f.type,
            f.default if f.default is dataclasses.MISSING else repr(f.default),
            name_of(f.default_factory),
            f.init,
            f.repr,
            f.hash,
            f.compare,
            f.kw_only,
            dict(f.metadata),
        )
        for f in dataclasses.fields(cls)
    ]


_METHODS = (
    "__init__",
    "__repr__",
    "__eq__",
    "__hash__",
    "__setattr__",
    "__delattr__",
    "__getstate__",
    "__setstate__",
    "__replace__",
    "__match_args__",
    "__post_init__",
    "__reduce__",
)


@pytest.mark.parametrize(("ours", "twin"), PAIRS)
def test_same_class_as_the_standard_decorator(ours: type, twin: type) -> None:
    assert _field_facts(ours) == _field_facts(twin)
    assert str(inspect.signature(ours)) == str(inspect.signature(twin))
    assert ours.__slots__ == twin.__slots__  # type: ignore[attr-defined]
    assert ours.__match_args__ == twin.__match_args__  # type: ignore[attr-defined]
    assert ours.__doc__ == twin.__doc__
    for name in _METHODS:
        assert (name in vars(ours)) == (name in vars(twin)), name
    assert (ours.__hash__ is None) == (twin.__hash__ is None)
    params, twin_params = ours.__dataclass_params__, twin.__dataclass_params__  # type: ignore[attr-defined]
    for attr in ("init", "repr", "eq", "order", "unsafe_hash", "frozen"):
        assert getattr(params, attr) == getattr(twin_params, attr), attr
    assert ours.__init__.__annotations__ == twin.__init__.__annotations__  # type: ignore[misc]


def _defaults_only(cls: type) -> bool:
    return all(
        p.default is not inspect.Parameter.empty for p in inspect.signature(cls).parameters.values()
    )


DEFAULTABLE = [p for p in PAIRS if _defaults_only(p.values[0])]


@pytest.mark.parametrize(("ours", "twin"), DEFAULTABLE)
def test_default_instances_behave_alike(ours: type, twin: type) -> None:
    try:
        theirs = twin()
    except Exception as err:  # then ours must refuse alike
        with pytest.raises(type(err)):
            ours()
        return
    mine = ours()
    assert repr(mine) == repr(theirs)
    if twin.__hash__ is not None:
        assert hash(mine) == hash(theirs)
    assert mine == ours()
    assert mine != theirs
    assert dataclasses.asdict(mine).keys() == dataclasses.asdict(theirs).keys()
    with pytest.raises(dataclasses.FrozenInstanceError):
        mine.__setattr__(dataclasses.fields(mine)[0].name, None)


# A class using every feature the decorator accepts, made by each decorator.
_SOURCE = '''
from __future__ import annotations
from hardenkit._dataclass import KW_ONLY, dataclass, field
from hardenkit._dataclass import KW_ONLY as KWO

def _items():
    return ("a",)

@dataclass(frozen=True, slots=True)
class Job:
    """A job."""
    name: str
    tries: int = 3
    _: KW_ONLY
    tags: tuple = field(default_factory=_items)
    secret: str = field(default="", repr=False)
    note: str = field(default="", compare=False)
    weight: int = field(default=0, hash=False)
    cache: dict = field(init=False, repr=False, compare=False)
    made: int = field(init=False, default=7)

    def __post_init__(self):
        if self.tries < 0:
            raise ValueError("tries")
        object.__setattr__(self, "cache", {"n": self.name})

@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class Shown:
    """Own repr."""
    value: object = None
    def __repr__(self):
        return "Shown!"

@dataclass(frozen=True, slots=True, kw_only=True)
class OwnEq:
    """Own eq, generated hash."""
    a: int = 0
    b: int = 0
    def __eq__(self, other):
        return isinstance(other, OwnEq) and self.a == other.a

@dataclass(frozen=True, slots=True)
class OwnHash:
    """Own hash."""
    a: int = 0
    def __hash__(self):
        return 42

@dataclass(frozen=True, slots=True)
class Box:
    """Holds anything, itself too."""
    item: object = None

class Outer:
    @dataclass(frozen=True, slots=True)
    class Inner:
        """Nested."""
        a: int = 1

@dataclass(frozen=True, slots=True)
class Aliased:
    """KW_ONLY under another name."""
    a: int
    _: KWO
    b: int = 2
    log: list = field(default_factory=list, compare=False)
'''


def _synthetic(standard: bool) -> types.ModuleType:
    name = f"_hk_synthetic_{'std' if standard else 'ours'}"
    module = types.ModuleType(name)
    sys.modules[name] = module
    with _standard_decorator() if standard else contextlib.nullcontext():
        exec(compile(_SOURCE, f"<{name}>", "exec"), module.__dict__)  # noqa: S102
    return module


MINE, STD = _synthetic(standard=False), _synthetic(standard=True)
# Pickle finds the classes by module and qualname.


def _outcome(action: Any) -> tuple[str, object]:
    try:
        return ("ok", action())
    except Exception as err:  # the outcome is what is compared
        return (type(err).__name__, str(err))


def _same_nan_boxes_equal(m: types.ModuleType) -> object:
    nan = float("nan")
    return m.Box(nan) == m.Box(nan)  # 3.13 compares field by field, identity first


def _ops(m: types.ModuleType) -> list[tuple[str, object]]:
    job = m.Job("x", 2, tags=("t",), secret="s", note="n", weight=5)  # noqa: S106
    same_but_note = m.Job("x", 2, tags=("t",), secret="s", note="other", weight=9)  # noqa: S106
    box = m.Box()
    object.__setattr__(box, "item", box)
    ops = [
        lambda: repr(job),
        lambda: repr(m.Job("y")),
        lambda: m.Job("y").tags,
        lambda: m.Job("y").made,
        lambda: m.Job("y").cache,
        lambda: job == same_but_note,
        lambda: hash(job) == hash(same_but_note),
        lambda: job == m.Job("x", 2, tags=("t",), secret="s", note="other", weight=5),  # noqa: S106
        lambda: _same_nan_boxes_equal(m),
        lambda: m.Aliased(1).log is not m.Aliased(1).log,
        lambda: repr(m.Aliased(1, b=3)),
        lambda: m.Aliased(1, 2),
        lambda: str(inspect.signature(m.Aliased)),
        lambda: hash(job) == hash(("x", 2, ("t",), "s")),
        lambda: job == ("x", 2),
        lambda: m.Job("x", -1),
        m.Job,  # no name: refused
        lambda: m.Job("x", 1, 2),
        lambda: m.Job("x", cache={}),
        lambda: m.Job("x", made=1),
        lambda: setattr(job, "name", "z"),
        lambda: delattr(job, "name"),
        lambda: repr(dataclasses.replace(job, tries=9)),
        lambda: dataclasses.replace(job, made=1),
        lambda: dataclasses.asdict(job),
        lambda: dataclasses.astuple(m.Job("q")),
        lambda: [f.name for f in dataclasses.fields(job)],
        lambda: repr(pickle.loads(pickle.dumps(job))),  # noqa: S301 -- our own object
        lambda: pickle.loads(pickle.dumps(job)) == job,  # noqa: S301
        lambda: pickle.loads(pickle.dumps(job)).cache,  # noqa: S301
        lambda: repr(copy.copy(job)),
        lambda: copy.deepcopy(job) == job,
        lambda: repr(m.Shown(value=1)),
        lambda: m.OwnEq(a=1, b=2) == m.OwnEq(a=1, b=3),
        lambda: hash(m.OwnEq(a=1, b=2)) == hash((1, 2)),
        lambda: hash(m.OwnHash()),
        lambda: repr(box),
        lambda: m.Job.__match_args__,
        lambda: m.Shown.__match_args__,
        lambda: str(inspect.signature(m.Job)),
        lambda: hasattr(job, "__dict__"),
        lambda: m.Job.__init__.__qualname__,
        lambda: m.Job.__repr__.__qualname__,
    ]
    if sys.version_info >= (3, 13):
        ops.append(lambda: repr(copy.replace(job, tries=4)))  # type: ignore[attr-defined]
    return [_outcome(op) for op in ops]


def test_every_feature_behaves_as_the_standard_decorator() -> None:
    mine, std = _ops(MINE), _ops(STD)
    for index, (a, b) in enumerate(zip(mine, std, strict=True)):
        assert a == b, f"operation {index}: ours {a!r}, standard {b!r}"


def test_no_error_carries_a_field_value() -> None:
    job = MINE.Job("x", secret="CANARY-9f3a")  # noqa: S106
    errors = [
        _outcome(lambda: setattr(job, "secret", "CANARY-9f3a")),
        _outcome(lambda: delattr(job, "secret")),
        _outcome(lambda: MINE.Job("x", secret="CANARY-9f3a", bogus=1)),  # noqa: S106
        _outcome(lambda: _dataclass.replace(job, cache={"CANARY-9f3a": 1})),
        _outcome(lambda: MINE.Job("CANARY-9f3a", -1)),
    ]
    assert all(kind != "ok" for kind, _ in errors)
    assert not [e for e in errors if "CANARY" in str(e[1])]


def test_subclasses_copy_replace_and_pickle_their_own_fields() -> None:
    @dataclasses.dataclass(frozen=True)
    class Extra(MINE.Box):  # type: ignore[name-defined,misc]
        extra: str = "x"

    class Plain(MINE.Job):  # type: ignore[name-defined,misc]
        pass

    obj = Extra(item=1, extra="E")
    assert copy.copy(obj).extra == "E"
    assert copy.deepcopy(obj) == obj
    assert _dataclass.replace(obj, item=2) == Extra(item=2, extra="E")
    assert _dataclass.field_names(obj) == ("item", "extra")
    plain = _dataclass.replace(Plain("x"), tries=5)
    assert type(plain) is Plain
    assert plain.tries == 5
    if sys.version_info >= (3, 13):
        assert copy.replace(obj, item=3).extra == "E"  # type: ignore[attr-defined]


def test_nested_classes_keep_their_qualified_name() -> None:
    inner = MINE.Outer.Inner()
    assert repr(inner) == repr(STD.Outer.Inner()) == "Outer.Inner(a=1)"
    assert MINE.Outer.Inner.__qualname__ == "Outer.Inner"
    assert pickle.loads(pickle.dumps(inner)) == inner  # noqa: S301 -- our own object


_FRESH = '''
from __future__ import annotations
from hardenkit._dataclass import dataclass

@dataclass(frozen=True, slots=True)
class Fresh:
    """Fresh."""
    a: int = 0
    b: int = 0
'''


def test_the_standard_view_is_built_once_across_threads() -> None:
    namespace: dict[str, Any] = {"__name__": __name__}
    exec(compile(_FRESH, "<fresh>", "exec"), namespace)  # noqa: S102 -- never introspected
    fresh = namespace["Fresh"]
    seen: list[tuple[int, ...]] = []
    barrier = threading.Barrier(16)

    def ask() -> None:
        barrier.wait()
        seen.append(tuple(id(f) for f in dataclasses.fields(fresh)))

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 16
    assert len(set(seen)) == 1


_BLOCKED = """
import sys
from hardenkit.sandbox import Confinement
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "dataclasses":
            raise {failure}("no")
sys.meta_path.insert(0, Block())
c = Confinement()
try:
    c.network = None
except AttributeError as err:
    print(type(err).__name__, err)
print(hasattr(c, "__dataclass_fields__"), c.network)
"""


@pytest.mark.parametrize("failure", ["ImportError", "PermissionError"])
def test_out_of_reach_dataclasses_still_refuse_as_attribute_error(failure: str) -> None:
    # Under Landlock the standard library may be unreadable: a write is still refused as
    # an AttributeError, and hasattr() answers instead of raising.
    probe = _BLOCKED.format(failure=failure)
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout.splitlines()
    assert out == ["_FrozenInstanceError cannot assign to field 'network'", "False None"]


def test_a_non_field_attribute_is_refused_as_on_3_12() -> None:
    # 3.10/3.11's own decorator raises TypeError here (its __setattr__ names the class
    # before __slots__ remade it); 3.12 and later raise FrozenInstanceError, as this one.
    with pytest.raises(dataclasses.FrozenInstanceError):
        MINE.Job("x").other = 1


def test_a_subclass_keeps_its_own_attributes() -> None:
    class Sub(MINE.Box):  # type: ignore[name-defined,misc]
        pass

    obj = Sub()
    with pytest.raises(dataclasses.FrozenInstanceError):
        obj.item = 1
    obj.extra = 1  # a non-field attribute of a subclass instance
    assert obj.extra == 1


@pytest.mark.parametrize(
    ("options", "body"),
    [
        ({"frozen": True}, "x: int"),
        ({"slots": True}, "x: int"),
        ({"frozen": True, "slots": True, "order": True}, "x: int"),
        ({"frozen": True, "slots": True, "unsafe_hash": True}, "x: int"),
        ({"frozen": True, "slots": True, "eq": False}, "x: int"),
        ({"frozen": True, "slots": True}, "x: ClassVar[int] = 1"),
        ({"frozen": True, "slots": True}, "x: CV[int] = 1"),
        ({"frozen": True, "slots": True}, "x: typing.ClassVar[int] = 1"),
        ({"frozen": True, "slots": True}, "x: IV[int]"),
        ({"frozen": True, "slots": True}, "__slots__ = ('x',)\n    x: int"),
        ({"frozen": True, "slots": True}, "x: InitVar[int]"),
        ({"frozen": True, "slots": True}, "x: list = []"),
        ({"frozen": True, "slots": True}, "x: int = 1\n    y: int"),
        ({"frozen": True, "slots": True}, "x: int\n    def __setattr__(self, k, v): pass"),
        ({"frozen": True, "slots": True}, "x = field(default=1)"),
        ({"frozen": True, "slots": True}, "_: KW_ONLY\n    __: KW_ONLY\n    x: int"),
    ],
)
def test_what_it_does_not_do_is_refused(options: dict[str, bool], body: str) -> None:
    source = (
        "from __future__ import annotations\n"
        "import typing\n"
        "from typing import ClassVar\n"
        "from typing import ClassVar as CV\n"
        "from dataclasses import InitVar as IV\n"
        "from dataclasses import InitVar\n"
        "from hardenkit._dataclass import KW_ONLY, dataclass, field\n"
        f"@dataclass(**{options!r})\n"
        "class C:\n"
        "    '''Doc.'''\n"
        f"    {body}\n"
    )
    module = types.ModuleType("_hk_refused")  # aliases are looked up in the class's module
    sys.modules[module.__name__] = module
    try:
        with pytest.raises((TypeError, ValueError)):
            exec(compile(source, "<refused>", "exec"), module.__dict__)  # noqa: S102
    finally:
        del sys.modules[module.__name__]


def test_base_classes_and_missing_docstrings_are_refused() -> None:
    class Base:
        pass

    with pytest.raises(TypeError, match="no base class"):
        _dataclass.dataclass(frozen=True, slots=True)(type("C", (Base,), {"__doc__": "d"}))
    with pytest.raises(TypeError, match="docstring"):
        _dataclass.dataclass(frozen=True, slots=True)(type("C", (), {"__annotations__": {}}))


def test_field_names_and_replace_agree_with_the_standard_ones() -> None:
    job = MINE.Job("x")
    assert _dataclass.field_names(job) == tuple(f.name for f in dataclasses.fields(job))
    assert _dataclass.replace(job, tries=5) == dataclasses.replace(job, tries=5)
    with pytest.raises(ValueError, match="init=False"):
        _dataclass.replace(job, cache={})


def test_building_a_record_does_not_import_dataclasses() -> None:
    probe = (
        "import sys\n"
        "from hardenkit.spawn import run\n"
        "from hardenkit.sandbox import Confinement, NetworkPolicy\n"
        "c = Confinement(network=NetworkPolicy.none())\n"
        "r = repr(c) + str(c == Confinement(network=NetworkPolicy.none())) + str(hash(c))\n"
        "before = 'dataclasses' in sys.modules\n"
        "import dataclasses\n"
        "print(before, dataclasses.is_dataclass(c), len(dataclasses.fields(c)) > 3)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout.split()
    assert out == ["False", "True", "True"]
