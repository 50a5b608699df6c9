"""Profiles: TOML into the same frozen policy objects, errors naming file, line and key."""

from __future__ import annotations

import contextlib
import string
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from hardenkit.errors import ProfileError
from hardenkit.sandbox import FilesystemPolicy, ResourceLimits, SeccompPolicy
from hardenkit.sandbox.docker import default_policy
from hardenkit.sandbox.profile import (
    Profile,
    load_profile,
    loads_profile,
    parse_size,
    preset,
    preset_names,
    profile_to_toml,
)

if TYPE_CHECKING:
    from pathlib import Path

FULL = """\
user = "nobody"
group = 65534
groups = ["nogroup", 100]
keep = ["CAP_NET_BIND_SERVICE"]
umask = "027"
cwd = "/srv"
no_new_privs = true

[environment]
allow = ["LANG", "LC_*"]
set = { APP_MODE = "worker" }

[limits]
memory = "512M"
cpu = 10
open_files = 64
core = 0

[filesystem]
read = ["/usr", "/etc"]
write = "/tmp"
execute = ["/usr/bin"]

[seccomp]
default = "errno"
allow = ["@system-service"]
deny = ["@mount"]
errno = 13

[[seccomp.rules]]
names = ["socket"]
action = "errno"
errno = 97
args = [{ index = 0, op = "eq", value = 2 }]

[namespaces]
block = true
"""


def test_full_profile_reads_into_the_api_objects() -> None:
    p = loads_profile(FULL)
    assert p.user == "nobody"
    assert p.group == 65534
    assert p.groups == ("nogroup", 100)
    assert p.keep == ("CAP_NET_BIND_SERVICE",)
    assert p.umask == 0o027
    assert p.cwd == "/srv"
    assert p.env_allow == ("LANG", "LC_*")
    assert p.env_set == (("APP_MODE", "worker"),)
    assert p.limits == ResourceLimits(memory_bytes=512 << 20, cpu_seconds=10, open_files=64)
    assert p.filesystem == FilesystemPolicy(read=["/usr", "/etc"], write="/tmp", execute="/usr/bin")
    assert isinstance(p.seccomp, SeccompPolicy)
    assert p.seccomp.default == "errno"
    assert p.seccomp.errno == 13
    assert p.seccomp.rules[0].names == ("socket",)
    assert p.seccomp.rules[0].args[0].value == 2
    assert p.block_namespaces is True
    kw = p.confine_kwargs()
    assert kw["limits"] is p.limits
    assert kw["seccomp"] is p.seccomp


def test_round_trip_through_toml() -> None:
    p = loads_profile(FULL)
    assert loads_profile(profile_to_toml(p)) == p


def test_docker_profile_is_the_bundled_policy_for_the_target_capabilities() -> None:
    p = loads_profile('user = "nobody"\n[seccomp]\nprofile = "docker"\n')
    assert p.seccomp is default_policy(capabilities=())
    assert p.seccomp_profile == "docker"
    assert 'profile = "docker"' in profile_to_toml(p)


def test_docker_profile_path(tmp_path: Path) -> None:
    prof = tmp_path / "p.json"
    prof.write_text(
        '{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": '
        '[{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}'
    )
    p = loads_profile(f'[seccomp]\nprofile = "{prof}"\n')
    assert p.seccomp is not None
    assert p.seccomp.rules[0].names == ("read",)


@pytest.mark.parametrize(
    ("text", "line", "key"),
    [
        ('user = "a"\nusr = "b"\n', 2, "usr"),
        ('user = "a"\n\n[limits]\nmemroy = 1\n', 4, "limits.memroy"),
        ('[limits]\nmemory = "lots"\n', 2, "limits.memory"),
        ("[limits]\nopen_files = -1\n", 2, "limits.open_files"),
        ('umask = "999"\n', 1, "umask"),
        ('cwd = "relative"\n', 1, "cwd"),
        ('[filesystem]\nread = ["/usr", "etc"]\n', 2, "filesystem.read[1]"),
        ('[seccomp]\ndefault = "deny"\n', 2, "seccomp.default"),
        ('[seccomp]\nallow = ["no such!"]\n', 1, "seccomp"),
        ('[seccomp]\nprofile = "docker"\nallow = ["read"]\n', 3, "seccomp.allow"),
        ('[seccomp]\nprofile = "relative.json"\n', 2, "seccomp.profile"),
        ("[[seccomp.rules]]\naction = 'allow'\n", 1, "seccomp.rules[0]"),
        (
            '[[seccomp.rules]]\nnames = ["x"]\nargs = [{ index = 9, op = "eq", value = 1 }]\n',
            3,
            "seccomp.rules[0].args[0]",
        ),
        ('[environment]\nset = { LD_PRELOAD = "/x.so" }\n', 2, "environment.set"),
        ('[environment]\nset = { PATH = "/x" }\n', 2, "environment.set"),
        ("no_new_privs = 1\n", 1, "no_new_privs"),
        ("[namespaces]\nblock = 'no'\n", 2, "namespaces.block"),
        ("groups = 'wheel'\n", 1, "groups"),
        ("user = true\n", 1, "user"),
        ('user = "a"\nkeep = ["NET_RAW", "CAP_BOGUS"]\n', 2, "keep[1]"),
    ],
)
def test_errors_name_file_line_and_key(text: str, line: int, key: str) -> None:
    with pytest.raises(ProfileError) as info:
        loads_profile(text, source="svc.toml")
    err = info.value
    assert err.path == "svc.toml"
    assert err.key == key
    assert err.line == line
    assert str(err).startswith(f"svc.toml:{line}: {key}: ")
    assert isinstance(err, ValueError)


