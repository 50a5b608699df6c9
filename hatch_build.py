"""Hatchling build hook: compile the exec helper (``hardenkit/_libexec/hardenkit-exec``).

hardenkit.spawn execs this small static C program to confine a child before it execs
the real command, so no Python runs between fork and exec. It is compiled for every
wheel (standard and editable) and shipped in standard wheels, which are then tagged for
this platform. ``HARDENKIT_BUILD_EXEC_HELPER=0`` skips it: hardenkit then uses its
slower pure-Python spawn path. The sdist ships only the C source.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

ENV = "HARDENKIT_BUILD_EXEC_HELPER"
LIBEXEC = "src/hardenkit/_libexec"
NAME = "hardenkit-exec"
#: The temp output is named ``.hardenkit-exec.<pid>.tmp`` (git-ignored) until it is complete.
TMP_PREFIX = f".{NAME}."
FLAGS = (
    "-std=c11",
    "-O2",
    "-Wall",
    "-Wextra",
    "-Werror",
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
        setting = os.environ.get(ENV, "1")
        if setting not in {"0", "1"}:
            raise ExecHelperBuildError(f"{ENV} must be 0 or 1, not {setting!r}")
        if setting == "0":
            self.app.display_warning(
                f"hardenkit: {ENV}=0: not building {NAME}; hardenkit will use its "
                "pure-Python spawn path (an existing binary in the source tree is left as "
                "is and not packaged)"
            )
            return
        libexec = os.path.join(self.root, *LIBEXEC.split("/"))
        target = self._compile(libexec)
        self.app.display_info(f"hardenkit: built {target}")
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        if version == "standard":
            # The binary is git-ignored, so hatchling skips it unless named as an artifact;
            # the wheel keeps its 0755 mode (hatchling normalizes modes to 644/755).
            build_data["artifacts"].append(f"/{LIBEXEC}/{NAME}")

    def clean(self, versions: list[str]) -> None:  # noqa: ARG002 -- same for every version
        """Remove the built helper (``hatch build --clean``)."""
        libexec = os.path.join(self.root, *LIBEXEC.split("/"))
        for name in os.listdir(libexec):
            if name == NAME or (name.startswith(TMP_PREFIX) and name.endswith(".tmp")):
                os.unlink(os.path.join(libexec, name))

    def _compile(self, libexec: str) -> str:
        """Compile to a temp name, smoke-test, then rename over the target atomically."""
        source = os.path.join(libexec, f"{NAME}.c")
        target = os.path.join(libexec, NAME)
        tmp = os.path.join(libexec, f"{TMP_PREFIX}{os.getpid()}.tmp")
        cc = shlex.split(os.environ.get("CC", "").strip() or "cc")
        if shutil.which(cc[0]) is None:
            raise ExecHelperBuildError(
                f"hardenkit: cannot build {NAME}: C compiler {cc[0]!r} not found "
                f"(from $CC or 'cc'); {INSTALL_HINT}"
            )
        argv = [*cc, *FLAGS, "-o", tmp, source]
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
