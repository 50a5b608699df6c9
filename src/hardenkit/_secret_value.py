"""Secret: a value kept out of reprs, logs and pickles (re-exported by :mod:`hardenkit.env`).

Its own module so that :mod:`hardenkit.env` (every ``hardenkit exec``, every ``run()``)
does not import :mod:`typing` for ``Generic`` (~3 ms) until a Secret is used.
"""

from __future__ import annotations

from typing import Any, Generic, NoReturn, TypeVar

from hardenkit._secret_names import MASK

__all__ = ["Secret"]

_T = TypeVar("_T")


class Secret(Generic[_T]):
    """A value that shows as ``***`` in ``str()``, ``repr()``, f-strings and logging.

    ``.reveal()`` returns it. A Secret cannot be pickled (so it never crosses a process
    boundary by accident), compares in constant time, and, for a str, registers the value
    with :func:`hardenkit.register_secret` so that a revealed copy is masked in logs too.

    Examples:
        >>> token = Secret("ghp_example_value_123")
        >>> token, str(token), f"{token:>10}", "%s" % token
        (Secret('***'), '***', '***', '***')
        >>> token.reveal()
        'ghp_example_value_123'
        >>> import pickle
        >>> pickle.dumps(token)
        Traceback (most recent call last):
        ...
        TypeError: Secret values cannot be pickled
    """

    __slots__ = ("_value",)
    _value: _T

    def __init__(self, value: _T, *, register: bool = True) -> None:
        object.__setattr__(self, "_value", value)
        if register and isinstance(value, str):
            from hardenkit.redaction import register_secret  # noqa: PLC0415 -- for import time

            if not register_secret(value, strict=False) and value:
                # Too short to mask by value (it would mask every "pw" in every log line):
                # said loudly, never silently dropped; the value itself is never logged.
                from hardenkit._log import get_logger  # noqa: PLC0415 -- for import time
                from hardenkit.redaction import MIN_SECRET_LENGTH  # noqa: PLC0415 -- for import time

                get_logger("hardenkit.env").warning(
                    "a Secret shorter than %d characters is not masked by value in logs",
                    MIN_SECRET_LENGTH,
                )

    def reveal(self) -> _T:
        """Return the wrapped value."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        import hmac  # noqa: PLC0415 -- loads OpenSSL (~3 ms): not at every import of env

        a, b = self._value, other._value
        if isinstance(a, str) and isinstance(b, str):
            return hmac.compare_digest(a.encode(), b.encode())
        if isinstance(a, bytes) and isinstance(b, bytes):
            return hmac.compare_digest(a, b)
        return bool(a == b)

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("Secret is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError("Secret is immutable")

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError("Secret values cannot be pickled")

    def __reduce__(self) -> NoReturn:
        raise TypeError("Secret values cannot be pickled")

    def __getstate__(self) -> NoReturn:
        raise TypeError("Secret values cannot be pickled")

    def __copy__(self) -> Secret[_T]:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret[_T]:
        return self
