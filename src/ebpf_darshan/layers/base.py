"""What a library layer is: a Darshan module (or two) counted by uprobes on
a library that traced processes map.

A layer says which library it probes (a basename pattern matched against
/proc/PID/maps, and a short prefix the kernel uses to decide whether a
mapping holds the process), which BPF object holds its programs, which
functions get which programs, and how its kernel records become Darshan
records.  The tracer loads the object (sharing task_states, events and
health with lifecycle.bpf.o), library_probes.py attaches the probes per
process, and log_builder.py asks the layer's result for its records.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from ..dxt import Owners

if TYPE_CHECKING:
    from ..binding import BpfObject
    from ..recorder import Recording


@dataclass(frozen=True)
class Probe:
    """One function of the library: the program run at its entry and the one
    run at its return (None for none), and the cookie both receive
    (bpf_get_attach_cookie) to tell them which function it is."""

    function: str
    entry: str | None
    exit: str | None
    cookie: int = 0


@dataclass(frozen=True)
class KernelMap:
    """A hash map of a layer's object whose keys start with the traced
    process's index (`proc`): records, or a process's library handles."""

    name: str
    key: np.dtype
    value: np.dtype
    capacity: int


# The entries of a layer's record maps (LibraryLayer.record_maps), in order:
# (keys, values) of each.
Tables = tuple[tuple[np.ndarray, np.ndarray], ...]


def concat_tables(parts: list[Tables]) -> Tables:
    """Tables read at different times (processes taken as they ended) as one."""
    return tuple((np.concatenate([part[i][0] for part in parts]),
                  np.concatenate([part[i][1] for part in parts]))
                 for i in range(len(parts[0])))


@dataclass
class LayerRecords:
    """A layer's contribution to the log."""

    modules: dict[str, np.ndarray] = field(default_factory=dict)  # Darshan module -> records
    names: dict[int, str] = field(default_factory=dict)           # record id -> name
    lost: dict[str, int] = field(default_factory=dict)             # metadata counts; > 0 = partial
    # kernel record -> (rank, name), by the module id its timeline segments carry
    owners: dict[int, Owners] = field(default_factory=dict)


class LayerResult(ABC):
    """The kernel records of one layer, read when the command has ended."""

    @abstractmethod
    def procs(self) -> set[int]:
        """Traced-process indices that have records (each becomes a rank)."""

    @abstractmethod
    def records(self, rec: Recording, rank_of: dict[int, int]) -> LayerRecords:
        """Darshan records, ranked by rank_of[proc], named from rec."""


class LibraryLayer(ABC):
    """A library layer; subclasses set the class attributes."""

    name: ClassVar[str]                 # "stdio": turned off by --no-stdio
    layer_id: ClassVar[int]             # enum layer_id of its name events
    bpf_object: ClassVar[str]           # "stdio.bpf.o"
    hold_prefix: ClassVar[str]          # the kernel holds a process mapping a file named so
    library: ClassVar[re.Pattern[str]]  # basename of the library file, matched in full
    probes: ClassVar[tuple[Probe, ...]]
    description: ClassVar[str]          # one line for --help
    record_maps: ClassVar[tuple[KernelMap, ...]]  # what result() is made of
    # What a process leaves in the kernel besides its records (its library
    # handles): dropped with its records when it ends (a node's recorder).
    process_maps: ClassVar[tuple[KernelMap, ...]] = ()

    def matches(self, basename: str) -> bool:
        return self.library.fullmatch(basename) is not None

    def library_cookie(self, path: str) -> int:
        """Bits OR'ed into every probe cookie on the library file at path
        (what kind of library it is).  None by default."""
        return 0

    def configure(self, obj: BpfObject) -> None:
        """Before load: size the maps; subclasses set their constants too."""
        for kernel_map in self.record_maps + self.process_maps:
            obj.resize_map(kernel_map.name, kernel_map.capacity)

    @abstractmethod
    def result(self, tables: Tables) -> LayerResult:
        """The layer's result from the entries of its record maps."""
