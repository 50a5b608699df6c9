"""The hyperscan prefilter never lets a detector's match through (issue 16).

redact() runs a detector only where the prefilter's one scan points; full_scan() runs every
detector on the whole text. The two must agree on single lines and on blocks of lines, on
the samples, the benchmark corpora and generated text, and nothing any detector would
still mask may be left in redact()'s output. Registered secrets added after the
prefilter's database was built are masked too.
"""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import example, given, settings, strategies as st
from tests._helpers import load_benchmark

from hardenkit.redaction import (
    _context_triggers as CT,  # noqa: N812
    _engine as E,  # noqa: N812
    _hs as HS,  # noqa: N812
    _names,
    _planner as PLAN,  # noqa: N812
    _prefilter as PF,  # noqa: N812
    redact,
    register_secret,
)

# Compared with full_scan, which knows no registered value (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("no_registered_secrets")

if TYPE_CHECKING:
    from pathlib import Path


def _sample_texts(shared_data: Path) -> list[str]:
    samples: list[dict[str, str]] = json.loads((shared_data / "secret-samples.json").read_text())
    return [s["text"] for s in samples]


@pytest.fixture(scope="module")
def corpus_lines() -> list[str]:
    lines: list[str] = [line for line, _ in load_benchmark("corpus").make_corpus(3000, seed=5)]
    more: list[str] = load_benchmark("bench_redact").make_lines(1500, seed=11)
    return lines + more


def test_lines_and_blocks_equal_every_detector_on_the_whole_text(
    shared_data: Path, corpus_lines: list[str]
) -> None:
    lines = _sample_texts(shared_data) + corpus_lines
    for line in lines:
        assert redact(line) == E.full_scan(line), line
    for size in (7, 60, 600):  # blocks of lines, as a handler of 64 KiB buffers sees them
        for at in range(0, len(lines), size):
            block = "\n".join(lines[at : at + size])
            assert redact(block) == E.full_scan(block)


def test_a_block_is_redacted_as_its_lines_are(corpus_lines: list[str]) -> None:
    block = "\n".join(corpus_lines)
    assert redact(block) == "\n".join(redact(line) for line in corpus_lines)
    assert redact(block) != block  # the corpora hold secrets


_PIECES = [
    *("token", "ToKeN", "api_key", "apiKey", "key", "x-api-key", "SECRET", "passwd"),
    *("PassWord", "pwd", "DB_PWD", "jwt", "sessionid", "Session", "sid", "sig", "dsn"),
    *("credential", "xsrf", "auth", "AuthFail", "Authorization", "bearer ", "Cookie"),
    *("Set-Cookie", "_type", "_TTL", ".java", "Token{", "Token@", "true", "None", "443"),
    *("=", ": ", "=>", ":", '"', "'", "&", ")", "://", "@", "/", "#", "</", "<password>"),
    *("<", ">", "sk-", "sk_live_", "ghp_", "github_pat_", "glpat-", "xoxb-", "AIza", "eyJ"),
    *("hf_", "SG.", "dapi", "SK", "hvs.", "AKIA", "ATATT3", "npm_", "pypi-Ag", "ya29."),
    *("-----BEGIN RSA PRIVATE KEY-----", "-----END RSA PRIVATE KEY-----", "\n", "\n", " "),
    *("4111 1111 1111 1111", "5555-5555-5555-4444", "378282246310005", "4242424242424242"),
    *("\u212a", "\u0130", "\u017f", "é", "ü", "\u00a0", "\t", "***"),
    *("_AGE", "Age", "Type", "TYPE", "_count", "bearer", "Basic", "False", '""', "''", ":>"),
    *("65535", "Token(", ",", ";", "]", "}", "\r"),
]
_runs = st.text(alphabet="abcdefABCDEF0123456789xyzXYZ_-.+/", min_size=1, max_size=48)
_texts = st.lists(st.one_of(st.sampled_from(_PIECES), _runs, st.text(max_size=4)), max_size=40).map(
    "".join
)


@settings(max_examples=500, deadline=None)
@given(_texts)
def test_generated_text_equals_every_detector_on_the_whole_text(text: str) -> None:
    out = redact(text)
    assert out == E.full_scan(text)
    assert E.full_scan(out) == out  # no detector finds anything left to mask


