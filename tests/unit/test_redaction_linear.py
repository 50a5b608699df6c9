"""redact() runs in time linear in its input, whatever the input (issue 16).

Each payload is timed at 25, 50, 100 and 200 KB (best of three) and the test fails when
time at 4x the input grows more than ~5x (a quadratic detector grows 16x). The payloads
are the inputs that stalled the old detectors plus random mixes of their fragments.
"""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING

import pytest

from hardenkit import redaction as R  # noqa: N812
from hardenkit.redaction import _prefilter as PF  # noqa: N812

if TYPE_CHECKING:
    from collections.abc import Callable

_SIZES = (25_000, 50_000, 100_000, 200_000)


def _rep(unit: str) -> Callable[[int], str]:
    return lambda n: (unit * (n // len(unit) + 1))[:n]


PAYLOADS: dict[str, Callable[[int], str]] = {
    "key": _rep("key"),
    "token": _rep("token"),
    "pwd": _rep("pwd"),
    "jwt": _rep("jwt"),
    "cookie": _rep("cookie"),
    "api_key": _rep("api_key"),
    "pass": _rep("pass"),
    "pass:": _rep("pass:"),
    "key=": _rep("key="),
    'token="': _rep('token="'),
    "base64": _rep("Ab9+/x"),
    "hex": _rep("a1f0"),
    "digits": _rep("4"),
    "digits spaced": _rep("4 "),
    "card dashes": _rep("4111-"),
    "eyJ": _rep("eyJ"),
    "eyJ run": lambda n: "eyJ" + "a" * n,
    "eyJ dots": _rep(".eyJabcdefghij"),
    "Cookie: no =": lambda n: "Cookie: " + "a" * n,
    "Cookie: pairs": lambda n: "Cookie: " + _rep("ab;")(n),
    "at signs": lambda n: "://a:" + "@" * n,
    "url schemes": _rep("://a:"),
    "url slashes": lambda n: "x://u:" + "/" * n,
    "authorization": _rep("Authorization: "),
    "bearer": _rep("Bearer "),
    # Header values read to their closing quote: auth-params' quoted strings and escapes.
    "authorization params": lambda n: "'Authorization: Digest " + _rep('a="b", ')(n),
    "authorization open params": lambda n: '"Authorization: Digest ' + _rep('a="b')(n),
    "authorization escapes": lambda n: '"Authorization: Digest ' + _rep('\\"=')(n),
    "authorization headers": _rep("'Authorization: Basic a1' "),
    "authorization padding": _rep('"Authorization: Basic YWI=", "n"'),
    "xml": _rep("<a>"),
    # Opening tags with attributes, and CDATA sections never or late closed.
    "xml attributes": _rep('<password a="'),
    "xml quoted >": _rep("<password a='>'"),
    "xml tags across lines": _rep("<password\n"),
    "xml cdata opens": _rep("<password><![CDATA["),
    "xml cdata late end": lambda n: _rep("<password><![CDATA[x")(n) + "]]></password>",
    "xml cdata runs": lambda n: "<password><![CDATA[" + _rep("<token>]")(n),
    "xml elements": _rep('<ns:password t="1"><![CDATA[a]]></ns:password>'),
    "pem": _rep("-----BEGIN PRIVATE KEY-----"),
    "amp": lambda n: "password=a" + _rep("&a")(n),
    "sk-": _rep("sk-"),
    "AKIA": _rep("AKIA"),
    "ghp_": _rep("ghp_"),
    "--password=": _rep("--password="),
    "quotes": _rep("password='\""),
    "brackets": _rep("secret={[(<"),
    # Bracketed values read to their closing bracket (the eighth review): never closed.
    "unclosed brackets": _rep("password={a b "),
    "unclosed nested brackets": _rep("password=[[[a b "),
    "brackets closed late": lambda n: "password={" + _rep("[a b ")(n) + "}",
    "bracket pairs": _rep("token=(a b) "),
    # Token shapes and cards after string escapes and percent-encoded bytes.
    "escaped token starts": _rep("\\nghp_"),
    "percent token starts": _rep("%20AKIA"),
    "percent digits": _rep("%204"),
    "escaped digits": _rep("\\n4"),
    "card and digits": _rep("4111111111111111 2 "),
    "spaced groups": _rep("4111 "),
    "numbers before groups": _rep("3000 "),
    "unicode escaped digits": _rep("\\u003e4111"),
    "index brackets": _rep("user[password][]"),
    "strings in brackets": lambda n: "password=[" + _rep('"a]b", ')(n),
    "unclosed strings in brackets": _rep('password=["a '),
    "deep brackets": lambda n: "password=" + "[" * n,
    "escaped strings in brackets": lambda n: "password=[" + _rep('\\"a]\\", ')(n),
    "key lines": _rep("key\n"),
    "token lines": _rep("x token=\n"),
    "one long line among lines": lambda n: "a\n" * 10 + "token" * (n // 5),
    # JSON pairs: each value is read to its scalar's end, never to the end of the line.
    "json numbers": lambda n: "{" + _rep('"password":123456,')(n),
    "json literals": lambda n: "{" + _rep('"session_id":true,"x":')(n),
    "json key, no scalar": lambda n: "{" + _rep('"token":1a,')(n),
    "escaped json pairs": lambda n: "{" + _rep('\\"password\\":\\"a\\",')(n),
    "escaped quote run": lambda n: 'password=\\"' + _rep("\\a")(n),
    "escaped quotes": _rep('\\"'),
    "escaped quotes not closing": lambda n: 'password=\\"' + _rep('\\"x')(n),
    "inner escaped quotes": lambda n: 'password=\\"' + _rep('\\\\\\"')(n),
    "escaped single quotes": lambda n: "password=\\'" + _rep("\\'x")(n),
    "prefixed quotes": _rep("password=b'x' "),
    "json next keys": lambda n: '{"password":1,' + _rep('"a')(n),
    # Names of many weak words (the fourth review: quadratic in _split_strength).
    "weak words in one name": lambda n: _rep("sid.a.")(n) + "sid: a1b2c3d4e5",
    "weak words and parts": lambda n: _rep("auth_x_")(n) + "auth=a1b2c3d4e5",
    "weak camel words": lambda n: _rep("sessionUser")(n) + "Id=a1b2c3d4e5",
    # The value claims read at each separator (_planner._unclaimed): runs they read.
    "claimed values": _rep("token=nil "),  # 10 characters: no pair cut at the end
    "toString run": lambda n: "token=A" + "a" * n,
    "mask run": lambda n: "token=" + "*" * n,
    "trailers": lambda n: "token=true" + ")" * n,
    "frames": _rep("Token.java \t:755)   "),
    "frame blanks": lambda n: "Token.java" + " " * n + ":755",
    # Weak values end at a quote or backslash: each read once (the fifth review's payloads).
    "weak values at quotes": _rep('session=a1"'),
    "weak values at backslashes": _rep("session=a1\\"),
    "sid values at quotes": _rep('sid=ab1"'),
    "weak values in json": lambda n: "[" + _rep('{"m":"session=k9"},')(n),
    "weak values after a mask": lambda n: "password=x " + _rep("sid=1\\")(n),
    "masked words then pairs": _rep('token=a,password:" '),
    "masks then a shorter line": lambda n: _rep("pass=***ab&")(n) + " Authorization: Bearer a1b2c",
}

_FRAGMENTS = [
    "key", "token", "pwd", "jwt", "cookie", "pass", "secret", "auth", "sess", "=", ":", '"',
    "'", " ", "@", "://", "eyJ", "Cookie:", "Bearer ", "4", "a1", "&", ";", ",", "{", "[",
    "<", "/", "-", "_", "AKIA", "ghp_", "sk-", "xox", "-----BEGIN ", "PRIVATE KEY-----",
]  # fmt: skip


def _generated(seed: int) -> Callable[[int], str]:
    def make(n: int) -> str:
        rng = random.Random(seed)  # noqa: S311 -- reproducible test input
        parts: list[str] = []
        size = 0
        while size < n:
            frag = rng.choice(_FRAGMENTS)
            parts.append(frag)
            size += len(frag)
        return "".join(parts)[:n]

    return make


for _seed in range(6):
    PAYLOADS[f"generated-{_seed}"] = _generated(_seed)


_LIMIT = 2.0  # seconds for 200 KB; the old detectors took minutes


def _times(make: Callable[[int], str]) -> dict[int, float]:
    """Best of three per size in CPU time (other processes' load does not count), sizes
    interleaved so that what load remains (caches, frequency) hits all of them."""
    texts = {n: make(n) for n in _SIZES}
    best = dict.fromkeys(_SIZES, float("inf"))
    for _ in range(3):
        for n, text in texts.items():
            start = time.process_time()
            R.redact(text)
            best[n] = min(best[n], time.process_time() - start)
            if best[n] > _LIMIT:
                return best
    return best


def _worst_ratio(times: dict[int, float]) -> float:
    floor = 0.01  # below this, timer noise decides; a quadratic detector is far above it
    pairs = ((25_000, 100_000), (50_000, 200_000))
    return max(times[big] / max(times[small], floor) for small, big in pairs)


@pytest.mark.parametrize("name", list(PAYLOADS))
def test_redact_time_grows_linearly(name: str) -> None:
    # The machine is shared: a linear payload can look superlinear once, a quadratic one
    # (16x at 4x the input) never looks linear, so a failure is measured again twice.
    for _ in range(3):
        times = _times(PAYLOADS[name])
        shown = {k: round(v * 1000, 1) for k, v in times.items()}
        assert max(times.values()) < _LIMIT, (name, shown)
        if _worst_ratio(times) <= 5.0:
            break
    assert _worst_ratio(times) <= 5.0, (name, shown)


# Runs of trailing closers after a secret pair's value: _trim_value dropped them one at a
# time, counting over the whole value each time (password=x + 100 K ")" took 18 s).
def _trailers(head: str, run: str) -> Callable[[int], str]:
    return lambda n: head + run * n


TRAILER_PAYLOADS: dict[str, Callable[[int], str]] = {
    f"{key}={quote}x{quote}{run}": _trailers(f"{key}={quote}x{quote}", run)
    for key in ("password", "token")
    for quote in ("", '"')
    for run in (")", "]", "}", ">", ".", ",", ";")
}
_PATHS = ("warm-up", "hyperscan")  # the first calls' literal prefilter, then hyperscan's


@pytest.mark.parametrize("path", _PATHS)
@pytest.mark.parametrize("name", list(TRAILER_PAYLOADS))
def test_trailing_closer_runs_grow_linearly(
    name: str, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(PF, "_scan", PF._literal_scan if path == "warm-up" else PF._built_scan())
    for _ in range(3):
        times = _times(TRAILER_PAYLOADS[name])
        shown = {k: round(v * 1000, 1) for k, v in times.items()}
        assert max(times.values()) < _LIMIT, (name, path, shown)
        if _worst_ratio(times) <= 5.0:
            break
    assert _worst_ratio(times) <= 5.0, (name, path, shown)
