"""Print the headline counters of a .darshan log, read through PyDarshan."""

import sys

import darshan
from darshan.backend.cffi_backend import counter_names

COLUMNS = ["POSIX_OPENS", "POSIX_READS", "POSIX_WRITES", "POSIX_BYTES_READ",
           "POSIX_BYTES_WRITTEN", "POSIX_SEQ_WRITES", "POSIX_RENAME_SOURCES",
           "POSIX_ACCESS1_ACCESS"]

report = darshan.DarshanReport(sys.argv[1], read_all=True)
job = report.metadata["job"]
print(f"exe: {report.metadata['exe']}")
print(f"nprocs: {job['nprocs']}  run time: {job['run_time']:.3f} s  "
      f"modules: {', '.join(report.modules)}")
names = report.name_records
index = [counter_names("POSIX").index(c) for c in COLUMNS]
prefix = sys.argv[2] if len(sys.argv) > 2 else ""
records = [r for r in report.records["POSIX"] if names[r["id"]].startswith(prefix)]
width = max(len(names[r["id"]]) for r in records)
print(f"{'rank':>4}  {'file':<{width}}  " + "  ".join(c.replace("POSIX_", "") for c in COLUMNS))
for r in records:
    values = "  ".join(f"{int(r['counters'][i]):>{len(c) - 6}}"
                       for i, c in zip(index, COLUMNS, strict=True))
    print(f"{int(r['rank']):>4}  {names[r['id']]:<{width}}  {values}")
