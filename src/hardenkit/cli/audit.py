"""``hardenkit audit``: a process's posture, scored on systemd-analyze security's scale.

Exit status: 0 fine; 1 when the exposure is above ``--fail-above`` (without it: when any
finding is worse than "info"); 2 on usage errors; 3 when the audit cannot be completed.
"""

from __future__ import annotations

import math
import os
import sys

from hardenkit.cli._common import EXIT_ERROR, EXIT_FAIL, EXIT_OK, escape

# Not typing.TYPE_CHECKING, for import time: the fast path starts without typing (~5 ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any, TextIO

    from hardenkit.audit import AuditReport, AuditSweep

try:  # json's own C string escaper, without importing json (~3 ms: it compiles regexes)
    from _json import encode_basestring_ascii as _quote
except ImportError:  # pragma: no cover -- an interpreter without json's C accelerator
    from json.encoder import py_encode_basestring_ascii as _quote

_SEVERITY_COLOUR = {
    "critical": "1;31",
    "high": "31",
    "medium": "33",
    "low": "36",
    "info": "2",
}
# systemd-analyze security's colours for its levels.
_LEVEL_COLOUR = {
    "DANGEROUS": "1;31",
    "UNSAFE": "1;31",
    "EXPOSED": "1;33",
    "MEDIUM": "1",
    "OK": "1;32",
    "SAFE": "1;32",
    "PERFECT": "1;32",
}


def _positive_pid(text: str) -> int:
    import argparse  # noqa: PLC0415 -- for import time: only argparse calls these

    try:
        pid = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a pid: {text!r}") from None
    if pid <= 0:
        raise argparse.ArgumentTypeError(f"a pid is a positive number, not {pid}")
    return pid


def _threshold(text: str) -> float:
    import argparse  # noqa: PLC0415 -- for import time: only argparse calls these

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if math.isnan(value) or not 0.0 <= value <= 10.0:  # noqa: PLR2004 -- the 0-10 scale
        raise argparse.ArgumentTypeError(f"the exposure scale is 0.0 to 10.0, not {text}")
    return value


def _octal_mode(text: str) -> int:
    import argparse  # noqa: PLC0415 -- for import time: only argparse calls these

    try:
        mode = int(text, 8)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an octal mode: {text!r}") from None
    if not 0 <= mode <= 0o7777:  # noqa: PLR2004
        raise argparse.ArgumentTypeError(f"not a file mode: {text}")
    return mode


class _Args:
    """The parsed arguments of the fast path, as argparse's Namespace would hold them."""

    #: main() shows records through :func:`start_logging`, without :mod:`logging` (a class
    #: attribute: not one of the parsed values).
    start_logging: Any = None
    pid: int | None
    all: bool
    json: bool
    fail_above: float | None
    paths: list[str]
    max_mode: int

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)

    def __repr__(self) -> str:
        """The values, as argparse's Namespace shows them (nothing here is a secret)."""
        return f"_Args({', '.join(f'{k}={v!r}' for k, v in sorted(vars(self).items()))})"


#: Longer --pid words go to argparse, which words the error (int() refuses 4,300 digits).
_PID_DIGITS = 18


def parse_fast(words: list[str]) -> _Args | None:
    """Parse the plain forms of ``audit`` (the words after it) without argparse.

    ``--pid N`` (or ``--pid=N``, N a positive decimal number), ``--json`` and ``--all``,
    each at most once, in any order; None for anything else (``--help``, another option,
    an abbreviation, a bad pid, ``--pid`` with ``--all``...), for argparse to parse and
    report in its own words. Scripts run ``hardenkit audit --pid N --json`` in loops:
    argparse, typing and logging are ~20 ms of a ~100 ms start.

    Examples:
        >>> a = parse_fast(["--pid", "42", "--json"])
        >>> a.pid, a.json, a.all, a.paths, a.fail_above
        (42, True, False, [], None)
        >>> parse_fast(["--pid", "0"]), parse_fast(["--js"]), parse_fast(["--help"])
        (None, None, None)
    """
    values: dict[str, Any] = {"pid": None, "all": False, "json": False}
    seen: set[str] = set()
    i = 0
    while i < len(words):
        name, eq, value = words[i].partition("=")
        i += 1
        if name in seen:
            return None  # given twice: argparse's rules
        seen.add(name)
        if name in ("--json", "--all") and not eq:
            values[name[2:]] = True
        elif name == "--pid":
            if not eq:
                if i == len(words):
                    return None
                value = words[i]
                i += 1
            digits = value.isascii() and value.isdecimal() and len(value) <= _PID_DIGITS
            if not digits or int(value) <= 0:
                return None  # argparse words the error (_positive_pid)
            values["pid"] = int(value)
        else:
            return None
    if values["pid"] is not None and values["all"]:
        return None  # mutually exclusive: argparse reports it
    return _Args(
        command="audit",
        verbose=0,
        **values,
        fail_above=None,
        paths=[],
        max_mode=0o600,
        handler=run,
        error_status=EXIT_ERROR,
    )


