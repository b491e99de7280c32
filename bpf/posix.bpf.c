// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The POSIX module's system call hooks: system calls of traced processes
 * counted per (process, file) with Darshan's rules, entirely in the kernel.
 * The enter hook only notes the time (and, for close, which file the fd
 * names, since the fd is gone at exit); everything else happens at exit,
 * when the result is known and the arguments are still in the user
 * registers.
 *
 * The exit hook counts the read and write family itself: that is the hot
 * path, and it pays no tail call.  Every other call it hands to the
 * program of its concern (enum exit_slot), each in its own object and
 * verified on its own, so that no program comes near the verifier's limits.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "ebpf_darshan.h"
#include "syscalls.bpf.h"
#include "posix_record.bpf.h"
#include "library_hold.bpf.h"

/* close_range() closes are counted for this many fds at most. */
#define CLOSE_RANGE_MAX_FDS 4096
#define CLOSE_RANGE_CLOEXEC (1U << 2)

/* The programs of posix_open.bpf.o, posix_meta.bpf.o, ... by exit_slot;
 * user space fills it with those that loaded. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, EXIT_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} exit_calls SEC(".maps");

static __always_inline void on_rw(struct pt_regs *regs, long nr, bool write,
				  struct task_state *st, long ret, __u64 t1, __u64 t2)
{
	struct file *f = 0;
	struct posix_record *r = fd_record(st, PT_REGS_PARM1_SYSCALL(regs), &f);
	__u64 buf = PT_REGS_PARM2_SYSCALL(regs);
	__s64 pos = PT_REGS_PARM4_SYSCALL(regs);
	struct access a = { .write = write, .bytes = ret, .t1 = t1, .t2 = t2 };

	if (!r)
		return;
	switch (nr) {
	case NR_pread64: case NR_pwrite64:
		a.offset = pos;
		a.mem_unaligned = misaligned(buf);
		break;
	case NR_preadv: case NR_pwritev: case NR_preadv2: case NR_pwritev2:
		/* preadv2 with offset -1 uses (and moves) the file position */
		a.offset = pos == -1 ? FILE_READ(f, f_pos) - ret : pos;
		a.mem_unaligned = iov_misaligned((const struct iovec *)buf,
						 PT_REGS_PARM3_SYSCALL(regs));
		break;
	case NR_readv: case NR_writev:
		a.offset = FILE_READ(f, f_pos) - ret;
		a.mem_unaligned = iov_misaligned((const struct iovec *)buf,
						 PT_REGS_PARM3_SYSCALL(regs));
		break;
	default:
		/* The position after the call, less what moved: right for
		 * O_APPEND and for fds shared across threads and forks. */
		a.offset = FILE_READ(f, f_pos) - ret;
		a.mem_unaligned = misaligned(buf);
	}
	count_io(r, f, st->proc, &a);
}

struct close_range_walk {
	__u32 proc;
	__u32 first;
	__u32 last;
	__u64 now;
};

static long close_range_step(__u32 i, struct close_range_walk *w)
{
	struct file_key key = {};
	struct file *f;

	if (w->first + i > w->last)
		return 1;
	f = fd_file(w->first + i);
	if (f && file_key_of(f, w->proc, &key))
		count_close(&key, w->now, w->now);
	return 0;
}

/* close_range() drops many fds at once; each traced file among them gets a
 * close, stamped at entry (the fds are gone by exit). */
static __always_inline void on_close_range(struct pt_regs *regs, __u32 proc)
{
	struct close_range_walk w = {
		.proc = proc,
		.first = PT_REGS_PARM1_SYSCALL(regs),
		.last = PT_REGS_PARM2_SYSCALL(regs),
		.now = bpf_ktime_get_ns(),
	};
	struct fdtable *fdt = bpf_get_current_task_btf()->files->fdt;

	if (PT_REGS_PARM3_SYSCALL(regs) & CLOSE_RANGE_CLOEXEC)
		return;
	if (w.last >= fdt->max_fds)
		w.last = fdt->max_fds - 1;
	bpf_loop(CLOSE_RANGE_MAX_FDS, close_range_step, &w, 0);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter, struct pt_regs *regs, long id)
{
	int cls = classify(id);
	struct task_state *st;

	if (cls == C_NONE)
		return 0;
	st = traced_task(bpf_get_current_task_btf());
	if (!st)
		return 0;
	/* inside stdio: its system calls are not the application's, unless
	 * the stack says the stdio call is over (its return went unseen) */
	if (st->stdio_depth) {
		if (regs->sp <= st->stdio_sp)
			return 0;
		st->stdio_depth = 0;
	}
	if (cls == C_CLOSE_RANGE) {
		on_close_range(regs, st->proc);
		return 0;
	}
	st->nr = id;
	if (id == NR_close) {
		struct file *f = fd_file(PT_REGS_PARM1_SYSCALL(regs));

		__builtin_memset(&st->closing, 0, sizeof(st->closing));
		if (f)
			file_key_of(f, st->proc, &st->closing);
	}
	st->start_ns = bpf_ktime_get_ns();
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit, struct pt_regs *regs, long ret)
{
	long nr = regs->orig_ax;
	int cls = classify(nr);
	struct task_state *st;
	__u64 t1, t2;

	if (cls == C_NONE)
		return 0;
	st = traced_task(bpf_get_current_task_btf());
	if (cls == C_CLONE) {
		if (st && ret == 0)
			hold_forked_process(st->proc);
		return 0;
	}
	if (!st || st->nr != nr || !st->start_ns)
		return 0;
	t2 = bpf_ktime_get_ns();
	if (cls < EXIT_SLOTS) {
		st->end_ns = t2;
		bpf_tail_call(ctx, &exit_calls, cls);
		/* no program for this slot: the call goes uncounted */
		st->start_ns = 0;
		return 0;
	}
	t1 = st->start_ns;
	st->start_ns = 0;
	if (ret < 0 || (cls != C_READ && cls != C_WRITE))
		return 0;
	on_rw(regs, nr, cls == C_WRITE, st, ret, t1, t2);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
