// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The POSIX module's opens, closes and dups, handed over by the exit
 * dispatcher (posix.bpf.c, slot EXIT_OPEN).  An open is where a record is
 * usually born and named: the path as the application gave it goes to user
 * space with the directory it is relative to.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "ebpf_darshan.h"
#include "syscalls.bpf.h"
#include "posix_record.bpf.h"

/* Constants from the uapi headers, which vmlinux.h does not carry. */
#define O_CREAT 0100
#define O_TMPFILE 020000000
#define F_DUPFD 0
#define F_DUPFD_CLOEXEC 1030

static const struct meta_op dup_op = { .counter = POSIX_DUPS, .also = POSIX_OPENS,
				       .opening = true };

/* Whether r, found under f's key, is the record of another file: a deleted
 * one whose inode number f's file system has given again.  Then r moves to
 * a RETIRED_DEV key and the caller makes a new record.  Of two threads
 * opening the new file at once, one moves it.  A stat-made record has no
 * generation yet and takes f's. */
static __always_inline bool retire_if_reused(struct posix_record *r, __u32 slot,
					     struct file_key *key, struct file *f, __u64 t)
{
	__u32 generation = FILE_READ(f, f_inode, i_generation);
	struct file_key moved = { .proc = key->proc, .dev = RETIRED_DEV };
	struct event *e;

	if (r->generation == generation)
		return false;
	if (!r->generation) {
		r->generation = generation;
		return false;
	}
	if (__sync_val_compare_and_swap(&r->retired, 0, 1) != 0)
		return false;
	moved.ino = next_serial(SERIAL_RETIRED) + 1;
	if (bpf_map_update_elem(&record_index, &moved, &slot, BPF_NOEXIST)) {
		/* index full: the two files share the record, and that is said */
		r->retired = 0;
		health_inc(H_RECORDS_DROPPED);
		return false;
	}
	bpf_map_delete_elem(&record_index, key);
	e = scratch_event();
	if (e) {
		fill_event(e, EV_RETIRE, key, t, t);
		*(struct file_key *)(e + 1) = moved;
		emit_event(e, sizeof(*e) + sizeof(moved));
	}
	return true;
}

/* What an open-like call was asked: the path, what it is relative to, and
 * the flags and mode. */
struct open_args {
	const char *upath;
	long dirfd;
	__u64 flags;
	__u64 mode;
};

static __always_inline void open_args(struct pt_regs *regs, long nr, struct open_args *a)
{
	a->dirfd = AT_FDCWD;
	switch (nr) {
	case NR_open:
		a->upath = (const char *)PT_REGS_PARM1_SYSCALL(regs);
		a->flags = PT_REGS_PARM2_SYSCALL(regs);
		a->mode = PT_REGS_PARM3_SYSCALL(regs);
		break;
	case NR_creat:
		a->upath = (const char *)PT_REGS_PARM1_SYSCALL(regs);
		a->flags = O_CREAT;
		a->mode = PT_REGS_PARM2_SYSCALL(regs);
		break;
	case NR_openat:
		a->dirfd = (int)PT_REGS_PARM1_SYSCALL(regs);
		a->upath = (const char *)PT_REGS_PARM2_SYSCALL(regs);
		a->flags = PT_REGS_PARM3_SYSCALL(regs);
		a->mode = PT_REGS_PARM4_SYSCALL(regs);
		break;
	default: {  /* openat2: flags and mode come in a struct open_how */
		struct open_how how = {};

		a->dirfd = (int)PT_REGS_PARM1_SYSCALL(regs);
		a->upath = (const char *)PT_REGS_PARM2_SYSCALL(regs);
		bpf_probe_read_user(&how, sizeof(how), (void *)PT_REGS_PARM3_SYSCALL(regs));
		a->flags = how.flags;
		a->mode = how.mode;
	}
	}
}

static __always_inline void on_open(struct pt_regs *regs, long nr, struct task_state *st,
				    long fd, __u64 t1, __u64 t2)
{
	struct file *f = fd_file(fd);
	struct file_key key = {};
	struct record_place at = {};
	struct open_args a = {};
	struct meta_op m = { .counter = POSIX_OPENS, .also = -1,
			     .opening = true, .by_path = true };
	struct posix_record *r;

	if (!f || !file_key_of(f, st->proc, &key))
		return;
	open_args(regs, nr, &a);
	r = get_record(&key, f, 0, &at);
	if (r && !at.created && retire_if_reused(r, at.slot, &key, f, t1))
		r = get_record(&key, f, 0, &at);
	if (at.created || at.dropped)
		send_path(EV_OPEN, &key, t1, t2, a.upath, a.dirfd, at.dropped);
	if (!r)
		return;
	remember(st, &key, at.slot);  /* I/O on a new file follows its open */
	if (r->flags & RECORD_EXCLUDED)
		return;
	/* Darshan only sees a mode when the call creates files */
	if (a.flags & (O_CREAT | O_TMPFILE))
		m.mode = a.mode;
	count_meta(r, &m, t1, t2);
}

static __always_inline void on_dup(struct pt_regs *regs, long nr, struct task_state *st,
				   long fd, __u64 t1, __u64 t2)
{
	struct file *f = 0;
	struct posix_record *r;

	if (nr == NR_fcntl) {
		long cmd = PT_REGS_PARM2_SYSCALL(regs);

		if (cmd != F_DUPFD && cmd != F_DUPFD_CLOEXEC)
			return;
	}
	r = fd_record(st, fd, &f);
	if (r)
		count_meta(r, &dup_op, t1, t2);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(exit_open, struct pt_regs *regs, long ret)
{
	long nr = regs->orig_ax;
	struct task_state *st;
	__u64 t1, t2;

	st = handed_call(&t1, &t2);
	if (!st || ret < 0)
		return 0;
	switch (nr) {
	case NR_close:
		count_close(&st->closing, t1, t2);
		break;
	case NR_dup: case NR_dup2: case NR_dup3: case NR_fcntl:
		on_dup(regs, nr, st, ret, t1, t2);
		break;
	default:
		on_open(regs, nr, st, ret, t1, t2);
	}
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