def test_invalid_toml_names_the_line() -> None:
    with pytest.raises(ProfileError, match=r"svc.toml:2: not valid TOML") as info:
        loads_profile('user = "a"\nthis is not toml\n', source="svc.toml")
    assert info.value.line == 2


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="cannot read"):
        load_profile(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b'user = "\xff"\n')
    with pytest.raises(ProfileError, match="not UTF-8"):
        load_profile(bad)
    big = tmp_path / "big.toml"
    big.write_bytes(b"#" * ((1 << 20) + 2))
    with pytest.raises(ProfileError, match="larger than"):
        load_profile(big)


def test_parse_size() -> None:
    assert parse_size("512M") == 512 << 20
    assert parse_size("4 KiB") == 4096
    assert parse_size("7") == 7
    for bad in ("", "M", "1.5G", "-1", True, 1.0, "1P", "9" * 30):
        with pytest.raises(ValueError, match="size"):
            parse_size(bad)


def test_presets_load_and_are_confining() -> None:
    assert set(preset_names()) == {
        "batch-job",
        "network-service",
        "read-only-inspector",
        "untrusted-parser",
    }
    for name in preset_names():
        p = preset(name)
        assert p.user == "nobody"
        assert p.seccomp is not None
        assert p.filesystem is not None
        assert not p.filesystem.write or p.filesystem.write == ("/tmp",)
        assert loads_profile(profile_to_toml(p)) == p
    with pytest.raises(ProfileError, match="no preset"):
        preset("nope")


def test_profile_is_frozen() -> None:
    p = Profile()
    with pytest.raises(AttributeError):
        p.user = "root"  # type: ignore[misc]


_KEYS = st.sampled_from(
    [
        "user", "group", "groups", "keep", "umask", "cwd", "no_new_privs", "limits",
        "filesystem", "seccomp", "environment", "namespaces", "network", "memory", "read",
        "profile", "rules", "names", "args", "index", "op", "value", "allow", "set",
        "default", "block", "x",
    ]
)  # fmt: skip
_SCALARS = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.text(string.printable, max_size=12),
    st.sampled_from(["docker", "512M", "/usr", "@system-service", "errno", "eq", "077"]),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_KEYS, inner, max_size=4)),
    max_leaves=12,
)


def _dump(value: object) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f'"{k}" = {_dump(v)}' for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_dump(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_KEYS, _VALUES, max_size=6))
def test_fuzz_structured_documents_give_profiles_or_profile_errors(doc: dict[str, object]) -> None:
    text = "".join(f'"{k}" = {_dump(v)}\n' for k, v in doc.items())
    try:
        p = loads_profile(text, source="f.toml")
    except ProfileError as err:
        path = err.path
    else:
        path = "f.toml"
        assert isinstance(p, Profile)
    assert path == "f.toml"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_fuzz_arbitrary_text_gives_profiles_or_profile_errors(text: str) -> None:
    with contextlib.suppress(ProfileError):
        loads_profile(text)


def test_named_sockets_and_device_dirs_are_profile_keys() -> None:
    # Without `sockets` a profile with a [filesystem] section could never reach a named
    # socket (the guard refuses AF_UNIX sockets), whatever the application needs.
    text = (
        '[filesystem]\nread = ["/usr"]\nwrite = ["/srv/dev"]\n'
        'sockets = ["/run/postgresql/.s.PGSQL.5432"]\ndevices = ["/srv/dev"]\n'
    )
    p = loads_profile(text)
    assert p.filesystem == FilesystemPolicy(
        read=["/usr"],
        write=["/srv/dev"],
        sockets=["/run/postgresql/.s.PGSQL.5432"],
        devices=["/srv/dev"],
    )
    assert loads_profile(profile_to_toml(p)) == p
    with pytest.raises(ProfileError, match=r"filesystem\.sockets\[0\]"):
        loads_profile('[filesystem]\nsockets = ["run/app.sock"]\n')
