/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The MPI-IO layer's contract with user space (bpf_layout.py mirrors it).
 */
#ifndef MPIIO_LAYER_H
#define MPIIO_LAYER_H

#include "ebpf_darshan.h"

/* Darshan's MPI-IO module (version 3) has 51 integer counters.  The kernel
 * keeps the first 39 at their Darshan indices; the access-size table is
 * chosen in user space from `access`, the rank counters only exist for
 * shared records. */
#define MPIIO_KERNEL_COUNTERS 39

enum mpiio_counter {
	MPIIO_INDEP_OPENS = 0,
	MPIIO_COLL_OPENS = 1,
	MPIIO_INDEP_READS = 2,
	MPIIO_INDEP_WRITES = 3,
	MPIIO_COLL_READS = 4,
	MPIIO_COLL_WRITES = 5,
	MPIIO_SPLIT_READS = 6,
	MPIIO_SPLIT_WRITES = 7,
	MPIIO_NB_READS = 8,
	MPIIO_NB_WRITES = 9,
	MPIIO_SYNCS = 10,
	MPIIO_HINTS = 11,
	MPIIO_VIEWS = 12,
	MPIIO_MODE = 13,
	MPIIO_BYTES_READ = 14,
	MPIIO_BYTES_WRITTEN = 15,
	MPIIO_RW_SWITCHES = 16,
	MPIIO_MAX_READ_TIME_SIZE = 17,
	MPIIO_MAX_WRITE_TIME_SIZE = 18,
	MPIIO_SIZE_READ_AGG_0_100 = 19,
	MPIIO_SIZE_WRITE_AGG_0_100 = 29,
};

/* What a probed function does, in the low byte of its probe's cookie. */
enum mpiio_op {
	MIO_OPEN = 1,      /* (comm, filename, amode, info, MPI_File *fh) */
	MIO_CLOSE = 2,     /* (MPI_File *fh) */
	MIO_SYNC = 3,      /* (fh) */
	MIO_SET_VIEW = 4,  /* (fh, disp, etype, filetype, datarep, info) */
	MIO_RESIZE = 5,    /* set_size, preallocate: (fh, size) */
	MIO_READ = 6,
	MIO_WRITE = 7,
};

/* Cookie layout: op | counter << 8 | MIO_AT | MIO_LARGE_COUNT | abi << 24.  The counter is
 * the one a read or write increments (INDEP, COLL, SPLIT or NB); MIO_AT
 * marks the explicit-offset shape (fh, offset, buf, count, datatype),
 * the others are (fh, buf, count, datatype). */
#define MIO_AT (1 << 16)
/* MPI 4 `_c` variants take an MPI_Count (64 bits) instead of an int. */
#define MIO_LARGE_COUNT (1 << 17)
#define MIO_FIELD_MASK 0xff
#define MIO_COUNTER_SHIFT 8
#define MIO_ABI_SHIFT 24
#define MIO_OP(c) ((c) & MIO_FIELD_MASK)
#define MIO_COUNTER(c) (((c) >> MIO_COUNTER_SHIFT) & MIO_FIELD_MASK)
#define MIO_ABI(c) (((c) >> MIO_ABI_SHIFT) & MIO_FIELD_MASK)

/* How the library represents handles, decided per library by user space. */
enum mpi_abi {
	ABI_OPENMPI = 1,  /* handles are pointers to the library's objects */
	ABI_MPICH = 2,    /* handles are ints; predefined ones encode their size */
};

/* Records are keyed (proc, MPIIO_DEV, open serial): one per successful
 * open, merged by name in user space. */
#define MPIIO_DEV 0xfffffffdU

struct mpiio_handle_key {
	__u32 proc;
	__u32 pad;
	__u64 handle;  /* MPI_File as the library gave it */
};

/* Counters are updated with atomics (uprobe programs may not take spin
 * locks); timers, stamps and the access table of calls racing on one
 * handle from two threads may lose an update. */
struct mpiio_record {
	__u32 flags;
	__u32 first_io_type;  /* enum io_type of the first access: merged records add the switch */
	__s64 counters[MPIIO_KERNEL_COUNTERS];
	__s64 times[T_NUM_TIMES];
	__u64 last_read_end;
	__u64 last_write_end;
	__u64 last_meta_end;
	__u64 last_io_type;
	__u64 open_ns;        /* start of the open that made the record: merge order */
	__s64 unknown_sizes;  /* accesses whose datatype size could not be read */
	struct value_slot access[VALUE_TABLE_SLOTS];
};

#endif /* MPIIO_LAYER_H */