@settings(max_examples=200, deadline=None)
@given(st.lists(_texts, min_size=2, max_size=12))
def test_generated_blocks_are_redacted_line_by_line(lines: list[str]) -> None:
    block = "\n".join(lines)
    assert redact(block) == E.full_scan(block)


def test_registered_after_the_database_was_built() -> None:
    for _ in range(PF._WARM_CALLS + 1):
        redact("warm the prefilter up: password=abc123def")
    assert PF._scan is not PF._scan_stub  # the database exists
    late = "late-registered-Zx81-value"
    block = "\n".join([f"line {i} ordinary text" for i in range(300)] + [f"x {late} y"])
    assert late in redact(block)
    register_secret(late)
    out = redact(block)
    assert late not in out
    assert out.endswith("x *** y")
    # Its encoded forms too, and in a line that also needs a detector.
    late2 = "late/secret with space#2"
    register_secret(late2)
    line = "GET /cb?next=late%2Fsecret%20with%20space%232&password=hunter22x"
    assert redact(line) == "GET /cb?next=***&password=***"


def test_without_hyperscan_every_detector_runs(
    monkeypatch: pytest.MonkeyPatch, shared_data: Path, corpus_lines: list[str]
) -> None:
    lines = _sample_texts(shared_data) + corpus_lines[:400]
    expected = [redact(line) for line in lines]
    monkeypatch.setattr(HS, "_HS", [None])
    monkeypatch.setattr(PF, "_scan", PF._build_scan())
    assert [redact(line) for line in lines] == expected
    assert redact("\n".join(lines)) == "\n".join(expected)


def test_the_first_small_texts_run_every_detector_without_the_database() -> None:
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    code = (
        "import sys\n"
        "from hardenkit.redaction import _prefilter as PF, redact\n"
        "out = [redact('password=hunter22x at postgres://u:pw1234@db/x'), redact('plain')]\n"
        "print(out, 'hyperscan' in sys.modules, PF._scan is PF._scan_stub)\n"
        "for _ in range(PF._WARM_CALLS): redact('more text')\n"
        "print(PF._scan is PF._scan_stub)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == [
        "['password=*** at postgres://u:***@db/x', 'plain'] False True",
        "False",
    ]


def test_most_ordinary_lines_need_no_detector(corpus_lines: list[str]) -> None:
    # The point of the prefilter: one scan, nothing to run, for the common line.
    quiet = [line for line in corpus_lines if redact(line) == line]
    assert sum(not E.triggers(line) for line in quiet) > 0.97 * len(quiet)


@pytest.mark.parametrize(
    "line",
    [
        "12-17 19:31:05.123 D ActivityManager: token=Token{a64f992 u0 com.x/.Main}",
        "\tat com.acme.auth.TokenService.run(TokenService.java:755)",
        "INFO app token_type=bearer expires_in=3600 scope=read:orders",
        "WARN proxy CONNECT auth.grammarly.com:443 from 10.0.0.1",
        "2016-09-28 04:30:31, Info CBS Session: 30546173_4261722401 initialized",
        "settings loaded SESSION_COOKIE_AGE=1209600 SESSION_COOKIE_SECURE=True",
        "ipc.Server: Auth successful for appattempt_1445144423722_0020_000001 (auth:SIMPLE)",
    ],
)
def test_ordinary_key_value_lines_run_no_detector(line: str) -> None:
    assert E.triggers(line) == set()
    assert redact(line) == line


