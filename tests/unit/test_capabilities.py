from __future__ import annotations

import contextlib
import os
import pickle
import shlex
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from hardenkit._linux import privfilecaps
from hardenkit._linux.procfs import cap_last_cap
from hardenkit.capabilities import (
    ALL_MASK,
    KNOWN_NAMES,
    LAST_CAP,
    Capability,
    CapabilitySets,
    build_capability_enum,
    caps_to_mask,
    decode_vfs_cap,
    file_capabilities,
    get_capabilities,
    has_capability,
    mask_to_caps,
    parse_caps,
    require_capabilities,
    setcap_command,
)
from hardenkit.errors import CapabilityError, HardenkitError, PrivilegeError, UnsupportedPlatform

pytestmark = pytest.mark.linux

masks = st.integers(min_value=0, max_value=ALL_MASK)


def proc_status() -> dict[str, str]:
    text = Path("/proc/self/status").read_text()
    return {k: v.strip() for k, _, v in (line.partition(":") for line in text.splitlines())}


def test_enum_is_built_from_cap_last_cap() -> None:
    assert len(Capability) == cap_last_cap() + 1 == LAST_CAP + 1
    assert [int(c) for c in Capability] == list(range(LAST_CAP + 1))
    assert int(Capability.CAP_NET_BIND_SERVICE) == 10
    assert int(Capability.CAP_SYS_ADMIN) == 21
    assert Capability(40).name == "CAP_CHECKPOINT_RESTORE"
    assert Capability.__name__ == "Capability"
    assert Capability.__module__ == "hardenkit.capabilities"


def test_names_match_the_kernel_headers_table() -> None:
    assert len(KNOWN_NAMES) == 41
    assert KNOWN_NAMES[0] == "CAP_CHOWN"
    assert KNOWN_NAMES[31] == "CAP_SETFCAP"
    assert KNOWN_NAMES[38:] == ("CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE")


def test_members_pickle() -> None:
    member = Capability.CAP_NET_RAW
    assert pickle.loads(pickle.dumps(member)) is member  # noqa: S301 -- our own bytes


def test_newer_kernel_gets_synthetic_names() -> None:
    future = build_capability_enum(45)
    assert len(future) == 46
    assert future(41).name == "CAP_41"
    assert future.parse("cap_43") == 43
    assert future.parse(45).text == "45"
    assert future.parse("NET_BIND_SERVICE").text == "cap_net_bind_service"
    with pytest.raises(CapabilityError):
        future.parse(46)


def test_older_kernel_has_fewer() -> None:
    old = build_capability_enum(37)
    assert len(old) == 38
    assert "CAP_PERFMON" not in old.__members__
    with pytest.raises(CapabilityError, match=r"to CAP_AUDIT_READ \(37\)"):
        old.parse("PERFMON")
    with pytest.raises(CapabilityError):
        old.parse(38)


@pytest.mark.parametrize("last", [-1, 64, 1000])
def test_impossible_cap_last_cap(last: int) -> None:
    with pytest.raises(UnsupportedPlatform):
        build_capability_enum(last)


@pytest.mark.parametrize(
    "value",
    ["cap_net_bind_service", "NET_BIND_SERVICE", "CAP_NET_BIND_SERVICE", " net_bind_service ",
     "10", 10, Capability.CAP_NET_BIND_SERVICE],
)  # fmt: skip
def test_parse_forms(value: str | int) -> None:
    assert Capability.parse(value) is Capability.CAP_NET_BIND_SERVICE


@pytest.mark.parametrize("value", ["", "CAP_", "net bind service", "SYS_ADMINX", "-1", "99"])
def test_parse_unknown_names(value: str) -> None:
    with pytest.raises(CapabilityError) as info:
        Capability.parse(value)
    assert isinstance(info.value, HardenkitError)
    assert info.value.missing == frozenset()


@pytest.mark.parametrize("value", [True, 1.0, None, b"CHOWN", -1, LAST_CAP + 1])
def test_parse_bad_types_and_numbers(value: object) -> None:
    with pytest.raises(CapabilityError):
        Capability.parse(value)  # type: ignore[arg-type]


