"""Start the command to record, held before exec until tracing is in place,
and pass it the signals the recorder receives."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sys
from dataclasses import dataclass

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
# Python ignores these for itself; a command must start with them at their
# defaults (`yes | head` relies on SIGPIPE), as a shell would start it.
PYTHON_IGNORED = (signal.SIGPIPE, signal.SIGXFSZ)
EXIT_NOT_FOUND = 127
EXIT_NOT_EXECUTABLE = 126


def _exec(argv: list[str]) -> int:
    """Become the command; if that fails, say why and return the shell's
    status for it."""
    try:
        for sig in FORWARDED + PYTHON_IGNORED:
            signal.signal(sig, signal.SIG_DFL)
        os.execvp(argv[0], argv)
    except OSError as e:
        os.write(2, f"ebpf-darshan: {argv[0]}: {e.strerror}\n".encode())
        return EXIT_NOT_FOUND if e.errno == errno.ENOENT else EXIT_NOT_EXECUTABLE


def _child(argv: list[str], gate: int) -> None:
    """In the forked child: wait for the go, then become the command."""
    try:
        go = os.read(gate, 1)
    except OSError:
        go = b""
    if not go:  # the recorder gave up before releasing us
        os._exit(1)
    os._exit(_exec(argv))


def _signal_came_from_terminal() -> bool:
    """Ctrl-C reaches the whole foreground process group, the command
    included; forwarding it again would deliver it twice."""
    try:
        fd = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY)
    except OSError:
        return False
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False
    finally:
        os.close(fd)


@dataclass
class HeldCommand:
    pid: int
    _gate: int
    status: int | None = None

    @classmethod
    def start(cls, argv: list[str]) -> HeldCommand:
        read_end, write_end = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            os.close(write_end)
            _child(argv, read_end)
        os.close(read_end)
        return cls(pid, write_end)

    def release(self) -> None:
        """Let the command exec, and forward our signals to it from now on."""
        for sig in FORWARDED:
            signal.signal(sig, self._forward)
        os.write(self._gate, b"x")
        os.close(self._gate)
        self._gate = -1

    def abandon(self) -> None:
        """Tracing could not start: the held child exits without running."""
        if self._gate >= 0:
            os.close(self._gate)
            self._gate = -1
        self.wait()

    def _forward(self, signum: int, _frame: object) -> None:
        if signum == signal.SIGINT and _signal_came_from_terminal():
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signum)

    def poll(self) -> bool:
        """True once the command has ended."""
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = status
        return self.status is not None

    def wait(self) -> None:
        while self.status is None:
            try:
                _, self.status = os.waitpid(self.pid, 0)
            except InterruptedError:
                continue

    @property
    def exit_code(self) -> int:
        """The shell's convention: the exit code, or 128 + signal."""
        assert self.status is not None
        code = os.waitstatus_to_exitcode(self.status)
        return 128 - code if code < 0 else code
