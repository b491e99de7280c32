// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The POSIX module's metadata calls, handed over by the exit dispatcher
 * (posix.bpf.c, slot EXIT_META): seeks, syncs, stats, and the calls
 * Darshan has no counter for but a job summary wants (renames, unlinks,
 * fallocate, ftruncate).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "ebpf_darshan.h"
#include "syscalls.bpf.h"
#include "posix_record.bpf.h"

/* Constants from the uapi headers, which vmlinux.h does not carry. */
#define AT_EMPTY_PATH 0x1000
#define AT_REMOVEDIR 0x200

static const struct meta_op seek_op = { .counter = POSIX_SEEKS, .also = -1 };

/* Counters plus META time on the record behind an fd. */
static __always_inline void count_fd_meta(struct task_state *st, long fd,
					  const struct meta_op *m, __u64 t1, __u64 t2)
{
	struct file *f = 0;
	struct posix_record *r = fd_record(st, fd, &f);

	if (r)
		count_meta(r, m, t1, t2);
}

/* fstatat/statx with AT_EMPTY_PATH and "" stat the fd itself (glibc's
 * fstat is made this way). */
static __always_inline bool empty_path_stat(struct task_state *st, long fd, const char *upath,
					    long flags, __u64 t1, __u64 t2)
{
	char first = 0;

	bpf_probe_read_user(&first, 1, upath);
	if (!(flags & AT_EMPTY_PATH) || first)
		return false;
	count_fd_meta(st, fd, &stat_op, t1, t2);
	return true;
}

/* The parts of x86-64's struct stat that identify a file. */
struct stat_head {
	__u64 dev;
	__u64 ino;
	__u64 nlink;
	__u32 mode;
	__u32 uid;
	__u32 gid;
	__u32 pad;
	__u64 rdev;
	__s64 size;
	__s64 blksize;
};

/* stat() reports the device as new_encode_dev() packs it. */
static __always_inline __u32 decode_dev(__u64 d)
{
	__u32 major = (d >> 8) & 0xfff;
	__u32 minor = (d & 0xff) | ((d >> 12) & 0xfff00);

	return (major << MINORBITS) | minor;
}

/* A stat by path: the file it found, from the buffer the kernel filled. */
struct stat_found {
	const char *upath;
	long dirfd;
	__u32 mode;
	__s64 blksize;
};

/* Fills key and out; false if the call was a stat of an fd (counted). */
static __always_inline bool stat_target(struct pt_regs *regs, long nr, struct task_state *st,
					struct file_key *key, struct stat_found *out,
					__u64 t1, __u64 t2)
{
	struct stat_head sb = {};
	void *buf;

	out->dirfd = AT_FDCWD;
	out->upath = (const char *)PT_REGS_PARM2_SYSCALL(regs);
	if (nr == NR_statx) {
		struct statx_id id = {};

		out->dirfd = (int)PT_REGS_PARM1_SYSCALL(regs);
		if (empty_path_stat(st, out->dirfd, out->upath, PT_REGS_PARM3_SYSCALL(regs), t1, t2))
			return false;
		read_statx_id((const struct statx *)PT_REGS_PARM5_SYSCALL(regs), &id);
		out->mode = id.mode;
		out->blksize = id.blksize;
		key->dev = statx_dev(&id);
		key->ino = id.ino;
		return true;
	}
	if (nr == NR_newfstatat) {
		out->dirfd = (int)PT_REGS_PARM1_SYSCALL(regs);
		buf = (void *)PT_REGS_PARM3_SYSCALL(regs);
		if (empty_path_stat(st, out->dirfd, out->upath, PT_REGS_PARM4_SYSCALL(regs), t1, t2))
			return false;
	} else {
		out->upath = (const char *)PT_REGS_PARM1_SYSCALL(regs);
		buf = (void *)PT_REGS_PARM2_SYSCALL(regs);
	}
	bpf_probe_read_user(&sb, sizeof(sb), buf);
	out->mode = sb.mode;
	out->blksize = sb.blksize;
	key->dev = decode_dev(sb.dev);
	key->ino = sb.ino;
	return true;
}

