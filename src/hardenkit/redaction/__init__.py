"""Mask secrets in text and in log records: :func:`redact` and :class:`RedactingFilter`.

Four layers, in order: exact values registered with :func:`register_secret` (every secret
hardenkit decrypts registers itself), value patterns (cloud keys, GitHub/GitLab/Slack/
Stripe/Google tokens, JWTs, PEM private keys, npm/PyPI/Hugging Face/age keys...), context
rules the scanners miss (URL userinfo, Authorization headers, cookies, card numbers that
pass Luhn) and key-name rules (``password=...``, ``"api_key": "..."``). Only the secret is
masked; the context stays (``postgres://app:***@db:5432/main``).

The package's rooms: ``_names`` (which names hold secrets), ``_patterns`` (value shapes),
``_context`` (context and key-name rules), ``_engine`` (the prefilter, the registry and
:func:`redact`), ``_logging`` (the filter and the hooks). Hyperscan is imported, and the
prefilter's database compiled, on the first :func:`redact`, not here.
"""

from __future__ import annotations

from hardenkit.redaction._engine import MASK, MIN_SECRET_LENGTH, redact, register_secret
from hardenkit.redaction._logging import RedactingFilter, install_redaction

__all__ = [
    "MASK",
    "MIN_SECRET_LENGTH",
    "RedactingFilter",
    "install_redaction",
    "redact",
    "register_secret",
]
