"""The secret-name rule set, now :mod:`hardenkit.redaction._names` (kept for its importers)."""

from __future__ import annotations

from hardenkit.redaction._names import MASK, is_mask, is_secret_name

__all__ = ["MASK", "is_mask", "is_secret_name"]
