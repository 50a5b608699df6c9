"""hardenkit's loggers: no logging import until a program loads it, then real records."""

from __future__ import annotations

import logging
import subprocess
import sys
from typing import TYPE_CHECKING

from hardenkit import _log
from hardenkit._log import get_logger

if TYPE_CHECKING:
    import pytest


def _emit(log: logging.Logger) -> None:
    log.warning("disk %s is %d%% full", "/data", 93)


def test_records_reach_handlers_with_the_callers_location(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = get_logger("hardenkit.test_log")
    with caplog.at_level(logging.INFO, logger="hardenkit"):
        _emit(log)
        log.debug("not shown at INFO")
        log.log(logging.ERROR, "level %s", "given")
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "disk /data is 93% full"),
        ("ERROR", "level given"),
    ]
    first = caplog.records[0]
    assert (first.name, first.funcName, first.filename) == (
        "hardenkit.test_log",
        "_emit",
        "test_log.py",
    )
    assert log.isEnabledFor(logging.ERROR)
    assert any(isinstance(h, logging.NullHandler) for h in logging.getLogger("hardenkit").handlers)


def test_nothing_imports_logging_before_the_program_does() -> None:
    code = (
        "import sys\n"
        "from hardenkit._log import get_logger\n"
        "log = get_logger('hardenkit.x')\n"
        "log.warning('dropped: no handler can exist yet')\n"
        "assert 'logging' not in sys.modules\n"
        "import logging\n"
        "logging.basicConfig(stream=sys.stdout, format='%(name)s %(message)s')\n"
        "log.warning('shown %d', 1)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    assert out == "hardenkit.x shown 1\n"


def test_a_sink_takes_every_record_logging_loaded_or_not(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[tuple[str, int, object, tuple[object, ...]]] = []
    log = get_logger("hardenkit.test_sink")
    _log.set_sink(lambda *record: seen.append(record))
    try:
        with caplog.at_level(logging.DEBUG, logger="hardenkit"):
            log.debug("d %s", 1)
            log.error("e")
            log.log(logging.WARNING, "w %d", 2)
            assert log.isEnabledFor(logging.DEBUG)  # the sink decides
    finally:
        _log.set_sink(None)
    assert seen == [
        ("hardenkit.test_sink", 10, "d %s", (1,)),
        ("hardenkit.test_sink", 40, "e", ()),
        ("hardenkit.test_sink", 30, "w %d", (2,)),
    ]
    assert caplog.records == []  # logging's way is not taken while a sink is set
    log.warning("after")
    assert [r.getMessage() for r in caplog.records] == ["after"]
