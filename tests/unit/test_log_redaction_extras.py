"""``extra=`` under ``install_redaction(everywhere=True)``, and secrets in a record's arguments.

Each test failed before: ``Logger.makeRecord`` sets ``extra=`` after the record factory
returned (and flagged the record redacted), so in everywhere mode no handler redacted the
extras; and a value under a secret name in the arguments (a mapping's key, a ``(name,
value)`` pair) was formatted into the message raw.
"""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import textwrap
from collections import namedtuple

import pytest

from hardenkit import redaction as R  # noqa: N812
from hardenkit.redaction import _logging as RL  # noqa: N812

pytestmark = pytest.mark.usefixtures("no_registered_secrets")

GHP = "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"
PW = "hunter2xQz"
SECRETS = (GHP, PW, "pw123456", "Adapt3rPw", "N3stedPw", "mkRec0rdPw", "Sub-Cl4ss-Pw")


_SETUP = f"""
import io, logging, sys
from hardenkit import install_redaction
GHP, PW = {GHP!r}, {PW!r}
def handler(fmt):
    h = logging.StreamHandler(sys.stdout)
    h.setFormatter(logging.Formatter(fmt))
    return h
"""


def _run(code: str) -> str:
    """``code`` after ``_SETUP`` in a fresh interpreter (everywhere mode is process-wide)."""
    done = subprocess.run(
        [sys.executable, "-c", _SETUP + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for secret in SECRETS:
        assert secret not in done.stdout + done.stderr, done.stdout + done.stderr
    return done.stdout


def test_the_reviews_case_extras_on_a_root_handler() -> None:
    out = _run(
        """
        logging.getLogger().addHandler(handler("%(message)s | %(password)s | %(cfg)s"))
        install_redaction(everywhere=True)
        logging.getLogger("a").warning(
            "login token=" + GHP, extra={"password": PW, "cfg": "postgres://u:pw123456@db/app"}
        )
        """
    )
    assert out == "login token=*** | *** | postgres://u:***@db/app\n"


def test_every_logger_and_handler_present_and_future() -> None:
    out = _run(
        """
        install_redaction(everywhere=True)
        iso = logging.getLogger("iso"); iso.propagate = False
        iso.addHandler(handler("iso %(message)s | %(password)s"))
        iso.warning("one", extra={"password": PW})
        kid = iso.getChild("kid"); kid.propagate = False
        kid.addHandler(handler("kid %(message)s | %(cfg)r"))  # added after the install
        kid.warning("two", extra={"cfg": {"db": {"password": PW}, "tok": [GHP]}})
        logging.LoggerAdapter(iso, {"password": "Adapt3rPw"}).warning("three")
        """
    )
    assert out.splitlines() == [
        "iso one | ***",
        "kid two | {'db': {'password': '***'}, 'tok': ['***']}",
        "iso three | ***",
    ]


def test_secret_shaped_extra_names_and_nested_extras() -> None:
    out = _run(
        """
        log = logging.getLogger("names"); log.propagate = False
        class Dump(logging.Formatter):
            def format(self, record):
                own = set(vars(logging.LogRecord("x", 20, "x", 0, "x", None, None)))
                return repr(sorted((k, v) for k, v in vars(record).items()
                                   if k not in own | {"message", "taskName"}))
        h = logging.StreamHandler(sys.stdout); h.setFormatter(Dump()); log.addHandler(h)
        install_redaction(everywhere=True)
        log.warning("x", extra={GHP: "value", "pairs": [("api_key", "N3stedPw")],
                                "deep": ({"token": GHP},)})
        """
    )
    assert "('***', 'value')" in out, out
    assert "('pairs', [('api_key', '***')])" in out, out
    assert "('deep', ({'token': '***'},))" in out, out


def test_logger_subclasses_make_log_record_and_the_message_once() -> None:
    out = _run(
        """
        from hardenkit.redaction import _logging as RL
        calls = []
        real = RL.redact
        RL.redact = lambda text, **kw: (calls.append(text), real(text, **kw))[1]
        class Sub(logging.Logger):
            def makeRecord(self, *args, **kwargs):
                return super().makeRecord(*args, **kwargs)
        logging.setLoggerClass(Sub)
        sub = logging.getLogger("sub"); sub.propagate = False
        logging.setLoggerClass(logging.Logger)
        for _ in range(3):
            sub.addHandler(handler("sub %(message)s | %(secret)s"))
        install_redaction(everywhere=True)
        install_redaction(everywhere=True)  # twice: wrapped once
        sub.warning("password=%s", "Sub-Cl4ss-Pw", extra={"secret": "Sub-Cl4ss-Pw"})
        print(sum("Sub-Cl4ss-Pw" in c for c in calls))
        rec = logging.makeLogRecord(
            {"msg": "mk password=%s", "args": ("mkRec0rdPw",), "auth_token": "mkRec0rdPw"}
        )
        print(rec.getMessage(), rec.auth_token)
        """
    )
    lines = out.splitlines()
    assert lines[:3] == ["sub password=*** | ***"] * 3
    assert lines[3] == "1", out  # the message was redacted once, for three handlers
    assert lines[4] == "mk password=*** ***"


def test_an_extra_set_after_redaction_is_redacted_by_the_next_filter() -> None:
    stream = io.StringIO()
    log = logging.getLogger("test.logextras.later")
    log.propagate = False
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s | %(password)s"))
    log.addHandler(handler)
    R.install_redaction(log)
    try:
        record = log.makeRecord(log.name, logging.WARNING, "f", 1, "m", (), None)
        RL.RedactingFilter().filter(record)
        record.password = PW  # as a filter or factory adding context would
        log.handle(record)
    finally:
        log.removeHandler(handler)
    assert stream.getvalue() == "m | ***\n"


def test_filter_only_mode_still_redacts_extras_once() -> None:
    stream = io.StringIO()
    log = logging.getLogger("test.logextras.filteronly")
    log.propagate = False
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s | %(password)s | %(cfg)s"))
    log.addHandler(handler)
    R.install_redaction(log)
    try:
        log.warning("token=%s", GHP, extra={"password": PW, "cfg": "postgres://u:pw123456@db/a"})
    finally:
        log.removeHandler(handler)
    assert stream.getvalue() == "token=*** | *** | postgres://u:***@db/a\n"


Pair = namedtuple("Pair", ["user", "password"])  # noqa: PYI024 -- the shape under test


@pytest.fixture
def logged() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    log = logging.getLogger(f"test.logextras.args.{id(stream)}")
    log.propagate = False
    log.addHandler(logging.StreamHandler(stream))
    R.install_redaction(log)
    return log, stream


@pytest.mark.parametrize(
    ("msg", "args", "expected"),
    [
        ("%(password)s %(user)s", ({"password": PW, "user": "ann"},), "*** ann"),
        ("%(api_key)r n=%(n)d", ({"api_key": PW, "n": 7},), "'***' n=7"),
        ("msg %s", ([("password", PW)],), "msg [('password', '***')]"),
        ("msg %s %d", ({"db": {"token": PW}}, 5), "msg {'db': {'token': '***'}} 5"),
        ("%s", (Pair("ann", PW),), "Pair(user='ann', password='***')"),
        ("%s=%s", ("password", PW), "password=***"),  # the arguments are not one pair
        ("n=%d %s", (3, ("user", "ann")), "n=3 ('user', 'ann')"),  # nothing secret: as is
    ],
)
def test_secret_named_values_in_the_arguments_are_masked(
    logged: tuple[logging.Logger, io.StringIO], msg: str, args: tuple[object, ...], expected: str
) -> None:
    log, stream = logged
    log.warning(msg, *args)
    assert stream.getvalue() == expected + "\n"


def test_a_masked_number_that_no_longer_formats_withholds_the_arguments(
    logged: tuple[logging.Logger, io.StringIO],
) -> None:
    log, stream = logged
    log.warning("pin %(password)d", {"password": 123456})
    assert "123456" not in stream.getvalue()
    assert "arguments withheld" in stream.getvalue()


def test_arguments_without_secrets_keep_their_objects() -> None:
    args = ({"user": "ann"}, [1, 2], ("a", "b"))
    assert RL._masked_args(args) is args
    mapping = {"user": "ann", "n": 1}
    assert RL._masked_args(mapping) is mapping


def test_extras_that_fail_to_redact_are_withheld_in_everywhere_mode() -> None:
    out = _run(
        """
        from hardenkit.redaction import _logging as RL
        def broken(value, depth=0):
            raise RuntimeError("boom")
        RL._redact_value = broken
        log = logging.getLogger("broken"); log.propagate = False
        log.addHandler(handler("%(message)s | %(cfg)s"))
        install_redaction(everywhere=True)
        log.warning("m", extra={"cfg": "postgres://u:pw123456@db/app"})
        """
    )
    assert out == "(withheld: the text could not be redacted) | ***\n"


def test_an_extra_named_task_name_is_redacted_where_it_is_one() -> None:
    """taskName is a record's own attribute from Python 3.12; on 3.11 it is an extra like
    any other, and was skipped as the record's own (the fourth review)."""
    from hardenkit.redaction import RedactingFilter  # noqa: PLC0415

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    log = logging.getLogger("test.task_name_extra")
    log.propagate = False
    log.addHandler(handler)
    token = "ghp_" + "a1B2c3D4e5" * 4
    try:
        if "taskName" in vars(logging.LogRecord("x", 20, "x", 0, "x", None, None)):
            with pytest.raises(KeyError):  # 3.12+: makeRecord refuses to overwrite it
                log.warning("x", extra={"taskName": f"token={token}"})
            return
        handler.setFormatter(logging.Formatter("%(message)s %(taskName)s"))
        log.warning("x", extra={"taskName": f"token={token}"})
    finally:
        log.removeHandler(handler)
    assert token not in stream.getvalue()
    assert "token=***" in stream.getvalue()