_LEVEL_NAMES = {10: "DEBUG", 20: "INFO", 30: "WARNING", 40: "ERROR", 50: "CRITICAL"}
_WARNING = 30


def _show(_name: str, level: int, msg: object, args: tuple[object, ...]) -> None:
    """Print a hardenkit record as main()'s logging setup would: warnings and up, redacted."""
    if level < _WARNING:
        return
    try:
        text = str(msg) % args if args else str(msg)
    except Exception:  # noqa: BLE001 -- a bad format string must not leak the arguments
        text = f"{msg} (arguments withheld: the message did not format)"
    from hardenkit.redaction import redact  # noqa: PLC0415 -- for import time: on use

    level_name = _LEVEL_NAMES.get(level, f"Level {level}")
    sys.stderr.write(f"hardenkit: {level_name}: {redact(text)}\n")


def start_logging() -> None:
    """Show hardenkit's warnings on stderr, redacted, without importing :mod:`logging`.

    What main() does with logging.basicConfig and install_redaction for the argparse path,
    minus the import of logging (with traceback, string, threading: ~10 ms).
    """
    from hardenkit._log import set_sink  # noqa: PLC0415 -- only for the fast path

    set_sink(_show)


_Args.start_logging = staticmethod(start_logging)


def add_parser(sub: Any) -> None:
    """Register ``audit`` on the subparsers object ``sub``."""
    p: argparse.ArgumentParser = sub.add_parser(
        "audit",
        help="score a process's exposure (0-10, systemd-analyze security's scale)",
        description="Audit a running process (default: this one) from what the kernel shows "
        "and score its exposure from 0.0 (best) to 10.0 (worst), with the levels of "
        "systemd-analyze security. Exit status: 0 fine; 1 above --fail-above (without it: "
        "any finding worse than info); 2 usage error; 3 the audit could not be completed.",
    )
    target = p.add_mutually_exclusive_group()
    target.add_argument("--pid", type=_positive_pid, default=None, help="process to audit")
    target.add_argument(
        "--all",
        action="store_true",
        help="audit every process on the host, worst first (like systemd-analyze security "
        "with no unit); --json gives every full report",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--fail-above",
        type=_threshold,
        default=None,
        metavar="X",
        help="exit 1 when the exposure is above X (0.0-10.0)",
    )
    p.add_argument(
        "--paths",
        nargs="+",
        default=[],
        metavar="PATH",
        help="secret files to check as well (hardenkit.check_path)",
    )
    p.add_argument(
        "--max-mode",
        type=_octal_mode,
        default=0o600,
        metavar="MODE",
        help="most permissive mode allowed for --paths, in octal (default 600)",
    )
    p.set_defaults(handler=run, error_status=EXIT_ERROR)


def run(args: argparse.Namespace | _Args) -> int:
    """Audit, print the report and return the exit status."""
    if args.all:
        return _run_all(args)
    from hardenkit.audit import audit_process  # noqa: PLC0415 -- for import time

    report = audit_process(args.pid, paths=args.paths, max_mode=args.max_mode)
    failed = _failed(report, args.fail_above)
    if args.json:
        print(dumps(report.to_dict()))
    else:
        colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
        render(report, sys.stdout, colour=colour, fail_above=args.fail_above)
    return EXIT_FAIL if failed else EXIT_OK


def _run_all(args: argparse.Namespace | _Args) -> int:
    from hardenkit.audit import audit_all  # noqa: PLC0415 -- for import time

    if args.paths:
        raise SystemExit("hardenkit audit: --paths checks one process's files; not with --all")
    sweep = audit_all()
    if args.json:
        print(dumps(sweep.to_dict()))
    else:
        render_all(sweep, sys.stdout)
    return EXIT_FAIL if any(_failed(r, args.fail_above) for r in sweep.reports) else EXIT_OK


class _NotPlain(Exception):
    """A value :func:`dumps` leaves to :mod:`json` (a non-str key, an unknown type)."""


def dumps(value: object) -> str:
    r"""Return ``json.dumps(value, indent=2)``, without importing :mod:`json` for plain data.

    Dicts with str keys, lists, tuples, str, int, float, bool and None are written here,
    strings by json's own escaper; anything else goes to :func:`json.dumps` itself.
    tests/unit/test_cli_audit_fast.py holds the two to the same text.

    Examples:
        >>> print(dumps({"a": [1, 2.5, None], "b": {}, "c": "\u00e9"}))
        {
          "a": [
            1,
            2.5,
            null
          ],
          "b": {},
          "c": "\u00e9"
        }
    """
    out: list[str] = []
    try:
        _encode(value, "\n", out)
    except (_NotPlain, RecursionError):
        import json  # noqa: PLC0415 -- for import time: only for what is not plain data

        return json.dumps(value, indent=2)
    return "".join(out)


