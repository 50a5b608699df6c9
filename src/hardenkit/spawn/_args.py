"""How a command's arguments may look: :class:`ArgRules` (every run's argv check: ``_argv``)."""

from __future__ import annotations

import re

from hardenkit._dataclass import dataclass
from hardenkit.errors import PolicyError, UnsafeArgument

# Not typing.TYPE_CHECKING, for import time (typing costs a first use several ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import TypeAlias

__all__ = ["METACHARACTERS", "ArgRules"]

#: Characters a shell would interpret; the opt-in filter of the Node.js guides refuses them.
METACHARACTERS = frozenset(";&|`$(){}[]<>*?!~#'\"\\\n\r\t")


@dataclass(frozen=True, slots=True, kw_only=True)
class ArgRules:
    """A small schema for one command's arguments (everything after ``argv[0]``).

    Options (arguments starting with ``-``) must be listed in ``options`` (flags) or
    ``options_with_value`` (the next argument, or ``--opt=value``, is the value); ``deny``
    lists option prefixes refused outright (``--upload-pack``). Everything else is a
    positional argument that must fully match ``positional`` (a regex) when given. With
    ``separator`` a ``--`` is inserted before the first positional so that a positional
    starting with ``-`` cannot be read as an option; after it, nothing is an option.

    Examples:
        >>> rules = ArgRules(options=frozenset({"-n"}), separator=True)
        >>> rules.apply(("head", "-n", "notes.txt", "-evil"))
        ('head', '-n', '--', 'notes.txt', '-evil')
    """

    options: frozenset[str] = frozenset()
    options_with_value: frozenset[str] = frozenset()
    deny: tuple[str, ...] = ()
    positional: str | None = None
    max_positional: int | None = None
    separator: bool = False

    def __post_init__(self) -> None:
        for name in ("options", "options_with_value"):
            value = getattr(self, name)
            if isinstance(value, str) or not all(isinstance(o, str) for o in value):
                raise PolicyError(f"ArgRules.{name} must be a set of option strings")
            object.__setattr__(self, name, frozenset(value))
        deny: object = self.deny
        if isinstance(deny, str):
            raise PolicyError("ArgRules.deny must be a sequence of option prefixes")
        object.__setattr__(self, "deny", tuple(self.deny))
        if self.positional is not None:
            re.compile(self.positional)
        if self.max_positional is not None and self.max_positional < 0:
            raise PolicyError("ArgRules.max_positional must be >= 0")

    def apply(self, argv: tuple[str, ...]) -> tuple[str, ...]:
        """Return ``argv`` checked (and with ``--`` inserted); raise UnsafeArgument otherwise.

        Examples:
            >>> ArgRules(deny=("--upload-pack",)).apply(("git", "--upload-pack=touch x"))
            Traceback (most recent call last):
            ...
            hardenkit.errors.UnsafeArgument: argument 1 of git is refused: option --upload-pack...
        """
        out = [argv[0]]
        positional: list[str] = []
        options_done = False
        expect_value = False
        for index, arg in enumerate(argv[1:], start=1):
            if expect_value:
                out.append(arg)
                expect_value = False
                continue
            if not options_done and arg == "--":
                options_done = True
                continue
            if not options_done and arg.startswith("-") and arg != "-":
                if positional and self.separator:
                    # After --, an option-looking argument is only a positional.
                    positional.append(arg)
                    continue
                expect_value = self._check_option(argv, index, arg)
                out.append(arg)
                continue
            positional.append(arg)
        if expect_value:
            raise UnsafeArgument(f"option {argv[-1]} of {argv[0]} needs a value", argv=argv)
        self._check_positional(argv, positional)
        if self.separator or options_done:
            return (*out, "--", *positional) if positional else tuple(out)
        return (*out, *positional)

    def _check_option(self, argv: tuple[str, ...], index: int, arg: str) -> bool:
        name, has_value, _ = arg.partition("=")
        for prefix in self.deny:
            if arg.startswith(prefix):
                raise UnsafeArgument(
                    f"argument {index} of {argv[0]} is refused: option {prefix} is denied",
                    argv=argv,
                )
        if not has_value and arg in self.options:
            return False
        if name in self.options_with_value:
            return not has_value
        if not name.startswith("--") and name[:2] != name and name[:2] in self.options_with_value:
            return False  # -n5: short option with its value attached
        raise UnsafeArgument(
            f"argument {index} of {argv[0]} is refused: option {name} is not allowed",
            argv=argv,
        )

    def _check_positional(self, argv: tuple[str, ...], positional: list[str]) -> None:
        if self.max_positional is not None and len(positional) > self.max_positional:
            raise UnsafeArgument(
                f"{argv[0]} takes at most {self.max_positional} positional arguments",
                argv=argv,
            )
        if self.positional is not None:
            pattern = re.compile(self.positional)
            for arg in positional:
                if not pattern.fullmatch(arg):
                    raise UnsafeArgument(
                        f"a positional argument of {argv[0]} does not match {self.positional!r}",
                        argv=argv,
                    )


#: An argument rule: a schema, or a callable that returns the argv to run (or None to keep
#: it) and raises ValueError (UnsafeArgument included) to refuse.
ArgRule: TypeAlias = "ArgRules | Callable[[tuple[str, ...]], Sequence[str] | None]"
