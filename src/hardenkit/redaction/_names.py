"""The secret-name rule set and the mask test, without the value detectors.

Split from :mod:`hardenkit._redaction_rules` so that naming a secret (``sanitize_env``,
``mask_env``, ``is_secret_name``) does not compile the ~70 detector patterns: a fresh
``hardenkit exec`` or ``hardenkit audit`` never redacts anything, and those patterns
cost ~11 ms at import.
"""

from __future__ import annotations

import re

from hardenkit._memo import text_free_memo

__all__ = ["MASK", "is_mask", "is_secret_name"]

#: What every detector puts in place of a secret.
MASK = "***"

_MASK_ONLY = re.compile(
    r"\**|\[(?:REDACTED|FILTERED|MASKED)\]|<(?:REDACTED|FILTERED|MASKED)>", re.IGNORECASE
)
_QUOTED = re.compile(r"""(["']?)(.*)\1""", re.DOTALL)
# Values that name no secret even under a secret-looking key: flags (MySQL's "using
# password: YES"), placeholders, and PAM's password-changing stage, logged as
# pam_unix(passwd:chauthtok) in every auth.log.
_BENIGN_VALUES = frozenset(
    {"", "none", "null", "nil", "true", "false", "undefined", "0", "1", "yes", "no", "chauthtok"}
)


def is_mask(value: str) -> bool:
    """True when ``value`` (quotes aside) is already a mask such as ``***`` or ``[REDACTED]``."""
    if "*" not in value and "[" not in value and "<" not in value:
        # Without those, only the empty body is a mask: the regexes' answer, without them.
        quoted = len(value) > 1 and value[0] in "\"'" and value[-1] == value[0]
        return not (value[1:-1] if quoted else value).strip()
    inner = _QUOTED.fullmatch(value)
    body = inner.group(2) if inner else value
    return _MASK_ONLY.fullmatch(body.strip()) is not None


# --------------------------------------------------------------------------- secret names

