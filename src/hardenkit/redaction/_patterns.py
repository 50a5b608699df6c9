"""Value patterns: secrets recognisable by their shape alone (cloud keys, tokens, JWTs, PEM).

Shapes from detect-secrets 1.5 and gitleaks' default rules. Each detector is a
substitution (:data:`VALUE_STEPS`) and a trigger (:data:`VALUE_TRIGGERS`): a hyperscan
expression that matches wherever the substitution could change a text (the pattern
without its look-arounds, repeats cut to their minimum), so that the engine's one
multi-pattern scan decides which substitutions run, and on which lines.

The regexes compile on first use (:func:`lazy`): a process that redacts one line pays
only for the detectors that line needs. Each runs in linear time: a literal prefix,
then single character-class runs, nothing that backtracks over a run more than once.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from hardenkit.redaction._names import MASK, is_mask

# Not typing.TYPE_CHECKING: importing typing costs a first use several ms.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "PEM_LITERAL",
    "PEM_TRIGGER",
    "VALUE_LITERALS",
    "VALUE_STEPS",
    "VALUE_TRIGGERS",
    "Sub",
    "lazy",
    "mask_group",
    "pem_reach",
    "sub_pem",
]

Sub = Callable[[str], str]  # a text-to-text substitution


class _LazyPattern:
    """A regex compiled on its first use, then as fast as the compiled one.

    On first use the compiled pattern's methods are stored on the instance, so later
    lookups never reach ``__getattr__``. Two threads may both compile: harmless.
    """

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self._source = (pattern, flags)

    def __getattr__(self, name: str) -> Any:
        compiled = re.compile(*self._source)
        for attr in _PATTERN_ATTRS:
            setattr(self, attr, getattr(compiled, attr))
        return getattr(compiled, name)


_PATTERN_ATTRS = (
    *("sub", "subn", "search", "match", "fullmatch", "finditer", "findall", "split"),
    *("groupindex", "groups", "pattern", "flags"),
)


def lazy(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """``re.compile`` deferred to the first use (see :class:`_LazyPattern`)."""
    # Not typing.cast (no typing import): the stand-in answers as the compiled pattern.
    return _LazyPattern(pattern, flags)  # type: ignore[return-value]


def tokenish(value: str, min_len: int = 16) -> bool:
    """A credential-looking run: long enough, letters and digits mixed."""
    if len(value) < min_len:
        return False
    # map over the bound str methods: the same tests, without a generator's frame a character.
    return any(map(str.isdigit, value)) and any(map(str.isalpha, value))


def mask_group(pattern: re.Pattern[str], group: str = "s") -> Sub:
    """A substitution masking one named group of every match (the whole match if absent)."""

    def repl(m: re.Match[str]) -> str:
        if group not in pattern.groupindex:  # read here: the pattern compiles on first use
            return m.group(0) if is_mask(m.group(0)) else MASK
        value = m.group(group)
        if value is None or not value or is_mask(value):
            return m.group(0)
        base = m.start()
        whole = m.group(0)
        return whole[: m.start(group) - base] + MASK + whole[m.end(group) - base :]

    def sub(text: str) -> str:
        return pattern.sub(repl, text)

    return sub


_ALNUM_AFTER = r"(?![A-Za-z0-9])"


_HEX2 = "[0-9A-Fa-f][0-9A-Fa-f]"


def _after(prefix_len: int, word: str = "A-Za-z0-9") -> str:
    r"""A look-behind placed after a literal prefix: no letter or digit comes before it.

    Unless that letter ends a string escape (``\n``: a JSON log line's escaped newline,
    ``{"msg":"keys:\nAKIA..."}``; ``\x3d``, ``\u003c``: Go's JSON escapes "<", ">" and "&"
    so) or that digit a percent-encoded byte (``%20ghp_...``, ``%3Dghp_...``): the token
    then starts a word of the decoded text. ``word``: the
    characters that join a token to the word before it.
    At the start of a pattern it would cost re its literal-prefix fast search.
    """
    n = prefix_len
    return (
        rf"(?:(?<![{word}].{{{n}}})|(?<=\\[bfnrt].{{{n}}})|(?<=%{_HEX2}.{{{n}}})"
        rf"|(?<=\\x{_HEX2}.{{{n}}})|(?<=\\u{_HEX2}{_HEX2}.{{{n}}}))"
    )


# (name, Python pattern, hyperscan trigger). The trigger is the pattern without its
# look-arounds and with each repeat at its minimum: a superset of where it matches.
_VALUES: tuple[tuple[str, str, str], ...] = (
    ("github", r"gh[pousr]_" + _after(4) + r"[A-Za-z0-9]{36,255}" + _ALNUM_AFTER,
     r"gh[pousr]_[A-Za-z0-9]{36}"),
    ("github_pat", r"github_pat_[A-Za-z0-9_]{22,255}", r"github_pat_[A-Za-z0-9_]{22}"),
    ("stripe", r"[sr]k_(?:live|test)_" + _after(8) + r"[A-Za-z0-9]{10,247}",
     r"[sr]k_(?:live|test)_[A-Za-z0-9]{10}"),
    ("stripe_hook", r"whsec_[A-Za-z0-9+/]{24,}={0,2}", r"whsec_[A-Za-z0-9+/]{24}"),
    ("npm", r"npm_[A-Za-z0-9]{36}" + _ALNUM_AFTER, r"npm_[A-Za-z0-9]{36}"),
    ("huggingface", r"hf_" + _after(3) + r"[A-Za-z0-9]{30,}", r"hf_[A-Za-z0-9]{30}"),
    ("huggingface_org", r"api_org_[A-Za-z0-9]{30,}", r"api_org_[A-Za-z0-9]{30}"),
    ("digitalocean", r"do[opr]_v1_[a-f0-9]{64}", r"do[opr]_v1_[a-f0-9]{64}"),
    ("shopify", r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}", r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}"),
    ("grafana", r"gl(?:c|sa)_[A-Za-z0-9+/_]{32,}={0,2}", r"gl(?:c|sa)_[A-Za-z0-9+/_]{32}"),
    ("gitlab", r"gl(?:pat|dt|rt|ptt|cbt|soat|ft|imt|oas|agent)-[A-Za-z0-9_\-]{20,}",
     r"gl(?:pat|dt|rt|ptt|cbt|soat|ft|imt|oas|agent)-[A-Za-z0-9_\-]{20}"),
    ("slack", r"xox[abposre]-[A-Za-z0-9\-]{10,}", r"xox[abposre]-[A-Za-z0-9\-]{10}"),
    ("slack_app", r"xapp-\d-[A-Za-z0-9\-]{20,}", r"xapp-[0-9]-[A-Za-z0-9\-]{20}"),
    ("google_client", r"GOCSPX-[A-Za-z0-9_\-]{20,}", r"GOCSPX-[A-Za-z0-9_\-]{20}"),
    ("openai", r"sk-" + _after(3, r"A-Za-z0-9_\-") + r"[A-Za-z0-9_\-]{20,}",
     r"sk-[A-Za-z0-9_\-]{20}"),
    ("pypi", r"pypi-Ag[A-Za-z0-9_\-]{50,}", r"pypi-Ag[A-Za-z0-9_\-]{50}"),
    ("age", r"AGE-SECRET-KEY-1[0-9A-Z]{58}", r"AGE-SECRET-KEY-1[0-9A-Z]{58}"),
    ("square", r"sq0(?:atp|csp)-[A-Za-z0-9_\-]{22,}", r"sq0(?:atp|csp)-[A-Za-z0-9_\-]{22}"),
    ("google_oauth", r"ya29\.[A-Za-z0-9_\-]{20,}", r"ya29\.[A-Za-z0-9_\-]{20}"),
    # Only at a token's start: "eyJeyJeyJ..." would otherwise rescan the run from every eyJ.
    ("jwt", (r"eyJ" + _after(3, r"A-Za-z0-9_\-")
             + r"[A-Za-z0-9_\-]{8,}={0,2}\.[A-Za-z0-9_\-]{8,}={0,2}(?:\.[A-Za-z0-9_\-+/]*=*)?"),
     r"eyJ[A-Za-z0-9_\-]{8,}={0,2}\.[A-Za-z0-9_\-]{8}"),
    ("slack_hook", r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<s>[A-Za-z0-9+/_\-]+)",
     r"hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/_\-]"),
    ("sendgrid", r"SG\.[A-Za-z0-9_\-]{16,32}\.[A-Za-z0-9_\-]{16,64}",
     r"SG\.[A-Za-z0-9_\-]{16,32}\.[A-Za-z0-9_\-]{16}"),
    ("vault", r"hv[sbr]\.[A-Za-z0-9_\-]{24,}", r"hv[sbr]\.[A-Za-z0-9_\-]{24}"),
    ("aws", r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)" + _after(4) + r"[A-Z0-9]{16}" + _ALNUM_AFTER,
     r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}"),
    ("google_key", r"AIza[A-Za-z0-9_\-]{35}", r"AIza[A-Za-z0-9_\-]{35}"),
    ("atlassian", r"ATATT3[A-Za-z0-9_\-=]{50,}", r"ATATT3[A-Za-z0-9_\-=]{50}"),
    ("databricks", r"dapi" + _after(4) + r"[a-f0-9]{32}(?:-\d)?", r"dapi[a-f0-9]{32}"),
    ("twilio", r"SK" + _after(2) + r"[0-9a-fA-F]{32}" + _ALNUM_AFTER, r"SK[0-9a-fA-F]{32}"),
)  # fmt: skip

#: (name, substitution) of every value pattern, in the order they apply.
VALUE_STEPS: tuple[tuple[str, Sub], ...] = tuple(
    (name, mask_group(lazy(pattern))) for name, pattern, _ in _VALUES
)
# A trigger's last repeat is cut to this: still a necessary condition, and hyperscan
# compiles a class repeated 12 times in 1-4 ms where 20 times take ~30 ms (the database
# is compiled on the first redact() of a process).
_TAIL = 12
_LAST_REPEAT = re.compile(r"\{(\d+)\}$")


def _cut(trigger: str) -> str:
    return _LAST_REPEAT.sub(lambda m: f"{{{min(int(m.group(1)), _TAIL)}}}", trigger)


#: name -> hyperscan expression matching wherever that substitution could change a text.
VALUE_TRIGGERS: dict[str, str] = {name: _cut(trigger) for name, _, trigger in _VALUES}

#: name -> literals (case as written), one of which is in every match of that pattern: its
#: literal prefix, or the alternatives of it. The engine's cheap prefilter (a process's
#: first texts, and machines without hyperscan) runs a pattern only where one occurs.
VALUE_LITERALS: dict[str, tuple[str, ...]] = {
    "github": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    "github_pat": ("github_pat_",),
    "stripe": ("k_live_", "k_test_"),
    "stripe_hook": ("whsec_",),
    "npm": ("npm_",),
    "huggingface": ("hf_",),
    "huggingface_org": ("api_org_",),
    "digitalocean": ("_v1_",),
    "shopify": ("shp",),
    "grafana": ("glc_", "glsa_"),
    "gitlab": ("gl",),
    "slack": ("xox",),
    "slack_app": ("xapp-",),
    "google_client": ("GOCSPX-",),
    "openai": ("sk-",),
    "pypi": ("pypi-Ag",),
    "age": ("AGE-SECRET-KEY-1",),
    "square": ("sq0atp-", "sq0csp-"),
    "google_oauth": ("ya29.",),
    "jwt": ("eyJ",),
    "slack_hook": ("hooks.slack.com/",),
    "sendgrid": ("SG.",),
    "vault": ("hvs.", "hvb.", "hvr."),
    "aws": ("A3T", "AKIA", "ASIA", "ABIA", "ACCA"),
    "google_key": ("AIza",),
    "atlassian": ("ATATT3",),
    "databricks": ("dapi",),
    "twilio": ("SK",),
}


# --------------------------------------------------------------------------- PEM blocks

_PEM = lazy(
    r"(?P<begin>-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----)"
    r"(?P<body>.*?)"
    r"(?P<end>-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\Z)",
    re.DOTALL,
)
#: A PEM block spans lines: the engine runs it on the whole text when this occurs.
PEM_TRIGGER = r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY"
#: The literal every PEM match holds (see :data:`VALUE_LITERALS`).
PEM_LITERAL = "-----BEGIN"


def _pem_repl(m: re.Match[str]) -> str:
    body = m.group("body")
    if not body.strip() or is_mask(body.replace("\\n", "").strip()):
        return m.group(0)
    return m.group("begin") + MASK + m.group("end")


def sub_pem(text: str) -> str:
    """Mask a private key's body, to the end of the text when its END line is missing."""
    return _PEM.sub(_pem_repl, text)


def pem_reach(text: str, lo: int, end: int) -> int:
    """Where the PEM block whose BEGIN line's trigger ends at ``end`` ends (``end`` if none).

    ``lo``: where the previous PEM trigger ended. The trigger holds no ``-``, so its block
    starts at the last ``-----BEGIN`` before ``end``; none after ``lo`` means the same
    BEGIN as the previous trigger's, whose block was reached already (reading only from
    ``lo`` keeps a run of triggers linear).
    """
    begin = text.rfind("-----BEGIN", lo, end)
    m = _PEM.match(text, begin) if begin >= 0 else None
    return end if m is None else m.end()
