"""What the kernel's verifier said about one program, read from its log at
the statistics level (BPF_LOG_STATS): how many instructions it processed,
the stack its frames need, and its reason when it refused the program.

Pure text handling, so it is testable without a kernel."""

from __future__ import annotations

import re
from dataclasses import dataclass

PROCESSED = re.compile(r"^processed (\d+) insns")
STACK = re.compile(r"^stack depth ([\d+]+)")
# Lines of a successful verification's statistics: anything else is the
# verifier explaining a refusal.
STATS_LINE = re.compile(r"^(processed \d+ insns|stack depth |verification time |"
                        r"max_states_per_insn|mark_read|peak_states|total_states)")
# The verifier rounds each frame up to this many bytes.
FRAME_ALIGN = 32


@dataclass(frozen=True)
class VerifierStats:
    insns: int | None   # instructions processed; None if the log has no statistics
    frames: tuple[int, ...]  # stack bytes of each function, rounded as the verifier does
    reason: str | None  # why it was refused; None if it was not

    @property
    def stack(self) -> int | None:
        """Every frame summed: a bound on the deepest call chain."""
        return sum(self.frames) if self.frames else None


def frame_sizes(depths: str) -> tuple[int, ...]:
    """`stack depth 408+0+80+24`: one depth per function (the program, then
    its subprograms and loop callbacks in the verifier's numbering), each
    rounded up as the verifier rounds it before adding up a call chain
    (older kernels count an empty frame as a whole unit)."""
    return tuple(-(-max(int(d), 1) // FRAME_ALIGN) * FRAME_ALIGN
                 for d in depths.split("+") if d)


def combined_stack(frames: tuple[int, ...], calls: list[tuple[int, int]]) -> int:
    """The deepest call chain from the program (function 0), in bytes: what
    the verifier holds against its 512-byte limit.  calls: (caller, callee)
    pairs; BPF has no recursion, so the chains are finite."""
    callees: dict[int, set[int]] = {}
    for caller, callee in calls:
        callees.setdefault(caller, set()).add(callee)

    def deepest(f: int) -> int:
        below = [deepest(c) for c in callees.get(f, ()) if c != f and c < len(frames)]
        return frames[f] + max(below, default=0)

    return deepest(0) if frames else 0


def parse(log: str) -> VerifierStats:
    insns = None
    frames: tuple[int, ...] = ()
    reasons = []
    for line in log.splitlines():
        line = line.strip()
        if not line:
            continue
        if m := PROCESSED.match(line):
            insns = int(m.group(1))
        elif m := STACK.match(line):
            frames = frame_sizes(m.group(1))
        elif not STATS_LINE.match(line):
            reasons.append(line)
    # The last line before the statistics is the verdict; earlier ones
    # are context (the instruction, the register state).
    return VerifierStats(insns, frames, reasons[-1] if reasons else None)
