"""hardenkit._record: the same behaviour as a frozen, slotted dataclass, without its cost."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import typing
from typing import Any

import pytest

from hardenkit.sandbox import _steps

# As the code base uses it: mypy sees the dataclass, the run time gets the record.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from dataclasses import dataclass as record
    from typing import NamedTuple as RNamedTuple
else:
    from hardenkit._record import NamedTuple as RNamedTuple, record


@dataclasses.dataclass(frozen=True, slots=True)
class Pair:
    plan: object
    role: str


@record(frozen=True, slots=True)
class RPair:
    plan: object
    role: str


@dataclasses.dataclass(frozen=True, slots=True)
class Empty:
    """No fields."""


@record(frozen=True, slots=True)
class REmpty:
    """No fields."""


def _same_error(fn_a: object, fn_b: object) -> None:
    errors = []
    for fn in (fn_a, fn_b):
        with pytest.raises(Exception) as info:
            fn()  # type: ignore[operator]
        errors.append(type(info.value))
    assert errors[0] is errors[1], errors


def test_construction_and_its_errors_match_the_dataclass() -> None:
    good: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
        ((1, "a"), {}),
        ((1,), {"role": "a"}),
        ((), {"plan": 1, "role": "a"}),
    ]
    for args, kwargs in good:
        d, r = Pair(*args, **kwargs), RPair(*args, **kwargs)
        assert (r.plan, r.role) == (d.plan, d.role) == (1, "a")
    bad: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
        ((1, "a", 2), {}),  # too many
        ((1,), {}),  # missing
        ((), {}),
        ((1, "a"), {"plan": 2}),  # twice
        ((1, "a"), {"other": 2}),  # unknown
    ]
    for args, kwargs in bad:
        _same_error(lambda a=args, k=kwargs: Pair(*a, **k), lambda a=args, k=kwargs: RPair(*a, **k))
    assert REmpty() == REmpty()
    _same_error(lambda: Empty(1), lambda: REmpty(1))  # type: ignore[call-arg]


def test_repr_eq_hash_match_the_dataclass() -> None:
    d, r = Pair([1], "x"), RPair([1], "x")
    assert repr(r) == repr(d).replace("Pair(", "RPair(", 1) == "RPair(plan=[1], role='x')"
    assert repr(REmpty()) == "REmpty()"
    assert repr(Empty()) == "Empty()"
    assert r == RPair([1], "x")
    assert r != RPair([2], "x")
    assert r.__eq__(d) is NotImplemented
    assert d.__eq__(r) is NotImplemented
    h, hr = Pair(1, "x"), RPair(1, "x")
    assert hash(h) == hash(hr) == hash((1, "x"))
    assert hash(REmpty()) == hash(Empty())
    with pytest.raises(TypeError):
        hash(r)  # an unhashable field, as the dataclass
    with pytest.raises(TypeError):
        hash(d)


def test_frozen_and_slotted_as_the_dataclass() -> None:
    for obj in (Pair(1, "x"), RPair(1, "x")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, "plan", 2)  # noqa: B010 -- as a caller would
        with pytest.raises(dataclasses.FrozenInstanceError):
            delattr(obj, "role")
        assert not hasattr(obj, "__dict__")
        assert type(obj).__match_args__ == ("plan", "role")
    # A name that is no field: FrozenInstanceError too (3.11's slotted frozen dataclass
    # raises TypeError here, a CPython bug).
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(RPair(1, "x"), "other", 2)  # noqa: B010
    match RPair(1, "x"):
        case RPair(p, role="x"):
            assert p == 1
        case _:
            pytest.fail("no match")
    assert REmpty.__doc__ == "No fields."
    assert REmpty.__qualname__ == "REmpty"
    assert RPair.__module__ == __name__


def test_pickle_and_copy() -> None:
    r = RPair((1, 2), "x")
    pickled = pickle.loads(pickle.dumps(r))  # noqa: S301 -- our own bytes
    for clone in (pickled, copy.copy(r), copy.deepcopy(r)):
        assert clone == r
        assert type(clone) is RPair
    assert pickle.loads(pickle.dumps(REmpty())) == REmpty()  # noqa: S301


def test_what_a_record_cannot_be_is_refused() -> None:
    with pytest.raises(TypeError, match="no defaults"):

        @record(frozen=True, slots=True)
        class WithDefault:
            x: int = 0

    with pytest.raises(TypeError, match="__post_init__"):

        @record(frozen=True, slots=True)
        class WithPost:
            x: int

            def __post_init__(self) -> None:
                pass

    with pytest.raises(TypeError, match="frozen, slotted"):
        record(frozen=False, slots=True)


def test_the_steps_are_records_of_their_annotated_fields() -> None:
    for cls in _steps.STEP_TYPES:
        assert not dataclasses.is_dataclass(cls)
        assert cls.__match_args__ == tuple(cls.__annotations__), cls  # type: ignore[attr-defined]
    step = _steps.LoadFilter("program", "seccomp")  # type: ignore[arg-type]
    assert step == _steps.LoadFilter(program="program", role="seccomp")  # type: ignore[arg-type]
    assert repr(step) == "LoadFilter(program='program', role='seccomp')"
    with pytest.raises(dataclasses.FrozenInstanceError):
        step.role = "other"  # type: ignore[misc]


class TAbi(typing.NamedTuple):
    """One ABI."""

    name: str
    token: int = 0

    def label(self) -> str:
        return f"{self.name}:{self.token}"


class RAbi(RNamedTuple):
    """One ABI."""

    name: str
    token: int = 0

    def label(self) -> str:
        return f"{self.name}:{self.token}"


def test_named_tuple_is_typings_without_typing() -> None:
    t, r = TAbi("x86_64"), RAbi("x86_64")
    assert r == ("x86_64", 0)  # tuples, as typing's
    assert t == ("x86_64", 0)
    assert repr(r) == repr(t).replace("TAbi", "RAbi")
    assert RAbi._fields == TAbi._fields
    assert RAbi._field_defaults == TAbi._field_defaults == {"token": 0}
    assert RAbi.__doc__ == TAbi.__doc__ == "One ABI."
    assert RAbi.__annotations__.keys() == TAbi.__annotations__.keys()
    assert (RAbi.__module__, RAbi.__qualname__) == (__name__, "RAbi")
    assert r._replace(token=3).label() == t._replace(token=3).label() == "x86_64:3"
    assert RAbi.__bases__ == TAbi.__bases__ == (tuple,)
    with pytest.raises(TypeError):
        RAbi()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="without a default follows"):

        class Bad(RNamedTuple):  # what mypy refuses too
            a: int = 0
            b: int  # type: ignore[misc]
