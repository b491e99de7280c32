// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The POSIX module's in-kernel copies, handed over by the exit dispatcher
 * (posix.bpf.c, slot EXIT_COPY).  sendfile, copy_file_range and splice
 * move bytes between two fds inside the kernel: a read of the source and a
 * write of the destination, each at the offset passed by pointer (which the
 * call advances) or else at the file position.  No user buffer, so no
 * memory alignment to check.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "ebpf_darshan.h"
#include "syscalls.bpf.h"
#include "posix_record.bpf.h"

/* One side of a copy: the file it reads or writes, and where. */
struct copy_side {
	long fd;
	__u64 uoff;   /* user address of the offset passed by pointer, or 0 */
	long ret;
	__u64 t1, t2;
	bool write;
};

/* A global function: the verifier follows it once, on its own, where the
 * counting rules inlined for both sides would cost it twice as much.  Its
 * arguments are plain memory to the verifier, hence no kernel pointers. */
__noinline int count_copy_side(struct task_state *st, struct copy_side *side)
{
	struct file *f = 0;
	struct posix_record *r;
	struct access a = {};
	__s64 end;

	if (!st || !side)
		return 0;
	r = fd_record(st, side->fd, &f);
	if (!r)
		return 0;
	/* Two separate loads: merged into one, they would mix a stack and a
	 * kernel pointer, which the verifier refuses. */
	end = FILE_READ(f, f_pos);
	if (side->uoff)
		bpf_probe_read_user(&end, sizeof(end), (void *)side->uoff);
	a.write = side->write;
	a.bytes = side->ret;
	a.offset = end - side->ret;
	a.t1 = side->t1;
	a.t2 = side->t2;
	count_io(r, f, st->proc, &a);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(exit_copy, struct pt_regs *regs, long ret)
{
	long nr = regs->orig_ax;
	struct copy_side side = { .ret = ret };
	struct task_state *st = handed_call(&side.t1, &side.t2);

	if (!st || ret < 0)
		return 0;
	if (nr == NR_sendfile) {  /* (out_fd, in_fd, *offset, count) */
		side.fd = PT_REGS_PARM2_SYSCALL(regs);
		side.uoff = PT_REGS_PARM3_SYSCALL(regs);
		count_copy_side(st, &side);
		side.fd = PT_REGS_PARM1_SYSCALL(regs);
		side.uoff = 0;
	} else {  /* copy_file_range and splice: (fd_in, *off_in, fd_out, *off_out, ...) */
		side.fd = PT_REGS_PARM1_SYSCALL(regs);
		side.uoff = PT_REGS_PARM2_SYSCALL(regs);
		count_copy_side(st, &side);
		side.fd = PT_REGS_PARM3_SYSCALL(regs);
		side.uoff = PT_REGS_PARM4_SYSCALL(regs);
	}
	side.write = true;
	count_copy_side(st, &side);
	extra_add(nr == NR_sendfile ? X_SENDFILE_CALLS :
		  nr == NR_splice ? X_SPLICE_CALLS : X_COPY_FILE_RANGE_CALLS, 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