@given(st.sampled_from(list(Capability)), st.sampled_from([str.lower, str.upper, str.title]))
def test_parse_round_trips_names(cap: Capability, case: object) -> None:
    assert callable(case)
    assert Capability.parse(case(cap.name)) is cap
    assert Capability.parse(case(cap.short_name)) is cap
    assert Capability.parse(str(int(cap))) is cap


def test_parse_caps_takes_one_or_many() -> None:
    assert parse_caps("CHOWN") == {Capability.CAP_CHOWN}
    assert parse_caps(0) == {Capability.CAP_CHOWN}
    assert parse_caps(["chown", 0, Capability.CAP_CHOWN]) == {Capability.CAP_CHOWN}
    assert parse_caps(()) == frozenset()
    with pytest.raises(TypeError):  # neither a name nor a number (review F8)
        parse_caps(3.5)  # type: ignore[arg-type]


@given(masks)
def test_mask_round_trip(mask: int) -> None:
    caps = mask_to_caps(mask)
    assert caps_to_mask(caps) == mask
    assert all(mask >> c & 1 for c in caps)


@given(st.integers(min_value=LAST_CAP + 1, max_value=63))
def test_mask_with_unknown_bits_fails_closed(bit: int) -> None:
    with pytest.raises(CapabilityError, match="does not know"):
        mask_to_caps(1 << bit)


def test_negative_mask() -> None:
    with pytest.raises(CapabilityError):
        mask_to_caps(-1)


def test_capability_sets_coerce_and_repr() -> None:
    sets = CapabilitySets(effective=["chown", 10], bounding=list(Capability))  # type: ignore[arg-type]
    assert sets.effective == {Capability.CAP_CHOWN, Capability.CAP_NET_BIND_SERVICE}
    assert isinstance(sets.effective, frozenset)
    assert repr(sets) == (
        "CapabilitySets(effective={CAP_CHOWN, CAP_NET_BIND_SERVICE}, permitted={}, "
        "inheritable={}, bounding=ALL, ambient={})"
    )
    assert "rootid=7" in repr(CapabilitySets(rootid=7))
    with pytest.raises(AttributeError):
        sets.effective = frozenset()  # type: ignore[misc]
    with pytest.raises(CapabilityError):
        CapabilitySets(effective={"nope"})  # type: ignore[arg-type]
    with pytest.raises(CapabilityError):
        CapabilitySets(rootid=-1)
    with pytest.raises(TypeError):
        CapabilitySets({"CHOWN"})  # type: ignore[arg-type, call-arg]


def test_get_capabilities_matches_procfs() -> None:
    sets = get_capabilities()
    status = proc_status()
    for field, key in (
        ("effective", "CapEff"),
        ("permitted", "CapPrm"),
        ("inheritable", "CapInh"),
        ("bounding", "CapBnd"),
        ("ambient", "CapAmb"),
    ):
        assert caps_to_mask(getattr(sets, field)) == int(status[key], 16), field


def test_get_capabilities_of_pid_1() -> None:
    text = Path("/proc/1/status").read_text()
    bnd = next(line for line in text.splitlines() if line.startswith("CapBnd"))
    assert caps_to_mask(get_capabilities(1).bounding) == int(bnd.split()[1], 16)


def test_get_capabilities_of_a_missing_pid() -> None:
    with pytest.raises(PrivilegeError, match="pid 999999999"):
        get_capabilities(999_999_999)


def test_has_and_require_follow_the_effective_set() -> None:
    effective = int(proc_status()["CapEff"], 16)
    held = [c for c in Capability if effective >> c & 1]
    missing = [c for c in Capability if not effective >> c & 1]
    for cap in held:
        assert has_capability(cap)
    for cap in missing:
        assert not has_capability(cap.name)
    require_capabilities(*held)
    if missing:
        with pytest.raises(CapabilityError) as info:
            require_capabilities(*held, *missing)
        assert info.value.missing == frozenset(missing)
        assert all(c.name in str(info.value) for c in missing)


def _v2(permitted: int, inheritable: int, *, effective: bool) -> bytes:
    magic = privfilecaps.VFS_CAP_REVISION_2 | int(effective)
    lo = 0xFFFFFFFF
    return struct.pack(
        "<5I", magic, permitted & lo, inheritable & lo, permitted >> 32, inheritable >> 32
    )


