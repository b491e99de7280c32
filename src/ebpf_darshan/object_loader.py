"""Loading a BPF object so that what one kernel refuses costs only that
part of the recording.

Each object is tried in its fast variant (X.bpf.o: direct struct reads,
Linux 6.2+) and its portable one (X_compat.bpf.o), first with every
optional feature it was asked for (DXT, heatmaps) and then without them.
Programs on tracepoints the running kernel lacks are left out before load.
The caller learns what was given up and why."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from .binding import BpfError, BpfObject, VerifierRejection


@dataclass(frozen=True)
class Features:
    """Optional code compiled into every object, switched by constants."""
    dxt: bool = False
    heatmap: bool = True

    def consts(self) -> dict[str, np.generic]:
        return {"dxt_enabled": np.bool_(self.dxt), "heatmap_enabled": np.bool_(self.heatmap)}

    def fallbacks(self) -> list[Features]:
        """These features, then fewer: DXT goes first, then heatmaps."""
        ladder = [self, replace(self, dxt=False), replace(self, dxt=False, heatmap=False)]
        return [f for i, f in enumerate(ladder) if f not in ladder[:i]]


@dataclass
class Loaded:
    obj: BpfObject
    features: Features
    # programs left out, each with the reason
    programs_off: dict[str, str] = field(default_factory=dict)


def set_consts(obj: BpfObject, consts: Mapping[str, np.generic | np.ndarray]) -> None:
    """Set the constants the object has; objects share settings by name."""
    for name, value in consts.items():
        if obj.has_const(name):
            obj.set_const(name, value)


def _open(name: str, configure: Callable[[BpfObject], None],
          features: Features) -> tuple[BpfObject, dict[str, str]]:
    obj = BpfObject(name)
    try:
        missing = {p: "this kernel has no such tracepoint" for p in obj.programs()
                   if obj.tracepoint_missing(p)}
        if missing and len(missing) == len(obj.programs()):
            raise BpfError(f"{name}: this kernel has none of its tracepoints")
        for program in missing:
            obj.set_autoload(program, False)
        configure(obj)
        set_consts(obj, features.consts())
    except BaseException:
        obj.close()
        raise
    return obj, missing


def load_object(stem: str, configure: Callable[[BpfObject], None], features: Features,
                variants: tuple[str, ...] = ("", "_compat")) -> Loaded:
    """The object `stem` loaded in the first variant and features the kernel
    takes.  configure(obj) runs before each attempt (maps shared, sizes,
    constants).  Raises the first refusal when nothing loads."""
    errors: list[BpfError] = []
    unusable: set[str] = set()  # refused before the verifier: no feature helps
    for wanted in features.fallbacks():
        for name in (f"{stem}{v}.bpf.o" for v in variants):
            if name in unusable:
                continue
            try:
                obj, programs_off = _open(name, configure, wanted)
            except BpfError as e:
                errors.append(e)
                unusable.add(name)
                continue
            try:
                obj.load()
            except BpfError as e:
                obj.close()
                errors.append(e)
                if not isinstance(e, VerifierRejection):
                    unusable.add(name)
                continue
            return Loaded(obj, wanted, programs_off)
    rejections = [e for e in errors if isinstance(e, VerifierRejection)]
    raise (rejections or errors)[0]