def _encode(value: object, newline: str, out: list[str]) -> None:  # noqa: C901, PLR0912 -- one switch
    if isinstance(value, str):
        out.append(_quote(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        if value != value:  # noqa: PLR0124 -- NaN
            out.append("NaN")
        elif value in (math.inf, -math.inf):
            out.append("Infinity" if value > 0 else "-Infinity")
        else:
            out.append(float.__repr__(value))
    elif isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        inner = newline + "  "
        separator = "{" + inner
        for key, item in value.items():
            if not isinstance(key, str):
                raise _NotPlain
            out.append(separator + _quote(key) + ": ")
            _encode(item, inner, out)
            separator = "," + inner
        out.append(newline + "}")
    elif isinstance(value, (list, tuple)):
        if not value:
            out.append("[]")
            return
        inner = newline + "  "
        separator = "[" + inner
        for item in value:
            out.append(separator)
            _encode(item, inner, out)
            separator = "," + inner
        out.append(newline + "]")
    else:
        raise _NotPlain


def render_all(sweep: AuditSweep, out: TextIO) -> None:
    """Write one line per process, worst first, then the ones that could not be audited."""
    import pwd  # noqa: PLC0415 -- for import time

    users: dict[int, str] = {}

    def user(uid: int) -> str:
        if uid not in users:
            try:
                users[uid] = pwd.getpwuid(uid).pw_name
            except KeyError:
                users[uid] = str(uid)
        return users[uid]

    out.write(f"{'PID':>7}  {'USER':<10} {'EXPOSURE':>8}  {'LEVEL':<9}  {'NAME':<16} TOP FINDING\n")
    for r in sweep.reports:
        top = r.findings[0].title if r.findings else "-"
        out.write(
            f"{r.pid:>7}  {escape(user(r.uid))[:10]:<10} {r.exposure:>8.1f}  {r.level:<9}  "
            f"{escape(r.name)[:16]:<16} {escape(top)}\n"
        )
    out.writelines(
        f"{skip.pid:>7}  {'?':<10} {'-':>8}  {'-':<9}  {escape(skip.name)[:16]:<16} "
        f"not audited: {escape(skip.reason)}\n"
        for skip in sweep.skipped
    )
    unobservable = len(sweep.reports[0].unobservable) if sweep.reports else 0
    out.write(
        f"\n{len(sweep.reports)} processes audited, {len(sweep.skipped)} could not be, "
        f"{sweep.kernel_threads} kernel threads have no user-space posture; "
        f"{unobservable} systemd rows are not observable from a process and not scored\n"
    )


def _failed(report: AuditReport, fail_above: float | None) -> bool:
    if fail_above is not None:
        return report.exposure > fail_above
    return any(f.severity != "info" for f in report.findings)


def render(
    report: AuditReport, out: TextIO, *, colour: bool = False, fail_above: float | None = None
) -> None:
    """Write the human-readable report, grouped by severity, worst first."""

    def paint(code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if colour else text

    import shutil  # noqa: PLC0415 -- for import time: only the text report
    import textwrap  # noqa: PLC0415 -- for import time

    width = max(60, min(shutil.get_terminal_size((100, 24)).columns, 120))
    threads = f", {report.threads} threads" if report.threads > 1 else ""
    out.write(f"hardenkit audit: pid {report.pid} ({escape(report.name)}){threads}\n")
    level = paint(_LEVEL_COLOUR.get(report.level, "0"), f"{report.exposure:.1f} {report.level}")
    scored = sum(1 for a in report.assessments if a.source == "systemd")
    out.write(
        f"Exposure {level}  (0.0 best, 10.0 worst: systemd-analyze security's scale; "
        f"{scored} systemd rows scored, {len(report.unobservable)} not observable from a "
        "process: see --json)\n"
    )
    from hardenkit.audit._model import SEVERITIES  # noqa: PLC0415 -- for import time

    indent = " " * 6
    for severity in SEVERITIES:
        group = [f for f in report.findings if f.severity == severity]
        if not group:
            continue
        out.write("\n" + paint(_SEVERITY_COLOUR[severity], severity.upper()) + "\n")
        for finding in group:
            out.write(f"  {paint('1', escape(finding.title))}  [{finding.id}]\n")
            for label, text in (("", finding.detail), ("fix: ", finding.remediation)):
                lines = textwrap.wrap(
                    label + escape(text),
                    width=width,
                    initial_indent=indent,
                    subsequent_indent=indent + " " * len(label),
                    break_on_hyphens=False,
                )
                out.write("".join(line + "\n" for line in lines))
    if not report.findings:
        out.write("\nNo findings.\n")
    out.write(f"\nLandlock: {escape(report.landlock)}\n")
    if report.assumed:
        out.write(
            "\nScored as the worst case (could not be read): " + ", ".join(report.assumed) + "\n"
        )
    if fail_above is not None:
        verdict = "above" if report.exposure > fail_above else "not above"
        out.write(f"\nExposure {report.exposure:.1f} is {verdict} --fail-above {fail_above:.1f}\n")
