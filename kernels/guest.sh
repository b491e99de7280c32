#!/bin/bash
# Runs the kernel-matrix checks inside a virtme-ng guest (or on the host, for
# the `running` kernel); started by kernels/matrix.py.
#
#   guest.sh REPO OUT STDIO_BIN [SHELL-COMMAND]
#
# vng exits 255 whatever the guest did and shows the guest's output only with
# --verbose, so everything the host needs is written into OUT (vng's --rwdir):
#   started      written first: its appearance on the host marks the end of the boot
#   mounts.log   what mounting bpffs, tracefs, debugfs (and /tmp) said
#   guest.log    the checks' output
#   exit-status  the checks' exit status, written last
#   dmesg.txt    the kernel log (verifier complaints, BPF warnings)
# With SHELL-COMMAND (matrix.py --guest-cmd), that runs instead of the checks,
# with REPO and OUT in its environment.
set -u
REPO=$1 OUT=$2 STDIO_BIN=$3
export REPO OUT

date +%s.%N > "$OUT/started"

# virtme-ng mounts proc, sys and dev but not these; libbpf needs tracefs to
# attach tracepoints, bpffs to pin. Already mounted (the host) is left alone.
mount_once() {
	mountpoint -q "$2" || mount -t "$1" "$1" "$2"
}
{
	mount_once bpf /sys/fs/bpf
	mount_once tracefs /sys/kernel/tracing
	mount_once debugfs /sys/kernel/debug
	# The smoke recordings write in a scratch directory Darshan does not
	# exclude. In a guest /tmp is virtme-ng's overlay on the host's /tmp: a
	# tmpfs of its own is closer to what users have and leaves nothing on
	# the host. Not over /tmp itself, which may hold the repository.
	if [ "$(stat -f -c %T /tmp)" = overlayfs ]; then
		mkdir -p /run/kernel-matrix
		mount -t tmpfs -o size=512M tmpfs /run/kernel-matrix
		export KERNEL_MATRIX_SCRATCH=/run/kernel-matrix
	fi
} > "$OUT/mounts.log" 2>&1

cd "$REPO" || exit 1
if [ $# -ge 4 ]; then
	bash -c "$4"
else
	"$REPO/.venv/bin/python" "$REPO/kernels/guest_check.py" \
		--repo "$REPO" --out "$OUT" --stdio-bin "$STDIO_BIN"
fi > "$OUT/guest.log" 2>&1
status=$?

dmesg > "$OUT/dmesg.txt" 2>&1
echo "$status" > "$OUT/exit-status"
exit "$status"
