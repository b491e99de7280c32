/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Paths from the kernel's dentries.  bpf_d_path is refused in tp_btf
 * programs and assembling a whole path byte by byte runs into the
 * verifier's limits, so we copy one component per step, leaf first, and let
 * user space reverse them.  The walk stops at the task's own root, so a
 * process in a container gets the path it sees.
 */
#ifndef PATH_WALK_BPF_H
#define PATH_WALK_BPF_H

#include "ebpf_darshan.h"

#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)((void *)(ptr) - bpf_core_field_offset(type, member)))
#endif

/* Write the components of `path` into dst (room: WALK_BUF_LEN + NAME_COPY_MAX
 * bytes), each with its NUL.  Returns the bytes written. */
static __noinline __u32 walk_path(char *dst, const struct path *path, __u8 *truncated)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct dentry *root_dentry = BPF_CORE_READ(task, fs, root.dentry);
	struct vfsmount *root_mnt = BPF_CORE_READ(task, fs, root.mnt);
	struct dentry *dentry = BPF_CORE_READ(path, dentry);
	struct vfsmount *vfsmnt = BPF_CORE_READ(path, mnt);
	struct mount *mnt = container_of(vfsmnt, struct mount, mnt);
	__u32 off = 0;

	if (!dst)
		return 0;
	for (int i = 0; i < WALK_MAX_DEPTH; i++) {
		struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
		struct dentry *mnt_root = BPF_CORE_READ(mnt, mnt.mnt_root);
		const unsigned char *name;
		long n;

		if (dentry == root_dentry && &mnt->mnt == root_mnt)
			return off;
		if (dentry == mnt_root || dentry == parent) {
			struct mount *up = BPF_CORE_READ(mnt, mnt_parent);

			/* the top of the mount tree outside our root: done */
			if (up == mnt)
				return off;
			dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = up;
			continue;
		}
		if (off > WALK_BUF_LEN - NAME_COPY_MAX)
			break;
		name = BPF_CORE_READ(dentry, d_name.name);
		n = bpf_probe_read_kernel_str(dst + (off & (WALK_BUF_LEN - 1)),
					      NAME_COPY_MAX, name);
		if (n <= 0)
			break;
		off += n;
		dentry = parent;
	}
	*truncated = 1;
	return off;
}

#endif /* PATH_WALK_BPF_H */
