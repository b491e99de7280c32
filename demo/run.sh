#!/usr/bin/env bash
# Record a small real workload (a shell pipeline: dd, cat, Python) and show
# what the Darshan tools see in the log.
set -euo pipefail
venv=${1:-.venv}
work=$(mktemp -d /tmp/ebpf-darshan-demo.XXXXXX)
log=$work/demo.darshan
echo "== ebpf-darshan record -o $log -- sh -c '...'"
"$venv/bin/ebpf-darshan" record -o "$log" -- sh -c "
  dd if=/dev/zero of=$work/data.bin bs=64k count=16 status=none
  cat $work/data.bin > /dev/null
  $venv/bin/python -c 'import os; f=open(\"$work/notes.txt\",\"w\"); f.write(\"x\"*1000); f.close(); os.rename(\"$work/notes.txt\", \"$work/notes.old\")'
"
echo
echo "== the log, read by PyDarshan (darshan.DarshanReport), files of the demo"
"$venv/bin/python" demo/show.py "$log" "$work"
echo
echo "== ebpf-darshan parse (darshan-parser format), POSIX byte counters"
"$venv/bin/ebpf-darshan" parse "$log" | grep -E "^# (darshan log|exe|nprocs|run time|metadata)|^POSIX.*POSIX_(OPENS|READS|WRITES|BYTES_READ|BYTES_WRITTEN|RENAME_SOURCES|RENAME_TARGETS|F_WRITE_TIME)[[:space:]].*$work"
