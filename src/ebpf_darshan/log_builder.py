"""A finished recording as a Darshan log: ranks, names, POSIX records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from . import __version__, bpf_layout as L, posix_records as P
from .darshan import Job, Log, record_id
from .darshan.modules import MODULE_IDS
from .dxt import Owners
from .job import job_id
from .layers.base import LayerResult
from .ranks import Ranks, assign_ranks
from .recorder import Recording
from .shared_reduction import RULES, combine_same_file, reduce_shared
from .timelines import KernelTimelines, add_timelines

POSIX_PARTIAL_BIT = 1 << 1  # module id 1
LAUNCHER_RANK = -2  # never written: records of launcher processes are left out


@dataclass
class JobFacts:
    uid: int
    jobid: int
    argv: list[str]
    mounts: list[tuple[str, str]]
    shared_reduction: bool = True
    metadata: dict[str, str] = field(default_factory=dict)  # extra lines (a node's)


def _unnamed(key: np.void) -> str:
    """A record whose name event was lost keeps its data under this name."""
    dev = int(key["dev"])
    return f"<ebpf-darshan:unnamed dev={dev >> 20}:{dev & 0xfffff} ino={int(key['ino'])}>"


def _named_records(rec: Recording, keys: np.ndarray, values: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, list[str], int]:
    """The kernel records that count, with their names."""
    names: list[str] = []
    unnamed = 0
    for k in keys:
        name = rec.names.get((int(k["proc"]), int(k["dev"]), int(k["ino"])))
        if name is None:
            name = _unnamed(k)
            unnamed += 1
        names.append(name)
    keep = np.array([(v["flags"] & L.RECORD_EXCLUDED) == 0 and not rec.path_filter.excluded(n)
                     for v, n in zip(values, names, strict=True)], dtype=bool)
    kept_names = [n for n, k in zip(names, keep, strict=True) if k]
    return keys[keep], values[keep], kept_names, unnamed


def _apply_renames(rec: Recording, by_file: dict[tuple[int, int], np.void],
                   names: dict[int, str], rank_of: dict[int, int]) -> None:
    """Darshan's rename counters: the source must have a record already."""
    for r in rec.renames:
        if r.proc not in rank_of or rec.path_filter.excluded(r.new):
            continue
        rank = rank_of[r.proc]
        src = by_file.get((rank, record_id(r.old)))
        if src is None:
            continue
        src["counters"][P.C["POSIX_RENAME_SOURCES"]] += 1
        src["fcounters"][P.F["POSIX_F_META_TIME"]] += (r.end_ns - r.start_ns) / P.NS_PER_S
        dst_id = record_id(r.new)
        dst = by_file.get((rank, dst_id))
        if dst is None:
            dst = np.zeros(1, dtype=P.DTYPE)[0]
            dst["id"] = dst_id
            dst["rank"] = rank
            by_file[(rank, dst_id)] = dst
            names[dst_id] = r.new
        dst["counters"][P.C["POSIX_RENAME_TARGETS"]] += 1
        if dst["counters"][P.C["POSIX_RENAMED_FROM"]] == 0:
            dst["counters"][P.C["POSIX_RENAMED_FROM"]] = np.int64(
                np.uint64(record_id(r.old)).view(np.int64))


def _rank_metadata(ranks: Ranks, launcher_records: int, reduce: bool) -> dict[str, str]:
    if not ranks.from_environment:
        return {"ranks": "one per traced process that did I/O, in order of creation"}
    out = {"ranks": f"MPI ranks from {ranks.variable}",
           "shared_reduction": "on" if reduce else "off"}
    if ranks.job_key:
        out["job"] = ranks.job_key
    if ranks.launchers:
        out["launcher_io"] = (f"{launcher_records} records of {len(ranks.launchers)} "
                              "launcher/helper processes left out")
    return out


