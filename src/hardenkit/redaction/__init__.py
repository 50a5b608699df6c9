"""Mask secrets in text and in log records: :func:`redact` and :class:`RedactingFilter`.

Four layers, in order: exact values registered with :func:`register_secret` (every secret
hardenkit decrypts registers itself), value patterns (cloud keys, GitHub/GitLab/Slack/
Stripe/Google tokens, JWTs, PEM private keys, npm/PyPI/Hugging Face/age keys...), context
rules the scanners miss (URL userinfo, Authorization headers, cookies, card numbers that
pass Luhn) and key-name rules (``password=...``, ``"api_key": "..."``). Only the secret is
masked; the context stays (``postgres://app:***@db:5432/main``).

The package's rooms: ``_names`` (which names hold secrets), ``_patterns`` (value shapes),
``_context`` (context rules), ``_keys`` (the key-name rule), ``_context_triggers`` (those
rules' steps and hyperscan triggers), ``_registry`` (:func:`register_secret` and its
matchers), ``_hs`` (the hyperscan import), ``_prefilter`` (the detectors' one scan),
``_planner`` (which detectors run where), ``_combined`` (registered values in the
prefilter's scan), ``_engine`` (:func:`redact` and the entry points), ``_logging`` (the
filter and the hooks). Hyperscan is imported, and the prefilter's database compiled, on
the first :func:`redact`, not here.
"""

from __future__ import annotations

from hardenkit import _lazy

# Not typing.TYPE_CHECKING: importing typing costs several ms, and type checkers treat any
# name TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from hardenkit.redaction._engine import MASK, MIN_SECRET_LENGTH, redact, register_secret
    from hardenkit.redaction._logging import RedactingFilter, install_redaction

#: Public name -> the submodule that defines it, loaded on first use (hardenkit/_lazy.py):
#: importing ``hardenkit.redaction._names`` (what ``hardenkit.env`` needs) must not load the
#: engine and ``logging``.
_NAMES = {
    "MASK": "_engine",
    "MIN_SECRET_LENGTH": "_engine",
    "redact": "_engine",
    "register_secret": "_engine",
    "RedactingFilter": "_logging",
    "install_redaction": "_logging",
}
__getattr__, __dir__ = _lazy.attach(__name__, _NAMES, ())

__all__ = [
    "MASK",
    "MIN_SECRET_LENGTH",
    "RedactingFilter",
    "install_redaction",
    "redact",
    "register_secret",
]
