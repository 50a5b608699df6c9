"""Hatchling build hook: compile the exec helper (``hardenkit/_libexec/hardenkit-exec``).

hardenkit.spawn execs this small static C program to confine a child before it execs
the real command, so no Python runs between fork and exec. It is compiled for every
wheel (standard and editable) and shipped in standard wheels, which are then tagged
``py3-none-manylinux_2_5_<arch>`` (``2_17`` on architectures manylinux started with
then): the binary is static and loads nothing from Python or the system, so any CPython 3
on any Linux of that architecture can run it (``auditwheel show`` agrees).

``HARDENKIT_BUILD_EXEC_HELPER`` chooses:

- unset: build it when possible; without a C compiler, when compiling fails, or off
  Linux, warn and build a pure ``py3-none-any`` wheel (hardenkit then uses its slower
  pure-Python spawn path);
- ``1``: the helper is required (a failed build is an error; scripts/setup sets it);
- ``0``: never build it (the pure wheel).

``-Werror`` is added only for development builds (editable installs, or
``HARDENKIT_WERROR=1``): a new compiler's new warning must not break a user's install.
The sdist ships only the C source.
"""

from __future__ import annotations

import os
import platform
import shlex
import shutil
import subprocess
import sys
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

ENV = "HARDENKIT_BUILD_EXEC_HELPER"
WERROR_ENV = "HARDENKIT_WERROR"
#: The oldest manylinux tag of each architecture: the static helper needs no glibc symbol
#: from the target (auditwheel show agrees). manylinux1 (glibc 2.5) had only these two.
MANYLINUX_2_5 = frozenset({"x86_64", "i686"})
LIBEXEC = "src/hardenkit/_libexec"
NAME = "hardenkit-exec"
#: The temp output is named ``.hardenkit-exec.<pid>.tmp`` (git-ignored) until it is complete.
TMP_PREFIX = f".{NAME}."
FLAGS = (
    "-std=c11",
    "-O2",
    "-Wall",
    "-Wextra",
    # Some compilers predefine _FORTIFY_SOURCE: redefining it is a warning, hence -U.
    # Level 3 (gcc >= 12, glibc >= 2.34) checks the variable-size read/memcpy calls that
    # level 2 cannot; older toolchains treat it as level 2.
    "-U_FORTIFY_SOURCE",
    "-D_FORTIFY_SOURCE=3",
    "-fstack-protector-strong",
    "-fstack-clash-protection",
    "-static",
    "-Wl,-z,relro,-z,now",
)
#: The helper exits 127 when started without its arguments: proof the binary runs here.
SMOKE_STATUS = 127
INSTALL_HINT = (
    "install a C compiler and the static C library (Debian/Ubuntu: apt-get install gcc "
    f"libc6-dev), or set {ENV}=0 to build without the helper (hardenkit then uses its "
    "slower pure-Python spawn path)"
)


class ExecHelperBuildError(RuntimeError):
    """The helper could not be compiled; the message says what to install."""


class CustomBuildHook(BuildHookInterface):  # type: ignore[misc]  # hatchling is untyped here
    """Compile the helper in place; ship it (with its executable bit) in standard wheels."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Build the helper for the wheel target (standard and editable)."""
        if self.target_name != "wheel":
            return
        setting = os.environ.get(ENV, "")
        if setting not in {"", "0", "1"}:
            raise ExecHelperBuildError(f"{ENV} must be 0 or 1 (or unset), not {setting!r}")
        if setting == "0":
            self.app.display_warning(
                f"hardenkit: {ENV}=0: not building {NAME}; hardenkit will use its "
                "pure-Python spawn path (an existing binary in the source tree is left as "
                "is and not packaged)"
            )
            return
        libexec = os.path.join(self.root, *LIBEXEC.split("/"))
        werror = version == "editable" or os.environ.get(WERROR_ENV) == "1"
        try:
            machine = _supported_machine()
            target = self._compile(libexec, werror=werror)
        except ExecHelperBuildError as err:
            if setting == "1":
                raise
            self.app.display_warning(
                f"WARNING: {err}\nhardenkit: building WITHOUT the exec helper: confined "
                "spawns will use the slower pure-Python path (set "
                f"{ENV}=1 to make this an error)"
            )
            return
        self.app.display_info(f"hardenkit: built {target}")
        build_data["pure_python"] = False
        if version == "standard":
            # Not a CPython extension: any Python 3 on this platform runs a static binary.
            glibc = "2_5" if machine in MANYLINUX_2_5 else "2_17"
            build_data["tag"] = f"py3-none-manylinux_{glibc}_{machine}"
            # The binary is git-ignored, so hatchling skips it unless named as an artifact;
            # the wheel keeps its 0755 mode (hatchling normalizes modes to 644/755).
            build_data["artifacts"].append(f"/{LIBEXEC}/{NAME}")

    def clean(self, versions: list[str]) -> None:  # noqa: ARG002 -- same for every version
        """Remove the built helper (``hatch build --clean``)."""
        libexec = os.path.join(self.root, *LIBEXEC.split("/"))
        for name in os.listdir(libexec):
            if name == NAME or (name.startswith(TMP_PREFIX) and name.endswith(".tmp")):
                os.unlink(os.path.join(libexec, name))

    def _compile(self, libexec: str, *, werror: bool) -> str:
        """Compile to a temp name, smoke-test, then rename over the target atomically."""
        source = os.path.join(libexec, f"{NAME}.c")
        target = os.path.join(libexec, NAME)
        tmp = os.path.join(libexec, f"{TMP_PREFIX}{os.getpid()}.tmp")
        cc = shlex.split(os.environ.get("CC", "").strip() or "cc")
        if not cc or shutil.which(cc[0]) is None:
            raise ExecHelperBuildError(
                f"hardenkit: cannot build {NAME}: C compiler {(cc or [''])[0]!r} not found "
                f"(from $CC or 'cc'); {INSTALL_HINT}"
            )
        argv = [*cc, *FLAGS, *(["-Werror"] if werror else []), "-o", tmp, source]
        self.app.display_info(f"hardenkit: compiling {NAME}: {shlex.join(argv)}")
        try:
            done = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603 -- fixed argv
            if done.returncode != 0:
                raise ExecHelperBuildError(
                    f"hardenkit: compiling {NAME} failed (exit {done.returncode}); "
                    f"{INSTALL_HINT}\n{shlex.join(argv)}\n{done.stderr.strip()}"
                )
            os.chmod(tmp, 0o755)  # noqa: S103 -- an executable others run (exec_helper checks <= 0755)
            smoke = subprocess.run([tmp], capture_output=True, check=False)  # noqa: S603 -- our own binary
            if smoke.returncode != SMOKE_STATUS:
                raise ExecHelperBuildError(
                    f"hardenkit: the freshly built {NAME} does not run here (exit "
                    f"{smoke.returncode}, expected {SMOKE_STATUS}); {INSTALL_HINT}"
                )
            os.replace(tmp, target)
        finally:
            if os.path.lexists(tmp):
                os.unlink(tmp)
        return target


def _supported_machine() -> str:
    """The wheel's architecture (``x86_64``...), or ExecHelperBuildError off Linux."""
    if not sys.platform.startswith("linux"):
        raise ExecHelperBuildError(
            f"hardenkit: {NAME} is Linux-only and this is {sys.platform}; hardenkit's "
            "Linux features are unavailable here anyway"
        )
    return platform.machine()