# Keys, separators and values around the pairs the scan itself calls left (LEFT_KEY_PAIR,
# LEFT_VALUE_PAIR): a claim pair_left would not make would leave a secret unread.
_KEYS: tuple[str, ...] = (
    "token",
    "ToKeN",
    "api_key",
    "apiKey",
    "SESSION_COOKIE",
    "passwd",
    "DB_PWD",
    "secret",
)
_KEYS += ("x-api-key", "csrf", "cookie", "--db-password", "---token", "TokenService", "7", "")
_KEYS += ("Auth", "session", "SID", "sig", "AUTH_", "sessionCookie", "Set-Cookie", "x-cookie")
_KEYS += ("\ncookie", " COOKIE", "é-cookie", "--cookie")
_KEYS += ("PWD", "pwd", "OldPwd", "--pwd", "x_pwd", "bypass", "BYPASS", "last", "surpassed")
_KEYS += ("api_key_id", "AWS_ACCESS_KEY_ID", "aws_access", "secret_key_id", "Api_Key_Id")
# After a JSON escape (a newline in a message string), once or twice escaped.
_KEYS += ("\\napiKey", "\\tpass", "\\\\napi_key", "\\rPWD", "\\bOLDPWD", "\\ncookie")
_KEYS += ("\\nkey", "\\ntoken", "\\fsid", "\\naws_access", "\\n--api-key", "\\x-api-key")
_KEYS += ("\\napiKeyAuth", "\\npass_sig", "\\tpriv_key_sid", "\\nPWD", "\\nsession_id")
# Plurals (weak) and names holding a strong part before one (strong): digit values.
_KEYS += ("active_tokens", "max_tokens", "password_tokens", "api_keys", "SECRETS", "jwt_tokens")
_KEYS += ("sid", "session_id", "auth", "x-tokens", "pwd_tokens", "tokens_used")
_SUFFIXES: tuple[str, ...] = (
    "",
    "",
    "_AGE",
    "Age",
    "age",
    "aGE",
    "_type",
    "Type",
    "TYPE",
    ".java",
    "_ttl",
)
_SUFFIXES += ("Count", "9AGE", "-", "_", ".x", "s", "Fail", "_method", "ID", "Id")
_SUFFIXES += (".go", ".py", ".kt", ".c", ".javax", ".JAVA", ".java.x", "-java", ".sid", ".key")
_SUFFIXES += ("_passed", "_PASSED", "Passed", "passed", "_bypass", "-BYPASS", "_passed2")
_SEPS = ("=", ": ", "=>", ":", '"=', "'", ":>", " = ", "\t:", '": "', "=\t", '\\":', '\\"=')
_VALUES: tuple[str, ...] = (
    "true",
    "True",
    "FALSE",
    "None",
    "null",
    "nil",
    "1",
    "0",
    "bearer",
    "Basic",
)
_VALUES += ("api-key", "***", "*", '""', "''", '"null"', "'***'", "Token{", "Token@", "Token(")
_VALUES += ("Token[", "443", "65535", "123456", "hunter2", "Xk9vQ2zz", "", "x", "'abc'", "(")
_VALUES += ("sts:5_rsn:0", "30546173_4261722401", "a1b2c3d4e5f6", "SIMPLE")
_VALUES += ("755", "755)", "12345", "755x", "7.5", "0x1f", "99999)", "755(", "755\\")
_VALUES += ("243", "4096,", "12345678", "123456789012", "0042]", "7 ", "243\t", "243.5", "243abc")
_VALUES += ("chauthtok):", 'none":', "true),", "bearer):", "null:", "no'", "0]:", "yes:x")
_ENDS = (")", "]", "}", ">", ",", ";", ".", "&", "&x=", " ", "\r", "\n", "", "", "x", '"', "'")
_pair = st.tuples(*(st.sampled_from(p) for p in (_KEYS, _SUFFIXES, _SEPS, _VALUES, _ENDS)))
_pair_texts = st.lists(
    st.one_of(
        _pair.map("".join), st.sampled_from(_ENDS), st.text(alphabet="aZ09_.-=:", max_size=3)
    ),
    max_size=8,
).map("".join)


@settings(max_examples=1500, deadline=None)
@given(_pair_texts)
def test_a_pair_the_scan_calls_left_is_one_the_rule_leaves(text: str) -> None:
    from hardenkit.redaction._keys import pair_left  # noqa: PLC0415

    hits: list[tuple[int, int]] = []
    data = text.encode()
    PF._built_scan()(data, hits)
    for sep in PLAN._unclaimed(data, list(hits))[1]:
        at = len(data[:sep].decode())  # scan offsets are bytes
        assert pair_left(text, at), (text, at)
    if len(data) == len(text):  # ASCII: the digit claims too (LEFT_AT's digits, the key read)
        for sep in PLAN._unclaimed(data, list(hits), text)[1]:
            assert pair_left(text, sep), (text, sep)


@functools.cache
def _claims_database() -> Any:
    hs = HS._hyperscan()
    db = hs.Database(mode=hs.HS_MODE_BLOCK)
    exprs = [CT.LEFT_VALUE_PAIR.encode(), CT.LEFT_KEY_PAIR.encode()]
    flags = [hs.HS_FLAG_MULTILINE | hs.HS_FLAG_SOM_LEFTMOST, hs.HS_FLAG_MULTILINE]
    db.compile(expressions=exprs, ids=[0, 1], elements=2, flags=flags)
    return db


