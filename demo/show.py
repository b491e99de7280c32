"""Print the headline counters of a .darshan log, read through PyDarshan."""

import sys

import darshan

COLUMNS = ["POSIX_OPENS", "POSIX_READS", "POSIX_WRITES", "POSIX_BYTES_READ",
           "POSIX_BYTES_WRITTEN", "POSIX_SEQ_WRITES", "POSIX_RENAME_SOURCES",
           "POSIX_ACCESS1_ACCESS"]

report = darshan.DarshanReport(sys.argv[1], read_all=True)
job = report.metadata["job"]
print(f"exe: {report.metadata['exe']}")
print(f"nprocs: {job['nprocs']}  run time: {job['run_time']:.3f} s  "
      f"modules: {', '.join(report.modules)}")
df = report.records["POSIX"].to_df()
counters = df["counters"]
names = report.name_records
width = max(len(names[i]) for i in counters["id"])
print(f"{'rank':>4}  {'file':<{width}}  " + "  ".join(c.replace("POSIX_", "") for c in COLUMNS))
for _, row in counters.iterrows():
    values = "  ".join(f"{int(row[c]):>{len(c) - 6}}" for c in COLUMNS)
    print(f"{int(row['rank']):>4}  {names[row['id']]:<{width}}  {values}")
