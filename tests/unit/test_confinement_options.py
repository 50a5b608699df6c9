"""One options object (issue 14): every entry point takes the same Confinement."""

from __future__ import annotations

import inspect

import pytest

import hardenkit
from hardenkit._unset import UNSET
from hardenkit.sandbox import (
    Confinement,
    FilesystemPolicy,
    ResourceLimits,
    SeccompPolicy,
    call_sandboxed,
    confine,
    loads_profile,
    prepare_confinement,
)
from hardenkit.sandbox.options import OPTION_NAMES, resolve
from hardenkit.spawn import run, run_async

pytestmark = pytest.mark.linux


def test_exported_from_sandbox_and_top_level() -> None:
    assert hardenkit.Confinement is Confinement
    assert "Confinement" in hardenkit.__all__
    assert "Confinement" in hardenkit.sandbox.__all__


@pytest.mark.parametrize("entry", [confine, prepare_confinement, run, run_async])
def test_keyword_entry_points_take_every_option_with_the_same_default(entry: object) -> None:
    params = inspect.signature(entry).parameters  # type: ignore[arg-type]
    assert "confinement" in params
    default = Confinement()
    for name in OPTION_NAMES:
        assert name in params, f"{entry} lacks {name}="
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY
        # UNSET, so that resolve() tells a keyword passed with its default value (refused
        # beside confinement=) from one not passed; Confinement's field holds the default.
        assert params[name].default is UNSET, name
    assert default == resolve(None, **dict.fromkeys(OPTION_NAMES, UNSET))


def test_call_sandboxed_takes_the_object_and_leaves_other_keywords_to_fn() -> None:
    params = inspect.signature(call_sandboxed).parameters
    assert "confinement" in params
    # New options reach call_sandboxed through confinement= only: fn keeps these names.
    for name in ("group", "groups", "keep", "no_new_privs", "block_namespaces"):
        assert name not in params


def test_options_are_typed_and_checked_once() -> None:
    with pytest.raises(TypeError, match="limits must be a ResourceLimits"):
        Confinement(limits={"open_files": 1})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="seccomp must be a SeccompPolicy"):
        Confinement(seccomp="docker")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="filesystem must be a FilesystemPolicy"):
        Confinement(filesystem=["/usr"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="isolate must be True or False"):
        Confinement(isolate=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="user must be"):
        Confinement(user=True)
    with pytest.raises(TypeError, match="groups takes a collection"):
        Confinement(user="nobody", groups="wheel")  # type: ignore[arg-type]
    c = Confinement(user="nobody", groups=["nogroup"], keep="CAP_NET_BIND_SERVICE")  # type: ignore[arg-type]
    assert c.groups == ("nogroup",)
    assert c.keep == ("CAP_NET_BIND_SERVICE",)
    # The entry points check through the same object.
    with pytest.raises(TypeError, match="limits must be a ResourceLimits"):
        prepare_confinement(limits={"open_files": 1})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="seccomp must be a SeccompPolicy"):
        run(["/bin/true"], seccomp="docker")  # type: ignore[arg-type]


def test_object_and_keywords_do_not_mix() -> None:
    c = Confinement(limits=ResourceLimits(open_files=64))
    assert resolve(c, user=UNSET, keep=UNSET, isolate=UNSET) is c
    # A keyword passed with its default value is still passed (review F5).
    with pytest.raises(TypeError, match="not both"):
        resolve(c, user=None, keep=(), isolate=True)
    with pytest.raises(TypeError, match="not both"):
        resolve(c, isolate=False)
    with pytest.raises(TypeError, match="not both"):
        confine(confinement=c, user="nobody")
    with pytest.raises(TypeError, match="takes a Confinement"):
        prepare_confinement(confinement={"user": "nobody"})  # type: ignore[arg-type]


def test_same_plan_from_object_and_keywords() -> None:
    limits = ResourceLimits(open_files=64)
    with (
        prepare_confinement(limits=limits, isolate=False) as by_keywords,
        prepare_confinement(confinement=Confinement(limits=limits, isolate=False)) as by_object,
    ):
        assert repr(by_keywords) == repr(by_object)
        assert by_keywords.rlimits == by_object.rlimits


def test_profile_produces_the_object() -> None:
    p = loads_profile("[limits]\nopen_files = 64\n[namespaces]\nblock = false\n")
    c = p.confinement
    assert isinstance(c, Confinement)
    assert c.limits is p.limits
    assert c.block_namespaces is False
    kw = p.confine_kwargs()
    assert Confinement(**kw) == c


def test_restricts_only_for_more_than_the_defaults() -> None:
    assert not Confinement().restricts
    assert not Confinement(no_new_privs=False, block_namespaces=False).restricts
    assert Confinement(seccomp=SeccompPolicy(default="allow")).restricts
    assert Confinement(filesystem=FilesystemPolicy(read=["/usr"])).restricts


@pytest.mark.root
def test_run_confines_with_the_object() -> None:
    out = run(
        ["/bin/sh", "-c", "ulimit -n"],
        confinement=Confinement(limits=ResourceLimits(open_files=64)),
    )
    assert out.stdout == b"64\n"


@pytest.mark.root
def test_run_takes_groups() -> None:
    out = run(["/usr/bin/id", "-G"], user="nobody", group="nogroup", groups=["nogroup"])
    assert out.stdout.split() == [b"65534"]


@pytest.mark.root
def test_call_sandboxed_takes_group_keep_through_the_object_and_passes_fn_keywords() -> None:
    def child(*, group: str, keep: int) -> list[object]:
        import os  # noqa: PLC0415

        return [os.getuid(), os.getgid(), sorted(os.getgroups()), group, keep]

    got = call_sandboxed(
        child,
        confinement=Confinement(user="nobody", group="nogroup", groups=("nogroup",)),
        group="fn's",
        keep=7,
    )
    assert got == [65534, 65534, [65534], "fn's", 7]
