/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Files as every module sees them: the struct file behind an fd, the
 * (process, device, inode) key of a regular file, and the events that give
 * a record its name (the path the application gave, or the kernel's path of
 * the file).  Shared by the syscall module and the library layers, so a file
 * has one key and one name whichever layer met it first.
 */
#ifndef FILE_EVENTS_BPF_H
#define FILE_EVENTS_BPF_H

#include "ebpf_darshan.h"
#include "shared_maps.bpf.h"
#include "path_walk.bpf.h"

/* Constants from the uapi headers, which vmlinux.h does not carry. */
#define AT_FDCWD -100
#define S_IFMT 0170000
#define S_IFREG 0100000

/*
 * Reading through a struct file.  The file pointer comes out of the fd array
 * by a probe read, so it is a plain number to the verifier.  Where the
 * kernel has bpf_rdonly_cast (6.2+) we turn it back into a typed pointer and
 * follow fields with plain loads, which costs a fraction of a probe read
 * each; posix_compat.bpf.o is built without it for older kernels.
 */
#ifdef DIRECT_FILE_READS
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;
#define typed(p, type) ((type *)bpf_rdonly_cast((p), bpf_core_type_id_kernel(type)))
#define FILE_READ(src, a, ...) ___arrow(src, a, ##__VA_ARGS__)
#else
#define typed(p, type) ((type *)(p))
#define FILE_READ(src, a, ...) BPF_CORE_READ(src, a, ##__VA_ARGS__)
#endif
#define typed_file(f) typed(f, struct file)

/* The file behind fd.  tp_btf lets us follow the task's BTF pointers with
 * plain loads; only the fd array slot needs a probe read. */
static __always_inline struct file *fd_file(long fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = task->files->fdt;
	struct file *f = 0;

	if (fd < 0 || fd >= fdt->max_fds)
		return 0;
	bpf_probe_read_kernel(&f, sizeof(f), &fdt->fd[fd]);
	return f ? typed_file(f) : 0;
}

/* Fill key for a regular file; anything else (pipes, sockets, devices,
 * directories) is not a Darshan POSIX record. */
static __always_inline bool file_key_of(struct file *f, __u32 proc, struct file_key *key)
{
	struct inode *inode = FILE_READ(f, f_inode);

	if (!inode || (FILE_READ(inode, i_mode) & S_IFMT) != S_IFREG)
		return false;
	key->proc = proc;
	key->dev = FILE_READ(inode, i_sb, s_dev);
	key->ino = FILE_READ(inode, i_ino);
	return true;
}

static __always_inline void fill_event(struct event *e, __u32 kind,
				       struct file_key *key, __u64 t1, __u64 t2)
{
	__u64 id = bpf_get_current_pid_tgid();

	e->kind = kind;
	e->proc = key->proc;
	e->key = *key;
	e->start_ns = t1;
	e->end_ns = t2;
	e->pid = id >> 32;
	e->tid = (__u32)id;
}

/* A path event: the path as the application gave it and, when it is
 * relative, the directory it is relative to (cwd or dirfd). */
static __noinline void emit_path_event(struct event *e, const char *upath, long dirfd)
{
	const struct path *base = 0;
	char *p;
	long n;

	if (!e)
		return;
	p = (char *)(e + 1);
	n = bpf_probe_read_user_str(p, PATH_BUF_LEN, upath);
	if (n < 0 || n > PATH_BUF_LEN)
		n = 0;
	e->path_len = n;
	if (n > 0 && p[0] != '/') {
		if (dirfd == AT_FDCWD) {
			struct fs_struct *fs = BPF_CORE_READ(bpf_get_current_task_btf(), fs);

			base = &fs->pwd;
		} else {
			struct file *dir = fd_file(dirfd);

			if (dir)
				base = &dir->f_path;
		}
	}
	if (base)
		e->walk_len = walk_path(p + n, base, &e->walk_truncated);
	emit_event(e, sizeof(*e) + n + e->walk_len);
}

/* The name of a new record of module `layer` (enum layer_id). */
static __always_inline void send_layer_path(__u8 layer, __u32 kind, struct file_key *key,
					    __u64 t1, __u64 t2, const char *upath,
					    long dirfd, bool dropped)
{
	struct event *e = scratch_event();

	if (!e)
		return;
	fill_event(e, kind, key, t1, t2);
	e->record_dropped = dropped;
	e->layer = layer;
	emit_path_event(e, upath, dirfd);
}

static __always_inline void send_path(__u32 kind, struct file_key *key,
				     __u64 t1, __u64 t2, const char *upath,
				     long dirfd, bool dropped)
{
	send_layer_path(LAYER_POSIX, kind, key, t1, t2, upath, dirfd, dropped);
}

/* A file met through an fd we never saw opened (inherited, or open before
 * tracing began): its name comes from the kernel's dentries. */
static __noinline void emit_layer_file_event(__u8 layer, struct file_key *key, struct file *f)
{
	struct event *e = scratch_event();

	if (!e)
		return;
	fill_event(e, EV_FILE, key, 0, 0);
	e->layer = layer;
	e->walk_len = walk_path((char *)(e + 1), &f->f_path, &e->walk_truncated);
	emit_event(e, sizeof(*e) + e->walk_len);
}

static __always_inline void emit_file_event(struct file_key *key, struct file *f)
{
	emit_layer_file_event(LAYER_POSIX, key, f);
}

#endif /* FILE_EVENTS_BPF_H */
