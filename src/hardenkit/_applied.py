"""What hardenkit itself confined this process with, for ``audit_process()`` of itself.

The kernel shows that seccomp filters and a Landlock domain exist, not always what they
hold: a process under seccomp cannot read its own filters back (the kernel refuses a
filtered tracer) and Landlock has no read-back at all. The code that installs them appends
here, after the kernel accepted them; the audit uses these records only for the process that
made them (a fork inherits both the confinement and this memory), and says so in the evidence.
"""

from __future__ import annotations

#: Each seccomp program this process loaded (classic BPF bytes) and whether it was TSYNC.
SECCOMP: list[tuple[bytes, bool]] = []
#: One line per Landlock domain this process entered: ABI, handled rights and rules.
LANDLOCK: list[str] = []
