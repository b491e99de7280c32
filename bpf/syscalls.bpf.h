/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The system calls the POSIX module watches, and how the exit dispatcher
 * (posix.bpf.c) sorts them: reads and writes are counted by the dispatcher
 * itself, the rest go to the program of their exit_slot.
 */
#ifndef SYSCALLS_BPF_H
#define SYSCALLS_BPF_H

#include "ebpf_darshan.h"

#ifndef __TARGET_ARCH_x86
#error "syscall numbers below are x86-64's"
#endif

/* x86-64 system call numbers of the calls Darshan's POSIX module covers. */
enum {
	NR_read = 0, NR_write = 1, NR_open = 2, NR_close = 3, NR_stat = 4,
	NR_fstat = 5, NR_lstat = 6, NR_lseek = 8, NR_mmap = 9,
	NR_pread64 = 17, NR_pwrite64 = 18, NR_readv = 19, NR_writev = 20,
	NR_dup = 32, NR_dup2 = 33, NR_sendfile = 40, NR_clone = 56,
	NR_fork = 57, NR_vfork = 58, NR_fcntl = 72, NR_fsync = 74,
	NR_fdatasync = 75, NR_ftruncate = 77, NR_rename = 82, NR_creat = 85,
	NR_unlink = 87, NR_openat = 257, NR_newfstatat = 262, NR_unlinkat = 263,
	NR_renameat = 264, NR_splice = 275, NR_fallocate = 285, NR_dup3 = 292,
	NR_preadv = 295, NR_pwritev = 296, NR_renameat2 = 316,
	NR_copy_file_range = 326, NR_preadv2 = 327, NR_pwritev2 = 328,
	NR_statx = 332, NR_io_uring_enter = 426, NR_clone3 = 435, NR_close_range = 436,
	NR_openat2 = 437,
};

/* Classes the dispatcher handles without a tail call; below EXIT_SLOTS a
 * class is the slot of the program that handles it. */
enum call_class {
	C_READ = EXIT_SLOTS,
	C_WRITE,
	C_CLONE,        /* a new process returns from fork: maybe held */
	C_CLOSE_RANGE,  /* counted at entry: the fds are gone by exit */
	C_URING_ENTER,  /* only marks the task as inside a system call */
	C_NONE,
};

static __always_inline int classify(long nr)
{
	switch (nr) {
	case NR_read: case NR_pread64: case NR_readv: case NR_preadv:
	case NR_preadv2:
		return C_READ;
	case NR_write: case NR_pwrite64: case NR_writev: case NR_pwritev:
	case NR_pwritev2:
		return C_WRITE;
	case NR_open: case NR_openat: case NR_openat2: case NR_creat:
	case NR_close:
	case NR_dup: case NR_dup2: case NR_dup3: case NR_fcntl:
		return EXIT_OPEN;
	case NR_lseek: case NR_fsync: case NR_fdatasync:
	case NR_stat: case NR_lstat: case NR_newfstatat: case NR_statx: case NR_fstat:
	case NR_rename: case NR_renameat: case NR_renameat2:
	case NR_unlink: case NR_unlinkat:
	case NR_fallocate: case NR_ftruncate:
		return EXIT_META;
	case NR_sendfile: case NR_copy_file_range: case NR_splice:
		return EXIT_COPY;
	case NR_mmap:
		return EXIT_MMAP;
	case NR_close_range:
		return C_CLOSE_RANGE;
	case NR_io_uring_enter:
		return C_URING_ENTER;
	case NR_clone: case NR_fork: case NR_vfork: case NR_clone3:
		return C_CLONE;
	}
	return C_NONE;
}

#endif /* SYSCALLS_BPF_H */