def _claims_by_the_database(data: bytes) -> set[int]:
    """The separators _unclaimed once found with LEFT_VALUE_PAIR in the database (the oracle).

    LEFT_KEY_PAIR's and LEFT_VALUE_PAIR's matches, a value's separator being the first "="
    or ":" after its match's start (its key part holds neither).
    """
    found: list[tuple[int, int, int]] = []
    _claims_database().scan(
        data, lambda ident, start, to, _fl, _c: found.append((ident, start, to)), 0, None
    )
    left = set()
    for ident, start, end in found:
        if ident:
            left.add(end - 1)
        else:
            seps = [
                at for at in (data.find(b"=", start, end), data.find(b":", start, end)) if at >= 0
            ]
            left.add(min(seps))
    return left


_claim_texts = st.lists(
    st.one_of(
        _pair.map("".join),
        st.sampled_from(_ENDS),
        st.sampled_from(["\r\n", "é", "\u212a", "ﬀ", " ", "\t", "=", ":", "Token{a64f9", "{"]),
        st.text(alphabet="aZ09_.-=:>*'\" é\n", max_size=4),
    ),
    max_size=10,
).map("".join)


@settings(max_examples=1500, deadline=None)
@given(_claim_texts)
def test_value_claims_read_in_python_are_the_database_claims(text: str) -> None:
    # The claims LEFT_AT makes at the trigger's separators (without the key read) are the
    # ones LEFT_VALUE_PAIR made in the database, on lines, blocks, non-ASCII and CRLF.
    data = text.encode("utf-8", "surrogatepass")
    hits: list[tuple[int, int]] = []
    PF._built_scan()(data, hits)
    rest, left = PLAN._unclaimed(data, list(hits))
    assert left == _claims_by_the_database(data) - {-1}
    kept = [h for h in hits if h[1] != PF._LEFT_KEY_ID]
    assert sorted(rest) == sorted(h for h in kept if h[1] != PF._SEP_ID or h[0] - 1 not in left)


@pytest.mark.parametrize(
    "line",
    [
        # One-case keys only (a mixed-case key may be odd-cased: the name rules decide),
        # toString in its brace form, no dotted port (the key's last part decides).
        "cfg SESSION_COOKIE_AGE=1 token=Token{a64f992 x} api_key=null pwd=***",
        "cfg session_cookie_age=3 token_type: bearer 'passwd': '' secret_ttl=60",
        "Cookie: theme=dark; lang=en",
        # Counts under plurals, weak names: the planner reads the key (LEFT_AT's digits).
        "pool sessions=238 active_tokens=243 max_tokens=4096, prompt_tokens: 12",
    ],
)
def test_pairs_the_scan_calls_left_reach_no_python(line: str) -> None:
    hits: list[tuple[int, int]] = []
    PF._built_scan()(line.encode(), hits)
    assert any(ident == PF._SEP_ID for _, ident in hits)
    rest = PLAN._unclaimed(line.encode(), hits, line)[0]
    assert [ident for _, ident in rest if ident in {PF._SEP_ID, *PF._WEAK_IDS}] == []
    assert redact(line) == line


def test_source_extensions_name_no_secret() -> None:
    from hardenkit.redaction._context_triggers import _SOURCE_EXTENSIONS  # noqa: PLC0415
    from hardenkit.redaction._names import is_secret_name  # noqa: PLC0415

    assert [ext for ext in _SOURCE_EXTENSIONS if is_secret_name(ext)] == []


@pytest.mark.parametrize(
    ("line", "number"),
    [
        ("\tat com.acme.auth.TokenService.validateToken(TokenService.java:755)", "755"),
        ("goroutine 7 [running]: /src/auth/token.go:88 +0x1d", "88"),
        ('File "password_reset.py": 12, in reset', "12"),
    ],
)
def test_stack_frames_are_claimed_in_the_scan(line: str, number: str) -> None:
    # A frame's file and line under a key holding a hint: the scan calls it left, so no
    # Python reads it (before, every such frame went through pair_left).
    hits: list[tuple[int, int]] = []
    PF._built_scan()(line.encode(), hits)
    assert any(ident == PF._SEP_ID for _, ident in hits)
    assert [i for _, i in PLAN._unclaimed(line.encode(), hits)[0] if i == PF._SEP_ID] == []
    assert redact(line) == line
    not_a_line = line.replace(number, number + "x")  # no port: the value is masked
    assert redact(not_a_line) != not_a_line