# Words that make a name secret when a name part contains them, followed by nothing or by
# one of _WORD_SUFFIXES ("SESSIONID", "SECRETKEY", "GHTOKEN", "CLIENTSECRET").
_WORDS = (
    "SECRET",
    "TOKEN",
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "PASSCODE",
    "PWD",
    "CREDENTIAL",
    "APIKEY",
    "PRIVATEKEY",
    "PRIVKEY",
    "COOKIE",
    "SESSION",
    "SESSID",
    "AUTH",
    "AUTHORIZATION",
    "DSN",
    "JWT",
    "CSRF",
    "XSRF",
    "SIGNATURE",
)
# Words common in ordinary log text ("auth:SIMPLE", "Session: 30546173_4261722401"): a
# name secret only through these masks a value only when it looks like a credential.
_WEAK_WORDS = frozenset({"SESSION", "SESSID", "AUTH"})
_WEAK_PARTS = frozenset({"SIG", "SID"})
_PLURALS = frozenset({"S", "KEYS", "IDS"})
# What may follow a weak word for the name to stay secret: nothing but digits and release
# or stage qualifiers (REDIS_AUTH, sig_v4, REDIS_AUTH_PROD), or, anywhere after it, a part
# naming what of it the value is (SESSION_ID, auth_code, SESSION_KEY_OLD,
# SESSION_ENCRYPT_KEY). Other parts alone make the name some other thing the word
# qualifies: SessionTracker, DeauthInd, session_reuses, SSH_AUTH_SOCK and AUTH_USER name no
# secret. Plurals of strong words (tokens, CREDENTIALS_JSON) are weak but not held to this.
_WEAK_TRAILERS = frozenset(
    {
        *("ID", "IDS", "KEY", "KEYS", "TOKEN", "TOKENS", "VALUE", "VALUES", "DATA", "STRING"),
        *("COOKIE", "COOKIES", "CODE", "CODES", "HASH", "PIN", "NONCE", "HEADER", "HEADERS"),
        *("INFO", "TICKET", "TICKETS", "TKT", "PARAM", "PARAMS", "BLOB", "ASSERTION", "STATE"),
        *("SALT", "HMAC", "MAC", "CRED", "CREDS", "BASIC", "BEARER", "DIGEST", "PSK", "SEED"),
        *("OTP", "TOTP", "USERPASS", "VERIFIER", "STR", "VAL", "RAW", "ENCODED", "BASE64"),
        *("B64", "HEX", "PHRASE", "PRIV", "PRIVATE", "SECRET", "SECRETS", "PW", "JWK"),
    }
)
_WEAK_SKIPPED = frozenset(
    {
        *("V", "OLD", "NEW", "PREV", "PREVIOUS", "NEXT", "CURRENT", "PRIMARY", "SECONDARY"),
        *("PROD", "PRODUCTION", "DEV", "DEVELOPMENT", "STAGING", "STAGE", "TEST", "QA", "UAT"),
        *("S", "B"),
    }
)
_WORD_SUFFIXES = frozenset({"", "S", "KEY", "KEYS", "ID", "IDS", "DATA", "VALUE", "STRING"})
# Whole name parts that are secret on their own.
_EXACT_PARTS = frozenset({"PASS", "SIG", "SID"})
# A name part before KEY that makes the key a secret (API_KEY, SOPS_AGE_KEY, AccountKey).
_KEY_QUALIFIERS = frozenset(
    {
        "ACCESS",
        "ACCOUNT",
        "AGE",
        "API",
        "CLIENT",
        "DOTENV",
        "ENC",
        "ENCRYPTION",
        "HMAC",
        "LICENSE",
        "MASTER",
        "PRIV",
        "PRIVATE",
        "SECRET",
        "SHARED",
        "SIGNING",
    }
)
# A last name part that says the value is about a secret, not the secret itself.
_NOT_SECRET_LAST = frozenset(
    {
        "AGE",
        "ALG",
        "ALGORITHM",
        "BYPASS",
        "COUNT",
        "DIR",
        "ENABLED",
        "DOMAIN",
        "ENDPOINT",
        "ERROR",
        "EXPIRATION",
        "EXPIRES",
        "EXPIRY",
        "FAIL",
        "FAILED",
        "FAILURE",
        "FILE",
        "FORMAT",
        "LEN",
        "LENGTH",
        "LEVEL",
        "METHOD",
        "MODE",
        "NAME",
        "PASSED",
        "PATH",
        "PROVIDER",
        "REQUEST",
        "RESPONSE",
        "SIZE",
        "STATUS",
        "TIMEOUT",
        "TTL",
        "TYPE",
        "URI",
        "URL",
    }
)
# The shell's working directories, not passwords.
_NOT_SECRET_NAMES = frozenset({"PWD", "OLDPWD"})
_NAME_PARTS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def _part_strength(part: str) -> tuple[int, bool]:
    """The part's strength (2: names a secret, 1: weak, 0: none) and whether it is held.

    Held: it names a secret only with a trailer or skipped words after it (_after_flags).
    A weak word (_WEAK_WORDS, _WEAK_PARTS) standing alone or as a plural is held; glued to
    its own suffix (SESSIONKEY) or a strong word's plural (TOKENS), it is not.
    """
    if part in _EXACT_PARTS:
        return (1, True) if part in _WEAK_PARTS else (2, False)
    best = 0
    glued: list[str] = []  # the suffixes of the weak words found
    for word in _WORDS:
        at = part.find(word)
        suffix = part[at + len(word) :]
        if at >= 0 and suffix in _WORD_SUFFIXES:
            # A plural names a count more often than a secret (active_tokens=243).
            if word not in _WEAK_WORDS and suffix not in _PLURALS:
                return 2, False
            best = 1
            if word in _WEAK_WORDS:
                glued.append(suffix)
    held = bool(glued) and all(not suffix or suffix in _PLURALS for suffix in glued)
    return best, held


# Case that camelCase splitting reads wrong: "PASSword" (PAS+Sword), "pAsSwOrD".
_ODD_CASE = re.compile(r"[A-Z]{2}[a-z]|[a-z][A-Z][a-z][A-Z]")


# Names longer than this are not memoised: a log's key runs have no length limit, and
# 8,192 of 200 KB each would hold 1.6 GB.
_CACHED_NAME_MAX = 256


def _name_strength(name: str) -> int:
    if len(name) > _CACHED_NAME_MAX:
        return _uncached_strength(name)
    return _cached_strength(name)


def _uncached_strength(name: str) -> int:
    strength = _split_strength(name, name)
    # Case does not matter: an odd-cased name's words are read whole too.
    if strength < 2 and _ODD_CASE.search(name):  # noqa: PLR2004
        strength = max(strength, _split_strength(name, name.lower()))
    return strength


#: Names read, with their strength: 8,192 at most, then forgotten. A run read as a name may
#: be a value (the text before ``=`` in ``API_KEY=c2VjcmV0LXZhbHVl==``), so the memo keeps
#: no text (``text_free_memo``).
_STRENGTH: dict[tuple[int, int], int] = {}
_cached_strength = text_free_memo(_uncached_strength, _STRENGTH, 8192)