@settings(max_examples=200)
@given(masks, masks, st.booleans())
def test_decode_v2(permitted: int, inheritable: int, effective: bool) -> None:
    sets = decode_vfs_cap(_v2(permitted, inheritable, effective=effective))
    assert caps_to_mask(sets.permitted) == permitted
    assert caps_to_mask(sets.inheritable) == inheritable
    assert caps_to_mask(sets.effective) == ((permitted | inheritable) if effective else 0)
    assert sets.rootid is None
    assert sets.bounding == sets.ambient == frozenset()


@given(masks, masks, st.booleans(), st.integers(min_value=0, max_value=2**32 - 1))
def test_encode_decode_v3(permitted: int, inheritable: int, effective: bool, rootid: int) -> None:
    cap = privfilecaps.VfsCap(
        revision=3, permitted=permitted, inheritable=inheritable, effective=effective, rootid=rootid
    )
    raw = privfilecaps.encode(cap)
    assert len(raw) == 24
    assert privfilecaps.decode(raw) == cap
    assert decode_vfs_cap(raw).rootid == rootid


def test_decode_v1_holds_low_capabilities_only() -> None:
    raw = struct.pack("<3I", privfilecaps.VFS_CAP_REVISION_1 | 1, 1 << 10, 1 << 0)
    sets = decode_vfs_cap(raw)
    assert sets.permitted == {Capability.CAP_NET_BIND_SERVICE}
    assert sets.effective == {Capability.CAP_NET_BIND_SERVICE, Capability.CAP_CHOWN}


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b"", "too short"),
        (b"\x00\x00\x00\x02" + b"\x00" * 12, "expected 20"),
        (b"\x00\x00\x00\x03" + b"\x00" * 16, "expected 24"),
        (b"\x00\x00\x00\x04" + b"\x00" * 16, "unknown revision"),
        (struct.pack("<5I", privfilecaps.VFS_CAP_REVISION_2 | 2, 0, 0, 0, 0), "unknown flags"),
        (_v2(1 << 63, 0, effective=False), "does not know"),
    ],
)
def test_decode_rejects_malformed(raw: bytes, match: str) -> None:
    with pytest.raises(CapabilityError, match=match):
        decode_vfs_cap(raw)


@given(st.binary(max_size=40))
def test_decode_never_crashes_on_junk(raw: bytes) -> None:
    with contextlib.suppress(CapabilityError):
        decode_vfs_cap(raw)


def test_file_capabilities_of_a_plain_file(tmp_path: Path) -> None:
    path = tmp_path / "plain"
    path.write_text("")
    assert file_capabilities(path) is None
    assert file_capabilities(str(path)) is None


@pytest.mark.parametrize(
    ("path", "caps", "flags", "expected"),
    [
        ("/usr/bin/srv", ["NET_BIND_SERVICE"], "ep", "setcap cap_net_bind_service=ep /usr/bin/srv"),
        ("/a b", [12, "chown"], "pie", "setcap cap_chown,cap_net_admin=eip '/a b'"),
        ("-rf", ["NET_RAW"], "p", "setcap cap_net_raw=p ./-rf"),
        ("x;rm -rf /", [], "ep", "setcap -r 'x;rm -rf /'"),
    ],
)
def test_setcap_command(path: str, caps: list[str | int], flags: str, expected: str) -> None:
    command = setcap_command(path, caps, flags=flags)
    assert command == expected
    assert shlex.split(command)[-1].removeprefix("./") == path


@pytest.mark.parametrize("flags", ["", "x", "ee", "ep+"])
def test_setcap_command_bad_flags(flags: str) -> None:
    with pytest.raises(CapabilityError, match="flags"):
        setcap_command("/bin/x", ["CHOWN"], flags=flags)


def test_setcap_command_unknown_capability() -> None:
    with pytest.raises(CapabilityError, match="unknown capability"):
        setcap_command("/bin/x", ["CHOWNN"])


def test_reading_does_not_import_prctl() -> None:
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    code = (
        "import sys; sys.modules['prctl'] = None\n"
        "import hardenkit\n"
        "s = hardenkit.get_capabilities()\n"
        "print(hardenkit.has_capability('CHOWN') in (True, False), type(s).__name__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
    )
    assert out.stdout.split() == ["True", "CapabilitySets"]
