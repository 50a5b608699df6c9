# ruff: noqa: E501, PLR0911, PLR0912, C901 -- a table of log-line templates, one branch each
"""A generated, varied log corpus with ~1 % secrets of every kind, for bench_redact_corpus.

Web access logs (Apache/nginx), JVM and Python tracebacks, syslog (sshd, kernel, cron,
systemd), Kubernetes events, SQL and HTTP client debug lines, Hadoop/Spark, Android and
Windows CBS lines (the shapes that real corpora showed redaction getting wrong). Secrets
are every non-benign sample of ``tests/data/secret-samples.json`` with its tail randomized
(same character classes), placed in lines of the same families. Deterministic per seed.
Each line comes back with the secret it carries ("" for none).
"""

from __future__ import annotations

import json
import random
import string
from pathlib import Path

_HEX = "0123456789abcdef"
_SAMPLES = Path(__file__).resolve().parents[1] / "tests" / "data" / "secret-samples.json"
_KEEP = 12  # a secret's first characters stay (its prefix names its kind)


def _r(rng: random.Random, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _ip(rng: random.Random) -> str:
    return f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}"


def _ts(rng: random.Random) -> str:
    return f"2024-05-{rng.randrange(1, 29):02d}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}.{rng.randrange(1000):03d}Z"


_PATHS = ["/", "/health", "/api/v1/items", "/api/v1/users/42/orders", "/static/js/app.3f9a.js",
          "/login", "/search", "/wp-login.php", "/favicon.ico", "/api/v2/session/refresh"]  # fmt: skip
