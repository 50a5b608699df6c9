"""``hardenkit env``: placeholder until its module lands."""

from __future__ import annotations

from typing import Any


def add_parser(sub: Any) -> None:
    """Register nothing yet."""
    del sub