def build_log(rec: Recording, keys: np.ndarray, values: np.ndarray, health: np.ndarray,
              facts: JobFacts, extras: dict[str, int] | None = None,
              layers: Sequence[LayerResult] = (),
              timelines: KernelTimelines | None = None) -> Log:
    """The log of a recording.  extras: totals Darshan has no counter for
    (Tracer.extras()), written as metadata lines; layers: the library
    layers' results (Tracer.collect_layers()); timelines: the heatmaps and
    DXT segments (Tracer.timelines(), or a node job's)."""
    keys, values, names, unnamed = _named_records(rec, keys, values)
    with_io = rec.creation_order(
        {int(p) for p in keys["proc"]}.union(*(r.procs() for r in layers)))
    ranks = assign_ranks({p: pr.environ for p, pr in rec.procs.items() if pr.environ is not None},
                         with_io)
    is_rank = np.array([int(p) in ranks.rank_of for p in keys["proc"]], dtype=bool)
    launcher_records = int((~is_rank).sum())
    keys, values = keys[is_rank], values[is_rank]
    names = [n for n, keep in zip(names, is_rank, strict=True) if keep]
    ids = np.array([record_id(n) for n in names], dtype=np.uint64)
    rank_arr = np.array([ranks.rank_of[int(p)] for p in keys["proc"]], dtype=np.int64)
    converted = P.from_kernel(values, ids, rank_arr, rec.start_ktime)
    name_table = dict(zip((int(i) for i in ids), names, strict=True))

    same_file = np.zeros(len(converted), dtype=[("rank", "<i8"), ("id", "<u8")])
    same_file["rank"], same_file["id"] = rank_arr, ids
    combined = combine_same_file(converted, same_file, P.POSIX)
    by_file = {(int(r["rank"]), int(r["id"])): r.copy() for r in combined}
    _apply_renames(rec, by_file, name_table, ranks.rank_of)
    records = np.array(list(by_file.values()), dtype=P.DTYPE)
    modules = {"POSIX": records} if len(records) else {}
    partial = 0
    layer_lost: dict[str, int] = {"lost_layer_records": int(health[L.H_LAYER_RECORDS_DROPPED])}
    # the layers rank every process they saw: launchers get a rank to drop
    layer_rank_of = {**{p: LAUNCHER_RANK for p in ranks.launchers}, **ranks.rank_of}
    owners: dict[int, Owners] = {L.DARSHAN_POSIX_MOD: {
        (int(k["proc"]), int(k["dev"]), int(k["ino"])): (ranks.rank_of[int(k["proc"])], name)
        for k, name in zip(keys, names, strict=True)}}
    for result in layers:
        out = result.records(rec, layer_rank_of)
        for module_id, mine in out.owners.items():
            owners.setdefault(module_id, {}).update(
                (k, owner) for k, owner in mine.items() if owner[0] != LAUNCHER_RANK)
        for module, recs in out.modules.items():
            launcher = recs["rank"] == LAUNCHER_RANK
            launcher_records += int(launcher.sum())
            if (~launcher).any():
                modules[module] = recs[~launcher]
        name_table.update(out.names)
        layer_lost.update(out.lost)
        if any(v > 0 for v in out.lost.values()) or layer_lost["lost_layer_records"]:
            partial |= sum(1 << MODULE_IDS[m] for m in out.modules)
    reduce = ranks.from_environment and facts.shared_reduction
    for module in RULES.keys() & modules.keys() - {P.POSIX}:  # one per rank and file
        recs = modules[module]
        modules[module] = combine_same_file(recs, recs[["rank", "id"]], module)
    if reduce:
        for module in RULES.keys() & modules.keys():
            modules[module] = reduce_shared(modules[module], module, ranks.nprocs)

    # A full records map refuses the file at open and again at each later
    # call on it: lost_files counts files, lost_file_calls the refusals.
    lost = {"lost_files": len(set(rec.lost_files)),
            "lost_file_calls": int(health[L.H_RECORDS_DROPPED]) - rec.excluded_drops,
            "lost_events": int(health[L.H_EVENTS_DROPPED]) + unnamed,
            "lost_tasks": int(health[L.H_PROCS_DROPPED]),
            "lost_busy_calls": int(health[L.H_CALLS_BUSY]), **layer_lost}
    metadata = {"lib_ver": f"ebpf-darshan-{__version__}",
                "collector": "ebpf-darshan (kernel syscall tracing, no interposition)"}
    metadata.update(_rank_metadata(ranks, launcher_records, reduce))
    metadata.update(facts.metadata)
    metadata.update({k: str(v) for k, v in lost.items() if v > 0})
    extra = dict(extras or {}, extra_unlink_calls=rec.unlinks,
                 extra_mmap_read_bytes=int(values["mmap_read_bytes"].sum()),
                 extra_mmap_dirtied_bytes=int(values["mmap_dirtied_bytes"].sum()))
    metadata.update({k: str(v) for k, v in extra.items() if v > 0})
    if rec.env_truncated:
        metadata["env_truncated"] = (f"{rec.env_truncated} environments longer than "
                                     f"{L.ENV_COPY_MAX} bytes")
    # The ranks' batch job id, when the recorder runs outside the job.
    name, _, value = ranks.job_key.partition("=")
    job = Job(uid=facts.uid, start_ns=rec.start_epoch_ns, end_ns=rec.end_epoch_ns,
              nprocs=ranks.nprocs, jobid=job_id({name: value}, facts.jobid), metadata=metadata,
              exe=" ".join(facts.argv), mounts=facts.mounts)
    if any(v > 0 for k, v in lost.items() if k not in layer_lost):
        partial |= POSIX_PARTIAL_BIT
    log = Log(job=job, names=name_table, records=modules, partial_flag=partial)
    if timelines is not None:
        timelines = replace(timelines, segments=rec.retired_segments(timelines.segments))
        add_timelines(log, timelines, owners, ranks.rank_of, rec.start_ktime, health)
    return log