_UAS = ["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0",
        "curl/8.5.0", "python-requests/2.31.0", "Go-http-client/1.1", "kube-probe/1.29",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Mobile/15E148"]  # fmt: skip
_WORDS = ["token", "key", "session", "auth", "cookie", "password", "secret", "monkey",
          "keyboard", "tokens", "sessions", "author", "passenger", "jwt", "pwd"]  # fmt: skip


def _ordinary(rng: random.Random) -> str:
    kind = rng.randrange(20)
    ts, ip = _ts(rng), _ip(rng)
    path = rng.choice(_PATHS)
    if kind == 0:
        return (
            f"{ip} - - [07/Dec/2026:04:{rng.randrange(60):02d}:{rng.randrange(60):02d} +0000] "
            f'"{rng.choice(["GET", "POST", "PUT"])} {path}?page={rng.randrange(9)}&sort=asc HTTP/1.1" '
            f'{rng.choice([200, 200, 304, 404, 500])} {rng.randrange(99999)} "-" "{rng.choice(_UAS)}"'
        )
    if kind == 1:
        return (
            f"{ts} ERROR [http-nio-8080-exec-{rng.randrange(20)}] o.a.c.c.C.[.[.[/].[dispatcherServlet] "
            f"Servlet.service() threw exception java.lang.NullPointerException: Cannot invoke "
            f'"com.acme.order.Order.getId()" because "order" is null'
        )
    if kind == 2:
        cls = rng.choice(
            [
                "com.acme.auth.TokenService",
                "org.springframework.web.servlet.FrameworkServlet",
                "com.acme.session.SessionManager",
                "java.base/java.lang.Thread",
            ]
        )
        return f"\tat {cls}.{rng.choice(['run', 'validateToken', 'doFilter', 'getSession'])}({cls.rsplit('.', 1)[-1]}.java:{rng.randrange(900)})"
    if kind == 3:
        return (
            f'  File "/usr/lib/python3.11/site-packages/{rng.choice(["requests/sessions.py", "django/core/handlers/base.py", "urllib3/connectionpool.py", "app/auth/tokens.py"])}", '
            f"line {rng.randrange(900)}, in {rng.choice(['send', 'get_response', 'urlopen', 'check_token'])}"
        )
    if kind == 4:
        return rng.choice(
            [
                f"KeyError: 'user_{rng.randrange(99)}'",
                "ValueError: invalid literal for int() with base 10: 'abc'",
                "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='api.example.com', port=443): Max retries exceeded",
                f"TimeoutError: session {rng.randrange(10**6)} timed out after 30s",
            ]
        )
    if kind == 5:
        return (
            f"Dec  7 04:{rng.randrange(60):02d}:{rng.randrange(60):02d} web{rng.randrange(9)} sshd[{rng.randrange(99999)}]: "
            + rng.choice(
                [
                    f"Failed password for invalid user test{rng.randrange(99)} from {ip} port {rng.randrange(65535)} ssh2",
                    f"input_userauth_request: invalid user admin{rng.randrange(9)} [preauth]",
                    f"Accepted publickey for git from {ip} port {rng.randrange(65535)} ssh2: RSA SHA256:{_r(rng, 43)}",
                    f"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}",
                    "Connection closed by authenticating user root " + ip + " port 22 [preauth]",
                ]
            )
        )
    if kind == 6:
        return (
            f"Dec  7 04:{rng.randrange(60):02d}:{rng.randrange(60):02d} host kernel: [{rng.randrange(99999)}.{rng.randrange(999999):06d}] "
            + rng.choice(
                [
                    f"EXT4-fs (sda{rng.randrange(4)}): mounted filesystem with ordered data mode",
                    f'audit: type=1400 audit({rng.randrange(10**9)}.123:45): apparmor="DENIED" operation="open" profile="snap"',
                    f"TCP: request_sock_TCP: Possible SYN flooding on port {rng.randrange(65535)}. Sending cookies.",
                ]
            )
        )
    if kind == 7:
        return f"Dec  7 04:{rng.randrange(60):02d}:00 host systemd[1]: " + rng.choice(
            [
                "Started Session 4213 of user root.",
                "session-4213.scope: Deactivated successfully.",
                "Starting Daily apt upgrade and clean activities...",
                "Reloading OpenBSD Secure Shell server...",
            ]
        )
    if kind == 8:
        return (
            f"{rng.choice(['Normal', 'Warning'])}  {rng.choice(['Scheduled', 'Pulled', 'BackOff', 'Unhealthy', 'Killing'])}  "
            f"pod/web-{_r(rng, 10, _HEX)}-{_r(rng, 5, string.ascii_lowercase)}  "
            + rng.choice(
                [
                    f"Successfully assigned default/web to node-{rng.randrange(9)}",
                    f'Container image "registry.example.com/web@sha256:{_r(rng, 64, _HEX)}" already present on machine',
                    f'Readiness probe failed: Get "http://10.0.{rng.randrange(256)}.{rng.randrange(256)}:8080/health": context deadline exceeded',
                    "Back-off restarting failed container",
                ]
            )
        )
    if kind == 9:
        return (
            f"{ts} DEBUG sqlalchemy.engine.Engine "  # noqa: S608 -- a log line
            + rng.choice(
                [
                    "SELECT users.id, users.email, users.session_count FROM users WHERE users.id = %(id_1)s LIMIT %(param_1)s",
                    "UPDATE sessions SET last_seen=%(last_seen)s WHERE sessions.id = %(id)s",
                    f"[generated in 0.00{rng.randrange(99)}s] {{'id_1': {rng.randrange(10**5)}, 'param_1': 1}}",
                    "INSERT INTO audit_log (actor, action, token_type) VALUES (%(actor)s, %(action)s, %(token_type)s)",
                ]
            )
        )
    if kind == 10:
        return f"{ts} DEBUG urllib3.connectionpool " + rng.choice(
            [
                f'https://api.example.com:443 "GET {path}?limit=50 HTTP/1.1" 200 {rng.randrange(9999)}',
                "Starting new HTTPS connection (1): auth.example.com:443",
                "Resetting dropped connection: sts.amazonaws.com",
                f'http://10.0.0.{rng.randrange(256)}:8500 "PUT /v1/session/renew/{_r(rng, 8, _HEX)}-{_r(rng, 4, _HEX)} HTTP/1.1" 200 212',
            ]
        )
    if kind == 11:
        return (
            f"{ts} DEBUG http.client send: b'GET {path} HTTP/1.1\\r\\nHost: api.example.com\\r\\n"
            f"User-Agent: {rng.choice(_UAS)}\\r\\nAccept-Encoding: gzip, deflate\\r\\nAccept: */*\\r\\nConnection: keep-alive\\r\\n\\r\\n'"
        )
    if kind == 12:
        return f"17/06/09 20:10:{rng.randrange(60):02d} INFO " + rng.choice(
            [
                "spark.SecurityManager: SecurityManager: authentication disabled; ui acls disabled; users with view permissions: Set(yarn, curi)",
                f"executor.Executor: Finished task {rng.randrange(99)}.0 in stage {rng.randrange(9)}.0 (TID {rng.randrange(999)}). 2128 bytes result sent to driver",
                f"ipc.Server: Auth successful for appattempt_1445144423722_0020_00000{rng.randrange(9)} (auth:SIMPLE)",
                f"dfs.DataNode: Receiving block blk_-{rng.randrange(10**18)} src: /{ip}:{rng.randrange(65535)} dest: /{ip}:50010",
            ]
        )
    if kind == 13:
        return (
            f"12-17 19:31:{rng.randrange(60):02d}.{rng.randrange(999):03d}  1702  {rng.randrange(9999)} "
            + rng.choice(
                [
                    f"D ActivityManager: token=Token{{{_r(rng, 7, _HEX)} u0 com.tencent.qt/.LiveActivity}}",
                    f"I PowerManager_screenOn: DisplayPowerStatesetColorFadeLevel: level={rng.random():.2f}",
                    "V WindowManager: Skipping AppWindowToken{e5c7a0 token=Token{b3ee0e9 ActivityRecord{7f5c}}} -- going to hide",
                    f"D wpa_supplicant: wlan0: AuthFail:sts:{rng.randrange(9)}_rsn:0",
                ]
            )
        )
    if kind == 14:
        return (
            f"2016-09-28 04:30:{rng.randrange(60):02d}, Info                  CBS    "
            + rng.choice(
                [
                    f"Session: 30546173_{rng.randrange(10**10)} initialized by client WindowsUpdateAgent.",
                    "Loaded Servicing Stack v6.1.7601.23505 with Core: C:\\Windows\\winsxs\\amd64_microsoft-windows-servicingstack_31bf3856ad364e35_6.1.7601.23505_none_681aa442f6fed7f0\\cbscore.dll",
                    "SQM: Failed to start standard sample upload. [HRESULT = 0x80004005 - E_FAIL]",
                ]
            )
        )
    if kind == 15:
        return f"{ts} INFO app " + rng.choice(
            [
                f"{rng.choice(_WORDS)} refresh scheduled in {rng.randrange(3600)} seconds",
                f"cache hit key=user:{rng.randrange(10**5)} ttl=300s",
                f"sessions={rng.randrange(999)} active_tokens={rng.randrange(999)} auth_method=oidc",
                "settings loaded SESSION_COOKIE_AGE=1209600 SESSION_COOKIE_SECURE=True CSRF_COOKIE_HTTPONLY=False",
                "login ok user=alice auth=sso mfa=true session_ttl=3600",
                f"api_key_id={_r(rng, 8, _HEX)} rotated; next rotation in 30d",
                f"password reset requested for user_id={rng.randrange(10**6)}",
                "token_type=bearer expires_in=3600 scope=read:orders",
            ]
        )
    if kind == 16:
        return (
            f'{{"time":"{ts}","level":"{rng.choice(["info", "warn", "error"])}","logger":"app.http",'
            f'"msg":"request","method":"GET","path":"{path}","status":{rng.choice([200, 401, 403, 500])},'
            f'"duration_ms":{rng.random() * 300:.1f},"trace_id":"{_r(rng, 32, _HEX)}","user_agent":"{rng.choice(_UAS)}"}}'
        )
    if kind == 17:
        return f"{ts} INFO deployed commit {_r(rng, 40, _HEX)} image sha256:{_r(rng, 64, _HEX)} to prod by ci-bot"
    if kind == 18:
        return (
            f"{ts} WARN proxy CONNECT auth.grammarly.com:443 from {ip} took {rng.randrange(9999)}ms"
        )
    return (
        f"{ts} INFO order {rng.randrange(10**8)} total=EUR {rng.randrange(9999)}.{rng.randrange(99):02d} "
        f"items={rng.randrange(9)} customer_uuid={_r(rng, 8, _HEX)}-{_r(rng, 4, _HEX)}-4{_r(rng, 3, _HEX)}-8{_r(rng, 3, _HEX)}-{_r(rng, 12, _HEX)}"
    )


def _same_shape(rng: random.Random, secret: str) -> str:
    keep = max(_KEEP, secret.rfind("/") + 1) if secret.startswith("http") else _KEEP
    out = list(secret[:keep])
    for ch in secret[keep:]:
        if ch.isupper() and ch.isascii():
            out.append(rng.choice(string.ascii_uppercase))
        elif ch.islower() and ch.isascii():
            out.append(rng.choice(string.ascii_lowercase))
        elif ch.isdigit():
            out.append(rng.choice(string.digits))
        else:
            out.append(ch)
    return "".join(out)


def _samples() -> list[dict[str, str]]:
    data: list[dict[str, str]] = json.loads(_SAMPLES.read_text())
    return [s for s in data if s["kind"] != "benign"]


def make_corpus(n: int, *, seed: int = 16, rate: float = 0.01) -> list[tuple[str, str]]:
    """``n`` (line, secret) pairs; about ``rate`` of them carry a secret, every kind in turn."""
    rng = random.Random(seed)  # noqa: S311 -- reproducible benchmark data
    samples = _samples()
    out: list[tuple[str, str]] = []
    turn = 0
    for _ in range(n):
        if rng.random() < rate:
            out.append(_secret_line(rng, samples[turn % len(samples)]))
            turn += 1
        else:
            out.append((_ordinary(rng), ""))
    return out


def _secret_line(rng: random.Random, sample: dict[str, str]) -> tuple[str, str]:
    """(line, secret): a sample's line with a fresh secret of the same shape in it."""
    secret = sample["secret"]
    if "card" not in sample["kind"] and "\\n" not in secret and "\n" not in secret:
        fresh = _same_shape(rng, secret)
        return sample["text"].replace(secret, fresh), fresh
    return sample["text"], secret


def with_secrets(lines: list[str], *, seed: int = 16, rate: float = 0.01) -> list[tuple[str, str]]:
    """``lines`` as (line, "") pairs, a secret's line inserted after about ``rate`` of them."""
    rng = random.Random(seed)  # noqa: S311 -- reproducible benchmark data
    samples = _samples()
    out: list[tuple[str, str]] = []
    turn = 0
    for line in lines:
        out.append((line, ""))
        if rng.random() < rate:
            out.append(_secret_line(rng, samples[turn % len(samples)]))
            turn += 1
    return out