_ascii_pairs = st.lists(
    st.one_of(
        _pair.map("".join),
        st.sampled_from(_ENDS),
        st.text(alphabet="aZ09_.-=: ", max_size=6),
        st.sampled_from(["x" * 300, "token" + "_" * 260, "a.b" * 90]),
    ),
    max_size=8,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(st.lists(_ascii_pairs, min_size=1, max_size=10))
def test_generated_blocks_of_pairs_equal_every_detector(lines: list[str]) -> None:
    # Blocks of lines holding only separators take _by_region's shortcut (pair_left read on
    # the whole text); full_scan is the oracle.
    block = "\n".join(line.encode("ascii", "ignore").decode() for line in lines)
    assert redact(block) == E.full_scan(block)


@settings(max_examples=300, deadline=None)
@given(_pair_texts)
def test_a_rescan_without_key_value_names_the_steps_the_plan_names(text: str) -> None:
    data = text.encode()
    hits: list[tuple[int, int]] = []
    PF._built_scan()(data, hits)
    rest, left = PLAN._unclaimed(data, list(hits))
    rest = [hit for hit in rest if hit[1] not in {PF._SEP_ID, *PF._WEAK_IDS}]
    plain = text if len(data) == len(text) else None
    old = PLAN._plan(rest, 0, plain, left)[0] if rest else set()
    assert set(PLAN._steps_of(text, PF._built_scan(), key_value=False)) == set(old)


_weak_texts = st.lists(
    st.sampled_from(
        [
            *("auth", "AUTH", "Sess", "sig", "sid", "SID", "sigsid", "authsess", "_", ".", "-"),
            *("=", ":", " ", "\t", "'", '"', "x", "9", "tok", "=>", "AuthFail", "sts:5_rsn:0"),
        ]
    ),
    max_size=16,
).map("".join)


@settings(max_examples=1500, deadline=None)
@given(_weak_texts, st.integers(min_value=0, max_value=200))
def test_weak_separators_are_the_regex_matches(text: str, end: int) -> None:
    # _weak_seps finds by str.find what _WEAK_SEP.finditer finds (the oracle).
    end = min(end, len(text))
    oracle = [m.end() - 1 for m in PLAN._WEAK_SEP.finditer(text, 0, end)]
    assert PLAN._weak_seps(text, end) == oracle


def _key_matches_reference(text: str) -> list[tuple[int, str, int, int]]:
    """_key_matches before it used _candidate's memo: each key run's tests written out.

    A run right after a mask is read without its leading dots (``token=***.token=x``);
    one after a backslash and an escape's letter is read without the letter too, and the
    stronger name wins.
    """
    from hardenkit.redaction import _keys as K  # noqa: PLC0415, N812
    from hardenkit.redaction._names import is_secret_name  # noqa: PLC0415

    def secret_key(run: str) -> tuple[str, int] | None:
        dashes = len(run) - len(run.lstrip("-"))
        key = run[dashes:]
        if dashes > 2 or not key or not (key[0].isalpha() or key[0] == "_"):
            return None
        if key.lower() in K._KEYS_ELSEWHERE or not is_secret_name(key):
            return None
        return key, dashes

    rev, n, found = text[::-1], len(text), []
    for m in K._KEY_SEP_REV.finditer(rev):
        run = m.group("key")[::-1]
        dots = 0
        if text.endswith("*", 0, n - m.end()):  # after a mask: its joining dots are no key's
            dots = len(run) - len(run.lstrip("."))
            run = run[dots:]
        got = secret_key(run)
        if text.endswith("\\", 0, n - m.end()) and run[:1] in tuple("bfnrt"):
            # After an escape's backslash (\napiKey): the stronger of the two readings.
            unescaped = secret_key(run[1:])
            strength = _names._name_strength
            if unescaped is not None and (got is None or strength(unescaped[0]) > strength(got[0])):
                dots, got = 1, unescaped
        if got is None:
            continue
        key, dashes = got
        sep_end = K._SPACES.match(text, n - m.start()).end()  # type: ignore[union-attr]
        found.append((n - m.end() + dots + dashes, key, sep_end, _names._name_strength(key)))
    found.reverse()
    return found


@settings(max_examples=800, deadline=None)
@given(st.lists(st.one_of(_pair_texts, st.sampled_from(["-" * 3, "t" * 300, "--"])), max_size=4))
@example(["token=***.token=true)"])  # hypothesis found the reference wrong after a mask
@example(['{"m":"a\\napiKey: x\\\\npass=y \\tsid_key=z"}'])
def test_key_runs_are_read_as_before(parts: list[str]) -> None:
    from hardenkit.redaction._keys import _key_matches  # noqa: PLC0415

    text = " ".join(parts)[:2000]  # one span (_hint_spans splits only longer texts)
    assert _key_matches(text, None) == _key_matches_reference(text)


@pytest.mark.parametrize("text", ["tokentoken://://@@", "redis://u:pa//@@h", "x://:a/b@@@h/x"])
def test_a_password_before_a_run_of_at_signs_is_masked_alike(text: str) -> None:
    # The URL rule read up to the first "@" past a raw "/" and left the rest of the run:
    # its own output ("***@@h") then read differently, and the planner (which runs each
    # detector once) gave "***@@" where the whole text gives "***@" (hypothesis found it).
    assert redact(text) == E.full_scan(text)
    assert "@@" not in redact(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab/@:#?x", max_size=24))
def test_the_url_rule_gives_its_own_output_back(tail: str) -> None:
    from hardenkit.redaction._context import _sub_url  # noqa: PLC0415

    once = _sub_url("redis://" + tail)
    assert _sub_url(once) == once


_weak_values = st.lists(
    st.sampled_from(
        [
            *("session", "SessionTracker", "auth", "X-Auth", "sid", "sig", "tokens", "Deauth"),
            *("Id", "_ID", "Key", "_user", "Code", "2", "S-1-5-21", "-7", "sock"),
            *("=", ": ", ":", "=>", '"', "'", " ", "\t", "\n", "&", "a", "Z", "x", "7", "0"),
            *("0x", "0X", "f", "_", "-", ".", "@", "/", "%40", "é", "\u2014", "\u0663", "\u00b2"),
            *("\u212a", "ab12", "12ab", "a_1", "1-a", "0x14ede63a5a70002", "ZooKeeperServer@325"),
        ]
    ),
    max_size=24,
).map("".join)


@settings(max_examples=1500, deadline=None)
@given(_weak_values)
def test_weak_names_values_equal_every_detector_on_the_whole_text(text: str) -> None:
    # Weak names (the word ends the name, or a trailer such as ID follows) and values that
    # are or are not credentials (hex numbers, Unicode letters and digits): the prefilter
    # must run the rule wherever it masks.
    PF._built_scan()
    assert redact(text) == E.full_scan(text)
    for line in (text, f"x {text} y", f"{text}\n{text}"):
        assert redact(line) == E.full_scan(line)


def _cases(word: str) -> list[str]:
    return [word, word.lower(), word.capitalize()]


_weak_name_texts = st.tuples(
    st.sampled_from([*_cases("AUTH"), *_cases("SESSION"), *_cases("SESSID"), "PHPSESSID", "sid"]),
    st.lists(
        st.tuples(
            st.sampled_from(["", "_", "-", ".", "\u00e9", "2"]),
            st.sampled_from(
                [
                    *(c for w in sorted(_names._WEAK_TRAILERS) for c in _cases(w)),
                    *(c for w in sorted(_names._WEAK_SKIPPED) for c in _cases(w)),
                    *("Tracker", "user", "SOCK", "Ind", "reuses", "s", "x"),
                ]
            ),
        ).map("".join),
        max_size=4,
    ).map("".join),
    st.sampled_from(["=", ":", ": ", "=>", '"=', '": "', " = "]),
    st.sampled_from(
        [
            *("Xk9vQ2zz7qRt", "Welcome@123", "admin:12345678", "0x14ede63a5a70002", "abc"),
            *("S-1-5-21-3623811015-1013", "hunter2hunter2", "12345678", "abcdefghij", "1a"),
        ]
    ),
).map(lambda t: "x " + "".join(t) + " y")


@settings(max_examples=1500, deadline=None)
@given(_weak_name_texts)
def test_weak_names_and_their_trailers_equal_every_detector(text: str) -> None:
    # The weak trigger spells out which names the weak rule counts (a weak word, then only
    # trailer parts): a name the rule masks under must reach the rule.
    PF._built_scan()
    assert redact(text) == E.full_scan(text)


_json_texts = st.lists(
    st.sampled_from(
        [
            *("{", "}", "[", "]", ",", ":", " ", '"', "\\", "\n", '"password"', '"api_key"'),
            *('"session"', '"n"', '"password":', "123", "456", "1e5", "-1", "null", "true"),
            *("***", "abc", "hunter2xyz", "Summer2024!", ", "),
            *("b'", "u", "'", "''", "\\'", '\\"', '\\\\\\"', '"auth"', " 2024"),
        ]
    ),
    max_size=20,
).map("".join)


@settings(max_examples=1500, deadline=None)
@given(_json_texts)
def test_json_pairs_are_idempotent_and_equal_every_detector(text: str) -> None:
    # A JSON scalar is cut where JSON goes on; a mask is a scalar too, so the rule reads
    # its own output as it wrote it (the review found "password":***,"user" read whole).
    PF._built_scan()
    out = redact(text)
    assert out == E.full_scan(text)
    assert redact(out) == out


def _line_masks(text: str) -> tuple[set[int], PLAN._Masks | None]:
    data = text.encode()
    hits: list[tuple[int, int]] = []
    PF._built_scan()(data, hits)
    rest, left = PLAN._unclaimed(data, hits)
    if not rest:
        return set(), []
    return PLAN._plan(rest, 0, text, left)


# Pairs of every kind, a weak key's among them, then values holding separators and quotes.
_mask_texts = st.lists(
    st.one_of(
        _pair.map("".join),
        st.sampled_from(_ENDS),
        st.sampled_from(("session=", "sid=ab", "auth=42", '{"log":"', '","token":"', "sig:")),
        st.text(alphabet="aZ09_.-=:\"'\\", max_size=3),
    ),
    max_size=8,
).map("".join)


@settings(max_examples=1500, deadline=None)
@given(_mask_texts.filter(lambda t: "\n" not in t and "\r" not in t and t.isascii()))
def test_the_planned_masks_are_the_rule_s_own_output(text: str) -> None:
    """The masks the planner reads at the scan's separators give _sub_key_value's text.

    The engine applies them in place of the rule (_planner._run): the rule's own reading
    of the line is the oracle.
    """
    from hardenkit.redaction import _keys  # noqa: PLC0415
    from hardenkit.redaction._keys import _sub_key_value  # noqa: PLC0415

    steps, masks = _line_masks(text)
    if masks is None:  # unsure: the rule itself runs
        return
    assert _keys.spliced(text, masks) == _sub_key_value(text), text
    assert (PF._KEY_VALUE in steps) == bool(masks)


def test_hinted_last_words_name_no_secret_alone_or_last() -> None:
    """The scan claims a key ending in one of these words left (LEFT_KEY_PAIR): the rule
    must leave every such name, whatever comes before the word."""
    assert CT.HINTED_LAST  # the claim has words to claim
    for word in CT.HINTED_LAST:
        for name in (word, word.lower(), f"LAST_{word}", f"DB_PASSWORD_{word}", f"x.token-{word}"):
            assert not _names.is_secret_name(name), name
        assert _names.is_secret_name(f"{word}_TOKEN")  # not last: the name is secret


def test_key_id_qualifiers_name_no_secret() -> None:
    """The scan claims a one-case key of one to three of these words, KEY and ID, left."""
    import itertools  # noqa: PLC0415

    words = CT.KEY_ID_QUALIFIERS
    for size in (1, 2):
        for parts in itertools.product(words, repeat=size):
            for sep in "_.-":
                name = sep.join((*parts, "KEY", "ID"))
                assert not _names.is_secret_name(name), name
                assert not _names.is_secret_name(name.lower()), name
    for parts in itertools.product(words[:6], repeat=3):
        assert not _names.is_secret_name("_".join((*parts, "KEY", "ID")))
    assert _names.is_secret_name("API_KEY")  # without its ID, the key itself
