/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * File names given to MPI-IO and HDF5 may carry a ROMIO file-system prefix
 * ("ufs:", "nfs:", "lustre:").  Darshan's MPI-IO and HDF5 modules drop
 * everything up to the first ':' when that colon is past the second
 * character (so "c:\..." keeps its drive letter); we do the same before the
 * name is sent.
 */
#ifndef ROMIO_PREFIX_BPF_H
#define ROMIO_PREFIX_BPF_H

#include "ebpf_darshan.h"

struct name_copy {
	char buf[PATH_BUF_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct name_copy);
} name_copies SEC(".maps");

struct colon_scan {
	struct name_copy *copy;
	long len;
	long colon;
};

static long find_colon(__u64 i, void *arg)
{
	struct colon_scan *s = arg;

	if (i >= (__u64)s->len)
		return 1;
	if (s->copy->buf[i & (PATH_BUF_LEN - 1)] == ':') {
		s->colon = i;
		return 1;
	}
	return 0;
}

/* name, or the part of it after a ROMIO prefix. */
static __always_inline const char *strip_romio_prefix(const char *name)
{
	__u32 zero = 0;
	struct colon_scan s = { .colon = -1 };

	s.copy = bpf_map_lookup_elem(&name_copies, &zero);
	if (!s.copy)
		return name;
	s.len = bpf_probe_read_user_str(s.copy->buf, PATH_BUF_LEN, name);
	if (s.len <= 0)
		return name;
	bpf_loop(PATH_BUF_LEN, find_colon, &s, 0);
	return s.colon > 1 ? name + s.colon + 1 : name;
}

#endif /* ROMIO_PREFIX_BPF_H */
