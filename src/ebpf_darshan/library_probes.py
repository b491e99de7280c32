"""Library probes, attached per traced process to the library copies it
really maps, while the kernel holds it stopped (see bpf/library_hold.bpf.h).

Uprobes are attached per process by default: the kernel installs the
breakpoints only in the address space of that process, so untraced
processes mapping the same library pay nothing.  A link belongs to the
process and the library file, not to the program image: after exec it
probes the new image's copy of the same file, so links are kept until the
process exits.  (Dropping them at exec and attaching anew would leave both
sets firing, every call counted twice, until the slow close of the old ones;
the new image's mappings hold the process again and only files not probed
yet get links.)

Shared probes (the node daemon, which traces nearly every process): one
link per library file and program, firing in every process that maps the
file, the programs ignoring untraced ones.  Each process otherwise costs
an attach while it is held and, at its end, a detach of about 90 ms of
kernel time (an RCU grace period per link), which a node starting
processes faster than that could never catch up with.  Shared, a process
is held only to map a library file no process mapped before, and nothing
is detached until the recorder stops.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from .binding import BpfError, BpfObject, UprobeLink, function_offsets
from .layers.base import LibraryLayer
from .proc_maps import MappedFile, mapped_executables

# The links of shared probes, in place of a pid: uprobe_multi's "every process".
SHARED = 0


class LibraryProbes:
    """The uprobe links of every traced process, by pid and library file
    (or with shared_to, by library file only: see the module's docstring;
    shared_to(dev, ino) is told of each file probed for every process)."""

    def __init__(self, layers: list[tuple[LibraryLayer, BpfObject]],
                 shared_to: Callable[[int, int], None] | None = None):
        self._layers = layers
        self._shared_to = shared_to
        self._links: dict[int, dict[tuple[int, int], list[UprobeLink]]] = {}
        self._offsets: dict[tuple[int, int], dict[str, int]] = {}
        self.failures = 0  # attaches refused while the process was alive
        # Closing a link waits for an RCU grace period (~50 ms here): done
        # by a thread, so that holds and events are not kept waiting.
        self._closing: queue.Queue[UprobeLink | None] = queue.Queue()
        self._closer = threading.Thread(target=self._close_links, daemon=True)
        self._closer.start()

    def _close_links(self) -> None:
        while (link := self._closing.get()) is not None:
            link.close()

    def attach(self, pid: int) -> None:
        """Probe every library of interest pid maps and is not probed in yet."""
        owner = SHARED if self._shared_to else pid
        attached = self._links.setdefault(owner, {})
        for mapped in mapped_executables(pid):
            if (mapped.dev, mapped.ino) in attached:
                continue
            for layer, obj in self._layers:
                if layer.matches(mapped.basename):
                    attached[(mapped.dev, mapped.ino)] = self._attach_layer(pid, mapped, layer, obj)
                    if self._shared_to and attached[(mapped.dev, mapped.ino)]:
                        self._shared_to(mapped.dev, mapped.ino)

    def _functions(self, pid: int, mapped: MappedFile, layer: LibraryLayer) -> dict[str, int]:
        key = (mapped.dev, mapped.ino)
        if key not in self._offsets:
            names = [p.function for p in layer.probes]
            self._offsets[key] = function_offsets(mapped.path_from(pid), names)
        return self._offsets[key]

    def _attach_layer(self, pid: int, mapped: MappedFile, layer: LibraryLayer,
                      obj: BpfObject) -> list[UprobeLink]:
        links: list[UprobeLink] = []
        try:
            offsets = self._functions(pid, mapped, layer)
            library_bits = layer.library_cookie(mapped.path_from(pid))
            # one link per program: (offset, cookie) of each function it runs at
            sites: dict[tuple[str, bool], dict[int, int]] = {}
            for probe in layer.probes:
                offset = offsets.get(probe.function)
                if offset is None:
                    continue
                for program, ret in ((probe.entry, False), (probe.exit, True)):
                    if program:
                        # aliases (fopen/fopen64) share an address: probe it once
                        sites.setdefault((program, ret), {}).setdefault(
                            offset, probe.cookie | library_bits)
            # Return probes first: a call entered between the two attaches
            # must not leave its entry counted without its return (a
            # process held for the attach can be continued early, e.g. by
            # mpirun forwarding SIGCONT to its ranks).
            for (program, ret), at in sorted(sites.items(), key=lambda site: not site[0][1]):
                links.append(obj.attach_uprobes(program, SHARED if self._shared_to else pid,
                                                mapped.path_from(pid), list(at),
                                                list(at.values()), retprobe=ret))
        except (BpfError, OSError):
            if mapped in mapped_executables(pid):
                self.failures += 1
        return links

    # ProcessWatcher (recorder.py): attach while held, drop at exit.
    def on_hold(self, kind: int, proc: int, pid: int) -> None:
        self.attach(pid)

    def on_exec(self, proc: int, pid: int) -> None:
        """The links stay: see the module's docstring."""

    def on_exit(self, proc: int, pid: int) -> None:
        self.forget(pid)

    def on_adopt(self, proc: int, pid: int) -> None:
        """Probed while it runs: a call in flight now is seen without its
        entry or its return, which the call-depth tracking of the layers
        survives (bpf/uprobe_layer.bpf.h); streams already open are adopted
        at their next call (TASK_JOINED)."""
        self.attach(pid)

    def forget(self, pid: int) -> None:
        """Detach everything attached for pid (it exited); shared links
        stay."""
        for links in self._links.pop(pid, {}).values():
            for link in links:
                self._closing.put(link)

    def close(self) -> None:
        for pid in list(self._links):
            self.forget(pid)
        self._closing.put(None)
        self._closer.join()
