/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Library probes go on the copy of a library each traced process really
 * maps, and a process must not call into it before they are in place.  Two
 * moments need a hold (process_hold.bpf.h), both seen at system call exit:
 *  - a library of interest is mapped executable (ld.so at startup, or
 *    dlopen later): its text is mapped, nothing of it has run yet;
 *  - a new process returns from fork in its own context: it has its
 *    parent's libraries but not its parent's probes (uprobes filter by
 *    address space).  Threads and vfork children share the address space,
 *    and so the probes, and are not held.
 * Nothing here runs unless user space turned a library layer on.
 */
#ifndef LIBRARY_HOLD_BPF_H
#define LIBRARY_HOLD_BPF_H

#include "ebpf_darshan.h"
#include "file_events.bpf.h"
#include "process_hold.bpf.h"

#define PROT_EXEC 0x4

/* Set by user space when a library layer is on. */
const volatile bool hold_libraries = false;
/* Set by user space when the probes of a library file, once attached, fire
 * in every process that maps it (a node's recorder, which traces nearly
 * all of them): a process is held only to map a file not probed yet, and
 * a forked child, which has its parent's libraries, never. */
const volatile bool probes_shared = false;
/* Basename prefixes of the libraries of interest; "" ends the list. */
const volatile char hold_prefixes[HOLD_PREFIXES][HOLD_PREFIX_LEN] = {};
/* Command names of processes never held (see HOLD_SKIP_COMMS). */
const volatile char hold_skip_comms[HOLD_SKIP_COMMS][COMM_LEN] = {};

static __always_inline bool hold_skipped(void)
{
	char comm[COMM_LEN] = {};

	bpf_get_current_comm(comm, sizeof(comm));
	for (int c = 0; c < HOLD_SKIP_COMMS; c++) {
		bool match = hold_skip_comms[c][0] != 0;

		for (int i = 0; i < COMM_LEN && match; i++) {
			match = comm[i] == hold_skip_comms[c][i];
			if (!comm[i])
				break;
		}
		if (match)
			return true;
	}
	return false;
}

static __always_inline bool library_of_interest(struct file *f)
{
	char name[HOLD_PREFIX_LEN] = {};

	bpf_probe_read_kernel_str(name, sizeof(name),
				  BPF_CORE_READ(f, f_path.dentry, d_name.name));
	for (int p = 0; p < HOLD_PREFIXES; p++) {
		bool match = hold_prefixes[p][0] != 0;

		for (int i = 0; i < HOLD_PREFIX_LEN && match && hold_prefixes[p][i]; i++)
			match = name[i] == hold_prefixes[p][i];
		if (match)
			return true;
	}
	return false;
}

static __always_inline void hold_current(__u32 kind, __u32 proc, struct file_key *key)
{
	struct event *e = scratch_event();
	__u64 id = bpf_get_current_pid_tgid();

	if (!e || hold_skipped())
		return;
	e->kind = kind;
	e->proc = proc;
	if (key)
		e->key = *key;
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->start_ns = bpf_ktime_get_ns();
	e->end_ns = e->start_ns;
	emit_held(e, sizeof(*e));
}

/* At the exit of a successful file mmap. */
static __always_inline void hold_library_map(__u32 proc, long prot, long fd)
{
	struct file_key key = {};
	struct file *f;

	if (!hold_libraries || !(prot & PROT_EXEC))
		return;
	f = fd_file(fd);
	if (!f || !file_key_of(f, 0, &key))
		return;
	if (probes_shared && bpf_map_lookup_elem(&probed_libraries, &key))
		return;
	if (!library_of_interest(f))
		return;
	key.proc = proc;
	hold_current(EV_LIB_MAP, proc, &key);
}

/* At the exit of fork/clone, in the child (return value 0). */
static __always_inline void hold_forked_process(__u32 proc)
{
	struct task_struct *task = bpf_get_current_task_btf();

	if (!hold_libraries || probes_shared || task->pid != task->tgid ||
	    task->mm == task->real_parent->mm)
		return;
	hold_current(EV_FORKED, proc, 0);
}

#endif /* LIBRARY_HOLD_BPF_H */