def _split_strength(name: str, split: str) -> int:
    if name.upper() in _NOT_SECRET_NAMES:
        return 0
    parts = [p.upper() for p in _NAME_PARTS.findall(split)]
    if not parts:
        return 0
    if len(parts) > 1 and parts[-1] in _NOT_SECRET_LAST:
        return 0
    best = 0
    after: list[tuple[bool, bool]] = []
    for i, part in enumerate(parts):
        strength, held = _part_strength(part)
        if held:
            # SESSION_ENCRYPT_KEY, AUTH_MFA_CODE: a trailer anywhere after it;
            # REDIS_AUTH_PROD: only skipped words after it.
            after = after or _after_flags(parts)
            if not any(after[i]):
                strength = 0
        best = max(best, strength)
        if (
            part in {"KEY", "KEYS"}
            and i > 0
            and parts[i - 1] in _KEY_QUALIFIERS
            and (i + 1 == len(parts) or parts[i + 1] != "ID")
        ):
            return 2
        if best == 2:  # noqa: PLR2004
            return 2
    return best


def _after_flags(parts: list[str]) -> list[tuple[bool, bool]]:
    """For each part: (a trailer comes after it, only digits and skipped words come after it).

    One pass from the right, so that a name of many weak words costs its length, not its
    square.
    """
    flags: list[tuple[bool, bool]] = [(False, True)] * len(parts)
    trailer, only_skipped = False, True
    for i in range(len(parts) - 1, -1, -1):
        flags[i] = (trailer, only_skipped)
        part = parts[i]
        if part in _WEAK_TRAILERS:
            trailer = True
        if not (part.isdigit() or part in _WEAK_SKIPPED):
            only_skipped = False
    return flags


def _secret_name(name: str) -> bool:
    # _name_strength inlined: called for every key a log line holds.
    strength = _cached_strength(name) if len(name) <= _CACHED_NAME_MAX else _uncached_strength(name)
    return strength > 0


def _weak_name(name: str) -> bool:
    """A secret name only through a weak word: its value must look like a credential."""
    return _name_strength(name) == 1


def is_secret_name(name: str) -> bool:
    """True when a variable, key, header or cookie named ``name`` holds a secret.

    The name is split into parts (at ``_``, ``-``, ``.``, digits and camelCase) and is
    secret when a part contains SECRET, TOKEN, PASSWORD, PASSWD, PASSPHRASE, PASSCODE,
    PWD, CREDENTIAL, APIKEY, PRIVATEKEY, COOKIE, SESSION, SESSID, AUTH, AUTHORIZATION,
    DSN, JWT, CSRF, XSRF or SIGNATURE (alone or followed by S, KEY, ID, DATA, VALUE or
    STRING: ``SESSIONID``, ``SECRETKEY``), when a part is exactly PASS, SIG or SID, or when
    KEY follows API, PRIVATE, SECRET, ACCESS, ACCOUNT, AGE, DOTENV, CLIENT, ENCRYPTION,
    SIGNING, MASTER, HMAC, SHARED or LICENSE (but not ``..._KEY_ID``). A last part such as
    FILE, PATH, URL, NAME, TYPE, TTL or LENGTH makes it metadata about a secret, not one;
    ``PWD`` and ``OLDPWD`` are the shell's directories. AUTH, SESSION, SESSID, SID and SIG
    count only at the end of the name (digits and stage words such as PROD aside) or when
    a part such as ID, KEY, TOKEN, CODE, HASH or SALT comes after them (``SESSION_ID``,
    ``auth_code``, ``SESSION_ENCRYPT_KEY``), not when they only qualify another word
    (``SSH_AUTH_SOCK``, ``SessionTracker``). Case does not matter.

    Examples:
        >>> [is_secret_name(n) for n in ("DB_PASSWORD", "apiKey", "sessionid", "SENTRY_DSN")]
        [True, True, True, True]
        >>> [is_secret_name(n) for n in ("PWD", "TOKENIZERS_PARALLELISM", "AUTHOR", "DB_PWD_FILE")]
        [False, False, False, False]
        >>> [is_secret_name(n) for n in ("REDIS_AUTH", "SSH_AUTH_SOCK", "auth_code", "AUTH_USER")]
        [True, False, True, False]
    """
    strength = _cached_strength(name) if len(name) <= _CACHED_NAME_MAX else _uncached_strength(name)
    return strength > 0
