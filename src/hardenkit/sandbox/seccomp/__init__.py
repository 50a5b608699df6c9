"""Seccomp: policies, systemd groups, Docker profiles, the compiler, one load.

One job per module, each importing only those below it (the layers contract in
pyproject.toml pins the order):

- :mod:`.apply` installs a compiled policy (one ``seccomp(2)`` call with TSYNC) and
  checks every thread from ``/proc``;
- :mod:`.policy` is :class:`SeccompPolicy`, the frozen value callers build;
- :mod:`.compiler` turns a resolved policy into one BPF program (libseccomp plus the
  hand-written parts of :mod:`.bpf`, which lists them with their reasons);
- :mod:`.profiles` translates Docker/OCI profiles (the policy class is passed in);
- :mod:`.resolve` merges lists, groups and rules into one decision per syscall;
- :mod:`.bpf` (the hand-written prefix, and the list of every hand-written part with its
  reason), :mod:`.fragments` (per-ABI table, low-word compares, multiplexer guard),
  :mod:`.argwidth` (arguments the kernel reads narrower than 64 bits), :mod:`.groups`
  (systemd's ``@groups``);
- :mod:`.asm` (a small BPF assembler) and :mod:`.rules`, the values a policy is made of
  (:class:`ArgCondition`, :class:`SyscallRule`).

This package re-exports the names ``hardenkit.sandbox.seccomp`` always had.

Examples:
    >>> from hardenkit.sandbox.seccomp import SeccompPolicy, compile_policy
    >>> len(compile_policy(SeccompPolicy(default="allow", deny=["mount"])).bpf) % 8
    0
"""

from __future__ import annotations

from hardenkit.sandbox.seccomp.apply import apply_seccomp, verify_seccomp
from hardenkit.sandbox.seccomp.compiler import CompiledPolicy, compile_policy
from hardenkit.sandbox.seccomp.policy import SeccompPolicy
from hardenkit.sandbox.seccomp.rules import ArgCondition, SyscallRule

__all__ = [
    "ArgCondition",
    "CompiledPolicy",
    "SeccompPolicy",
    "SyscallRule",
    "apply_seccomp",
    "compile_policy",
    "verify_seccomp",
]
