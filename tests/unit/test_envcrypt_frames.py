"""No private key or decrypted value survives in a traceback's frames, whatever is raised.

A ``KeyboardInterrupt`` mid-decryption, a ``TypeError`` from a wrong argument or from the
caller's own mapping: the frames below the public call hold the key and the values, and
``TracebackException(capture_locals=True)`` (pytest ``-l``, error trackers) prints them.
"""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from hardenkit.envcrypt import _ecies, _parallel, decrypt_env_file, load_env, set_env_value
from hardenkit.envcrypt._keys import read_keys_file

if TYPE_CHECKING:
    from collections.abc import Callable

VALUE = "tok-Secret-Zz9988-frames"


def _file(tmp_path: Path, count: int = 1, *, interpolated: bool = False) -> tuple[str, str]:
    path = str(tmp_path / ".env")
    for i in range(count):
        set_env_value(path, f"V{i}_TOKEN", f"{VALUE}-{i:03d}")
    if interpolated:
        Path(path).write_text(Path(path).read_text() + "URL=http://x/${PORT}\n")
    keys = read_keys_file(str(tmp_path / ".env.keys"))
    assert keys is not None
    key = keys["DOTENV_PRIVATE_KEY"]
    return path, key


def _leaks(exc: BaseException, *needles: str) -> list[str]:
    """Where a needle shows: a frame's locals, or the capture_locals rendering."""
    found: list[str] = []
    rendered = "".join(
        traceback.TracebackException.from_exception(exc, capture_locals=True).format()
    )
    found += [f"capture_locals:{n[:6]}" for n in needles if n in rendered]
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        err = todo.pop()
        if err is None or id(err) in seen:
            continue
        seen.add(id(err))
        tb = err.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            text = repr(frame.f_locals)
            found += [f"{frame.f_code.co_name}:{n[:6]}" for n in needles if n in text]
            tb = tb.tb_next
        todo += [err.__cause__, err.__context__]
    return found


def _raised(fn: Callable[[], object], kind: type[BaseException]) -> BaseException:
    """What ``fn`` raised, its traceback starting at the public call (not this test's frames)."""
    with pytest.raises(kind) as info:
        fn()
    exc = info.value
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_name != "wrapper":
        tb = tb.tb_next
    assert tb is not None, "not raised through opaque_errors"
    return exc.with_traceback(tb)


def test_a_type_error_from_a_bytes_key_keeps_no_key(tmp_path: Path) -> None:
    path, key = _file(tmp_path)
    exc = _raised(lambda: decrypt_env_file(path, private_key=key.encode()), TypeError)  # type: ignore[arg-type]
    assert _leaks(exc, key, VALUE) == []


class _ReadOnly(dict[str, str]):
    def __setitem__(self, key: str, value: str) -> NoReturn:
        raise TypeError("read-only")


class _Interrupting(dict[str, str]):
    def __contains__(self, key: object) -> NoReturn:
        raise KeyboardInterrupt


@pytest.mark.parametrize(
    ("environ", "kind"), [(_ReadOnly(), TypeError), (_Interrupting(), KeyboardInterrupt)]
)
def test_the_callers_mapping_raising_keeps_no_value(
    tmp_path: Path, environ: dict[str, str], kind: type[BaseException]
) -> None:
    path, key = _file(tmp_path)
    exc = _raised(lambda: load_env(path, environ=environ), kind)
    assert type(exc) is kind
    assert _leaks(exc, key, VALUE) == []


def test_a_non_string_environ_value_with_interpolation_keeps_no_value(tmp_path: Path) -> None:
    path, key = _file(tmp_path, interpolated=True)
    env: dict[str, Any] = {"PORT": 8080}
    exc = _raised(lambda: load_env(path, environ=env, interpolate=True), TypeError)
    assert _leaks(exc, key, VALUE) == []


def test_keyboard_interrupt_mid_decryption_keeps_no_key_or_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Raised on a pool thread after some values decrypted; the Futures' frames render."""
    path, key = _file(tmp_path, count=_parallel.MIN_PARALLEL + 6)
    real = _ecies.decrypt_one
    calls: list[int] = []

    def interrupting(*args: Any, **kwargs: Any) -> str:
        calls.append(1)
        if len(calls) > _parallel.MIN_PARALLEL:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(_ecies, "decrypt_one", interrupting)
    exc = _raised(lambda: load_env(path, environ={}), KeyboardInterrupt)
    assert _leaks(exc, key, VALUE) == []


