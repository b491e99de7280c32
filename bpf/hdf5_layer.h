/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The HDF5 layer's contract with user space (bpf_layout.py mirrors it).
 *
 * HDF5 identifiers (hid_t) are opaque: what a dataset selection holds or
 * how big its datatype is can only be asked of the library, which a probe
 * cannot call.  The kernel therefore counts what the calls themselves show
 * (opens, reads, writes, flushes, closes, their times, read/write switches,
 * the deprecated open variants, and the dataspace and chunk shapes the
 * application gave when it created a dataset) and user space writes -1 for
 * the counters that need the library's answers (docs/counters.md).
 */
#ifndef HDF5_LAYER_H
#define HDF5_LAYER_H

#include "ebpf_darshan.h"

/* What a probed function does, in the low byte of its probe's cookie. */
enum h5_op {
	H5_FILE_CREATE = 1,   /* H5Fcreate(name, flags, fcpl, fapl) -> file id */
	H5_FILE_OPEN = 2,     /* H5Fopen(name, flags, fapl) -> file id */
	H5_FILE_FLUSH = 3,    /* H5Fflush(object id, scope) */
	H5_FILE_CLOSE = 4,    /* H5Fclose(file id) */
	H5_GROUP_OPEN = 5,    /* H5Gcreate/H5Gopen(loc, name, ...) -> group id */
	H5_DSET_OPEN = 6,     /* H5Dcreate/H5Dopen(loc, name, ...) -> dataset id */
	H5_OBJECT_OPEN = 7,   /* H5Oopen(loc, name, lapl): a dataset or a group, or neither */
	H5_DSET_READ = 8,     /* H5Dread(dataset, ...) */
	H5_DSET_WRITE = 9,    /* H5Dwrite(dataset, ...) */
	H5_DSET_FLUSH = 10,   /* H5Dflush(dataset) */
	H5_OBJECT_CLOSE = 11, /* H5Dclose, H5Gclose, H5Oclose, H5Sclose, H5Pclose(id) */
	H5_SPACE_CREATE = 12, /* H5Screate_simple(rank, dims, maxdims) -> dataspace id */
	H5_PLIST_CREATE = 13, /* H5Pcreate(class) -> property list id */
	H5_PLIST_COPY = 14,   /* H5Pcopy(plist) -> property list id */
	H5_SET_CHUNK = 15,    /* H5Pset_chunk(dcpl, ndims, dims) */
	H5_SET_LAYOUT = 16,   /* H5Pset_layout(dcpl, layout) */
	H5_ID_RELEASE = 17,   /* H5Idec_ref(id) -> references left */
};

/* Cookie flags: the open is one of the deprecated H5Dcreate1/H5Dopen1;
 * the library is a parallel build (H5Pset_fapl_mpio exists), so whether
 * MPI-IO is used cannot be told from outside. */
#define H5_DEPRECATED (1 << 8)
#define H5_PARALLEL_LIB (1 << 9)
/* The open creates the dataset: H5Dcreate2(loc, name, type, space, lcpl,
 * dcpl, dapl) or H5Dcreate1(loc, name, type, space, dcpl). */
#define H5_CREATE (1 << 10)
#define H5_OP(c) ((c) & 0xff)

/* hid_t: the identifier's type is in the bits above H5I_ID_BITS (HDF5
 * 1.8-1.14: 7 type bits under the sign bit). */
#define H5I_ID_BITS 56
#define H5I_TYPE_MASK 0x7f
#define H5I_GROUP 2
#define H5I_DATASET 5

/* Darshan keeps the chunk shape of five dimensions, D1 the last one. */
#define H5D_MAX_DIMS 5
#define H5S_MAX_RANK 32
#define H5D_CHUNKED 2
#define H5P_DEFAULT 0

/* What the application said of a dataspace (Screate_simple) or a dataset
 * creation property list (Pcreate, Pcopy, Pset_chunk, Pset_layout). */
struct h5_shape {
	__s64 ndims;
	__s64 npoints;
	__s64 chunk[H5D_MAX_DIMS];
};

enum h5_kind {
	H5K_FILE = 1,
	H5K_GROUP = 2,
	H5K_DATASET = 3,
};

/* Records are keyed (proc, kind device, serial): one per successful open,
 * merged by name in user space.  Groups have no record, only a name event
 * (their path names the datasets opened through them). */
#define H5F_DEV 0xfffffffcU
#define H5G_DEV 0xfffffffbU
#define H5D_DEV 0xfffffffaU

/* Open identifiers of a process -> what they are. */
struct h5_id_key {
	__u32 proc;
	__u32 pad;
	__s64 hid;
};

struct h5_object {
	__u64 serial;
	__u64 file_serial;  /* the H5F record of the file the object is in */
	__u32 kind;         /* enum h5_kind */
	__u32 pad;
};

/* H5F float counters, in Darshan's order. */
enum h5f_time {
	H5F_T_OPEN_START = 0,
	H5F_T_CLOSE_START = 1,
	H5F_T_OPEN_END = 2,
	H5F_T_CLOSE_END = 3,
	H5F_T_META_TIME = 4,
	H5F_NUM_TIMES = 5,
};

struct h5f_record {
	__s64 opens;
	__s64 flushes;
	__s64 use_mpiio;  /* 0 for a serial library, -1 (unknown) for a parallel one */
	__s64 times[H5F_NUM_TIMES];
	__u64 last_meta_end;
	__u64 open_ns;
};

/* Name events of datasets and groups are EV_FILE events whose walk is one
 * component, the name as the application gave it (user space sees "/" +
 * name), keyed (proc, H5D_DEV or H5G_DEV, serial | loc serial << 32): loc
 * is the file or group the name is relative to.  Serials stay below 2^32. */
#define H5_LOC_SHIFT 32
#define H5_SERIAL_MASK 0xffffffffULL

/* Times at the index of the Darshan H5D float counter (enum posix_time). */
struct h5d_record {
	__u32 flags;
	__u32 first_io_type;  /* merged records add the read/write switch between them */
	__s64 opens;
	__s64 reads;
	__s64 writes;
	__s64 flushes;
	__s64 rw_switches;
	__s64 use_deprecated;
	__s64 use_mpiio_collective;  /* as h5f_record.use_mpiio */
	__s64 times[T_NUM_TIMES];
	__u64 last_read_end;
	__u64 last_write_end;
	__u64 last_meta_end;
	__u64 last_io_type;
	__u64 open_ns;
	__u64 file_serial;
	struct h5_shape shape;  /* from the create; -1 for opens */
};

#endif /* HDF5_LAYER_H */