static __always_inline void on_stat_path(struct pt_regs *regs, long nr, struct task_state *st,
					 __u64 t1, __u64 t2)
{
	struct file_key key = { .proc = st->proc };
	struct stat_found found = {};
	struct record_place at = {};
	struct posix_record *r;

	if (!stat_target(regs, nr, st, &key, &found, t1, t2))
		return;
	if ((found.mode & S_IFMT) != S_IFREG)
		return;
	r = get_record(&key, 0, found.blksize, &at);
	if (at.created || at.dropped)
		send_path(EV_STAT, &key, t1, t2, found.upath, found.dirfd, at.dropped);
	if (r && !(r->flags & RECORD_EXCLUDED))
		count_meta(r, &stat_op, t1, t2);
}

static __always_inline void on_rename(struct pt_regs *regs, long nr, __u32 proc,
				      __u64 t1, __u64 t2)
{
	struct file_key key = { .proc = proc };
	long olddir = AT_FDCWD, newdir = AT_FDCWD;
	const char *oldp, *newp;

	if (nr == NR_rename) {
		oldp = (const char *)PT_REGS_PARM1_SYSCALL(regs);
		newp = (const char *)PT_REGS_PARM2_SYSCALL(regs);
	} else {
		olddir = (int)PT_REGS_PARM1_SYSCALL(regs);
		oldp = (const char *)PT_REGS_PARM2_SYSCALL(regs);
		newdir = (int)PT_REGS_PARM3_SYSCALL(regs);
		newp = (const char *)PT_REGS_PARM4_SYSCALL(regs);
	}
	send_path(EV_RENAME_SRC, &key, t1, t2, oldp, olddir, false);
	send_path(EV_RENAME_DST, &key, t1, t2, newp, newdir, false);
}

/* Unlinks go to user space, which alone knows which names are excluded. */
static __always_inline void on_unlink(struct pt_regs *regs, long nr, __u32 proc,
				      __u64 t1, __u64 t2)
{
	struct file_key key = { .proc = proc };

	if (nr == NR_unlink) {
		send_path(EV_UNLINK, &key, t1, t2, (const char *)PT_REGS_PARM1_SYSCALL(regs),
			  AT_FDCWD, false);
		return;
	}
	if (PT_REGS_PARM3_SYSCALL(regs) & AT_REMOVEDIR)
		return;
	send_path(EV_UNLINK, &key, t1, t2, (const char *)PT_REGS_PARM2_SYSCALL(regs),
		  (int)PT_REGS_PARM1_SYSCALL(regs), false);
}

/* fallocate and ftruncate of traced files: Darshan has no counter. */
static __always_inline void on_resize(struct pt_regs *regs, long nr, struct task_state *st)
{
	struct file *f = 0;

	if (!fd_record(st, PT_REGS_PARM1_SYSCALL(regs), &f))
		return;
	if (nr == NR_ftruncate) {
		extra_add(X_FTRUNCATE_CALLS, 1);
		return;
	}
	extra_add(X_FALLOCATE_CALLS, 1);
	extra_add(X_FALLOCATE_BYTES, PT_REGS_PARM4_SYSCALL(regs));
}

static __always_inline void on_sync(struct task_state *st, long fd, int counter,
				    __u64 t1, __u64 t2)
{
	struct file *f = 0;

	count_sync(fd_record(st, fd, &f), counter, t1, t2);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(exit_meta, struct pt_regs *regs, long ret)
{
	long nr = regs->orig_ax;
	struct task_state *st;
	__u64 t1, t2;

	st = handed_call(&t1, &t2);
	if (!st || ret < 0)
		return 0;
	switch (nr) {
	case NR_lseek:
		count_fd_meta(st, PT_REGS_PARM1_SYSCALL(regs), &seek_op, t1, t2);
		break;
	case NR_fsync:
		on_sync(st, PT_REGS_PARM1_SYSCALL(regs), POSIX_FSYNCS, t1, t2);
		break;
	case NR_fdatasync:
		on_sync(st, PT_REGS_PARM1_SYSCALL(regs), POSIX_FDSYNCS, t1, t2);
		break;
	case NR_fstat:
		count_fd_meta(st, PT_REGS_PARM1_SYSCALL(regs), &stat_op, t1, t2);
		break;
	case NR_stat: case NR_lstat: case NR_newfstatat: case NR_statx:
		on_stat_path(regs, nr, st, t1, t2);
		break;
	case NR_rename: case NR_renameat: case NR_renameat2:
		on_rename(regs, nr, st->proc, t1, t2);
		break;
	case NR_unlink: case NR_unlinkat:
		on_unlink(regs, nr, st->proc, t1, t2);
		break;
	case NR_fallocate: case NR_ftruncate:
		on_resize(regs, nr, st);
		break;
	}
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
