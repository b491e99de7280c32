"""MPI ranks of traced processes, from the variables launchers put in their
environment.

The kernel copies a traced process's environment at exec (lifecycle.bpf.c,
EV_EXEC), so even a rank that lives a millisecond is seen; a process forked
without exec shares its parent's environment and so its rank.  Processes
found already running by a scoped recording are read from
/proc/PID/environ instead.  A process whose environment did not reach us (its
exec event was lost, or its environment is longer than the kernel copies and
the variable sits past the end) has no rank.

When some traced process carries a rank variable, the job is an MPI job:
exactly the processes carrying that variable are ranks.  Everything else
(mpirun, orted, prted, srun, the shells around them) is a launcher or
helper: its I/O stays out of the rank records and is only counted in the
log's metadata.  Without any rank variable, each process that did I/O is a
rank in order of creation, and nprocs is their number.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .job import JOBID_VARIABLES

# (rank variable, job-size variable), most specific first: the first one any
# traced process carries decides the ranks.  SLURM_PROCID comes last, since
# Slurm also sets it for the batch shell and for mpirun started inside srun.
RANK_VARIABLES: tuple[tuple[str, str], ...] = (
    ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"),
    ("MV2_COMM_WORLD_RANK", "MV2_COMM_WORLD_SIZE"),
    ("PMI_RANK", "PMI_SIZE"),
    ("PMIX_RANK", ""),
    ("PALS_RANKID", ""),
    ("SLURM_PROCID", "SLURM_NTASKS"),
)
# What identifies one job across nodes, most specific first: the batch
# system's job id, else the MPI launcher's job namespace.
JOB_KEY_VARIABLES = (*JOBID_VARIABLES, "PMIX_NAMESPACE", "OMPI_MCA_ess_base_jobid")
KEPT_VARIABLES = frozenset(v for pair in RANK_VARIABLES for v in pair if v) | frozenset(
    JOB_KEY_VARIABLES)


def parse_environ(raw: bytes) -> dict[str, str]:
    """The variables we use from a NUL-separated environment block."""
    out: dict[str, str] = {}
    for entry in raw.split(b"\0"):
        name, sep, value = entry.partition(b"=")
        text = name.decode(errors="replace")
        if sep and text in KEPT_VARIABLES:
            out[text] = value.decode(errors="replace")
    return out


def read_environ(pid: int) -> dict[str, str]:
    """The variables we use from a running process (empty if it is gone)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return parse_environ(f.read())
    except OSError:
        return {}


def _integer(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _rank(environ: dict[str, str], variable: str) -> int | None:
    rank = _integer(environ.get(variable))
    return rank if rank is not None and rank >= 0 else None


@dataclass
class Ranks:
    """Which traced process is which rank."""

    rank_of: dict[int, int]  # traced-process index -> rank
    nprocs: int
    variable: str = ""  # the rank variable, empty when ranks are processes
    launchers: set[int] = field(default_factory=set)  # traced processes that are not ranks
    job_key: str = ""  # "NAME=VALUE" shared by the job's ranks, if any

    @property
    def from_environment(self) -> bool:
        return bool(self.variable)


def assign_ranks(environs: dict[int, dict[str, str]], with_io: list[int]) -> Ranks:
    """Ranks for the traced processes whose environments we know (environs,
    by process index) among those that did I/O (with_io, in creation order)."""
    for variables in RANK_VARIABLES:
        rank_in = {p: r for p, env in environs.items()
                   if (r := _rank(env, variables[0])) is not None}
        if rank_in:
            break
    else:
        return Ranks({p: r for r, p in enumerate(with_io)}, max(len(with_io), 1))
    rank_var, size_var = variables
    carriers = {p: environs[p] for p in rank_in}
    rank_of = {p: rank_in[p] for p in with_io if p in rank_in}
    sizes = [s for env in carriers.values() if (s := _integer(env.get(size_var))) is not None]
    nprocs = max([*sizes, max(rank_in.values()) + 1])
    first = carriers[min(carriers)]
    job_key = next((f"{v}={first[v]}" for v in JOB_KEY_VARIABLES if v in first), "")
    launchers = {p for p in with_io if p not in carriers}
    return Ranks(rank_of, nprocs, rank_var, launchers, job_key)
