"""Placeholder: replaced by the redaction module (issue 5)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import logging


def install_redaction(logger: logging.Logger | None = None) -> None:
    """Placeholder."""
    del logger