def test_the_callers_own_exception_keeps_its_frames(tmp_path: Path) -> None:
    """Only frames below the call are cleared, never those of what the caller handles."""
    path, _key = _file(tmp_path)

    def work() -> NoReturn:
        state = {"order": 42}
        raise ValueError(state)

    kept: dict[str, object] = {}
    try:
        work()
    except ValueError as outer:
        below = outer.__traceback__.tb_next if outer.__traceback__ else None
        _raised(lambda: load_env(path, environ=_ReadOnly()), TypeError)
        kept = dict(below.tb_frame.f_locals) if below else {}
    assert kept.get("state") == {"order": 42}


def _keypair_cases() -> list[tuple[str, str, str]]:
    """(what, public key, private key) for KeyPair calls that fail; the key to look for."""
    from hardenkit.envcrypt import generate_keypair  # noqa: PLC0415

    a, b = generate_keypair(), generate_keypair()
    near = a.private_key[:-1] + ("g" if a.private_key[-1] != "g" else "h")
    return [
        ("another pair's public key", b.public_key, a.private_key),
        ("a bad public key", "zz", a.private_key),
        ("a private key one digit off", a.public_key, near),
    ]


@pytest.mark.parametrize("case", range(3))
def test_a_failed_keypair_keeps_no_private_key_in_its_frames(case: int) -> None:
    """KeyPair(...) raising ValueError: no frame from the constructor down holds the key."""
    from hardenkit.envcrypt import KeyPair  # noqa: PLC0415

    _what, public, private = _keypair_cases()[case]
    with pytest.raises(ValueError, match="invalid KeyPair") as info:
        KeyPair(public_key=public, private_key=private)
    exc = info.value
    assert exc.__traceback__ is not None
    # From the constructor's frame down: this test's own frame holds the key, of course.
    below = exc.__traceback__.tb_next
    assert below is not None
    assert below.tb_frame.f_code.co_name == "__init__"
    exc = exc.with_traceback(below)
    del info
    assert _leaks(exc, private) == []


def test_an_exception_the_caller_kept_and_raises_from_keeps_its_frames(tmp_path: Path) -> None:
    """The caller's mapping raises ``from`` an exception it caught before the call.

    That exception is the caller's, not the call's: its frames keep their locals. The
    mapping's own frame, below the call, holds the value and is cleared.
    """
    path, key = _file(tmp_path)

    def work() -> NoReturn:
        state = {"order": 42}
        raise ValueError(state)

    try:
        work()
    except ValueError as err:
        saved = err
    assert saved.__traceback__ is not None
    below = saved.__traceback__.tb_next
    assert below is not None

    class _Failing(dict[str, str]):
        def __setitem__(self, name: str, value: str) -> None:
            raise RuntimeError("store failed") from saved

    exc = _raised(lambda: load_env(path, environ=_Failing()), RuntimeError)
    assert exc.__cause__ is saved
    assert below.tb_frame.f_locals.get("state") == {"order": 42}
    tb = exc.__traceback__  # from the public call down (saved's frames include this test's)
    while tb is not None:
        text = repr(tb.tb_frame.f_locals)
        assert key not in text, tb.tb_frame.f_code.co_name
        assert VALUE not in text, tb.tb_frame.f_code.co_name
        tb = tb.tb_next


@pytest.mark.parametrize("bad", ["O", " ", "g", "-"])
def test_a_near_miss_private_key_is_in_no_exception_of_the_chain(bad: str) -> None:
    """``raise ... from None`` hides a context from tracebacks but keeps it in
    ``__context__``, where int()'s error quoted the key text (the fourth review)."""
    from hardenkit.envcrypt import KeyPair, generate_keypair  # noqa: PLC0415

    pair = generate_keypair()
    typo = pair.private_key[:-1] + bad
    with pytest.raises(ValueError) as info:
        KeyPair(public_key=pair.public_key, private_key=typo)
    seen: list[BaseException] = []
    exc: BaseException | None = info.value
    while exc is not None and exc not in seen:
        seen.append(exc)
        assert typo[:16] not in repr(exc.args)
        exc = exc.__context__ or exc.__cause__
