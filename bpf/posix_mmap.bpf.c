// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Memory-mapped files.  The mmap call itself is handed over by the exit
 * dispatcher (posix.bpf.c, slot EXIT_MMAP): Darshan's POSIX_MMAPS, and the
 * moment a library of interest is mapped (library_hold.bpf.h).  The bytes
 * that later move through a file mapping pass through no system call; the
 * page-cache tracepoints see them in the faulting task's context.  Only
 * files that have a record count, and excluded ones are dropped by user
 * space with their record.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "ebpf_darshan.h"
#include "syscalls.bpf.h"
#include "posix_record.bpf.h"
#include "library_hold.bpf.h"

#define MAP_ANONYMOUS 0x20
#define PAGE_BYTES 4096

SEC("tp_btf/sys_exit")
int BPF_PROG(exit_mmap, struct pt_regs *regs, long ret)
{
	struct task_state *st;
	struct posix_record *r;
	struct file *f = 0;
	__u64 t1, t2;

	st = handed_call(&t1, &t2);
	if (!st || (unsigned long)ret >= (unsigned long)-MAX_ERRNO ||
	    (PT_REGS_PARM4_SYSCALL(regs) & MAP_ANONYMOUS))
		return 0;
	hold_library_map(st->proc, PT_REGS_PARM3_SYSCALL(regs), PT_REGS_PARM5_SYSCALL(regs));
	r = fd_record(st, PT_REGS_PARM5_SYSCALL(regs), &f);
	if (r)
		__sync_fetch_and_add(&r->counters[POSIX_MMAPS], 1);
	return 0;
}

static __always_inline struct posix_record *mapping_record(struct address_space *mapping,
							   __u32 proc)
{
	struct inode *inode = mapping ? mapping->host : 0;
	struct file_key key = { .proc = proc };

	if (!inode || (inode->i_mode & S_IFMT) != S_IFREG)
		return 0;
	key.dev = inode->i_sb->s_dev;
	key.ino = inode->i_ino;
	return find_record(&key);
}

static __always_inline void mapped_bytes(struct address_space *mapping, __u64 bytes, bool dirtied)
{
	struct task_state *st = traced_task(bpf_get_current_task_btf());
	struct posix_record *r;

	/* Inside a watched call, or a stdio call's, dirtying is a write's. */
	if (!st || (dirtied && (st->start_ns || st->stdio_depth)))
		return;
	r = mapping_record(mapping, st->proc);
	if (!r)
		return;
	if (dirtied)
		__sync_fetch_and_add(&r->mmap_dirtied_bytes, bytes);
	else
		__sync_fetch_and_add(&r->mmap_read_bytes, bytes);
}

/* A page fault the page cache had to serve page by page. */
SEC("tp_btf/mm_filemap_fault")
int BPF_PROG(mmap_fault, struct address_space *mapping, unsigned long index)
{
	mapped_bytes(mapping, PAGE_BYTES, false);
	return 0;
}

/* Fault-around: a window of cached pages mapped at once. */
SEC("tp_btf/mm_filemap_map_pages")
int BPF_PROG(mmap_fault_around, struct address_space *mapping, unsigned long start,
	     unsigned long end)
{
	if (end >= start)
		mapped_bytes(mapping, (end - start + 1) * PAGE_BYTES, false);
	return 0;
}

/* A clean page became dirty. */
SEC("tp_btf/writeback_dirty_folio")
int BPF_PROG(mmap_dirty, struct folio *folio, struct address_space *mapping)
{
	mapped_bytes(mapping, PAGE_BYTES, true);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
