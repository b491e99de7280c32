// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The MPI-IO module: uprobes on the MPI library each traced process maps
 * (libmpi; attached per process by user space, see library_probes.py),
 * counted with Darshan's MPI-IO rules.  MPI_File_x and PMPI_File_x are one
 * function in the libraries we probe, so an application calling either is
 * seen once.  Two programs serve every function: the entry notes the
 * arguments (the probe's cookie says which function it is, see
 * mpiio_layer.h), the return counts the call if it succeeded.
 *
 * Bytes are count x datatype size, as Darshan's PMPI_Type_size gives them.
 * The size is read from the library's own object: for Open MPI the
 * datatype handle points at an ompi_datatype_t whose size field is
 * MPI_Type_size for predefined and derived types alike; for MPICH the
 * handle of a predefined type encodes its size, and derived types (which
 * live in the library's object tables) are counted as unknown.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "ebpf_darshan.h"
#include "shared_maps.bpf.h"
#include "file_events.bpf.h"
#include "darshan_timing.bpf.h"
#include "darshan_tables.bpf.h"
#include "romio_prefix.bpf.h"
#include "uprobe_args.bpf.h"
#include "uprobe_layer.bpf.h"
#include "mpiio_layer.h"

#define MAX_MPIIO_RECORDS_DEFAULT 4096
#define MPI_SUCCESS 0

/* Open MPI object layouts, set by user space (layers/mpiio.py, checked
 * against the installed headers by tests/test_mpiio.py): ompi_datatype_t
 * starts with an opal_datatype_t whose `size` is MPI_Type_size; a
 * communicator's size is c_local_group->grp_proc_count; MPI_INFO_NULL is
 * the info object with Fortran index 0. */
const volatile __u32 ompi_datatype_size_offset;
const volatile __u32 ompi_comm_local_group_offset;
const volatile __u32 ompi_group_size_offset;
const volatile __u32 ompi_info_f2c_offset;

/* MPICH handles: the top two bits are the handle kind; a predefined
 * ("builtin") datatype keeps its size in bits 8-15. */
#define MPICH_KIND_SHIFT 30
#define MPICH_KIND_MASK 0x3
#define MPICH_KIND_BUILTIN 0x1
#define MPICH_BUILTIN_SIZE(h) (((h) >> 8) & 0xff)
#define MPICH_DATATYPE_NULL 0x0c000000
#define MPICH_COMM_SELF 0x44000001
#define MPICH_INFO_NULL 0x1c000000
#define SIZE_UNKNOWN (-1)
#define UNKNOWN_OFFSET (-1)

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, MAX_MPIIO_RECORDS_DEFAULT);
	__type(key, struct file_key);
	__type(value, struct mpiio_record);
} mpiio_records SEC(".maps");

ZERO_RECORD(mpiio_zero, struct mpiio_record);

/* Open MPI_File handles -> the serial of their record. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_MPIIO_RECORDS_DEFAULT);
	__type(key, struct mpiio_handle_key);
	__type(value, __u64);
} mpiio_handles SEC(".maps");

/* The last serial handed out. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} mpiio_serial SEC(".maps");

/* The outermost MPI-IO call in flight on a thread. */
struct mpiio_call {
	__u64 start_ns;
	__u64 fh;         /* handle; for open, where the library writes it */
	__u64 name;       /* open: the file name */
	__u64 comm;       /* open */
	__u64 info;       /* open, set_view */
	__u64 datatype;   /* read, write */
	__s64 count;
	__s64 offset;     /* the explicit-offset calls' offset, in etypes of the view */
	__u32 cookie;
	__s32 amode;
	__u32 depth;      /* of the thread's MPI-IO calls (uprobe_layer.bpf.h) */
	__u32 pad;
	__u64 outer_sp;   /* user stack pointer at the outermost one's entry */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct mpiio_call);
} mpiio_calls SEC(".maps");

static __always_inline __u64 read_user_u64(__u64 addr)
{
	__u64 v = 0;

	bpf_probe_read_user(&v, sizeof(v), (void *)addr);
	return v;
}

static __always_inline __s32 read_user_s32(__u64 addr)
{
	__s32 v = 0;

	bpf_probe_read_user(&v, sizeof(v), (void *)addr);
	return v;
}

/* MPI_Type_size(datatype), or SIZE_UNKNOWN. */
static __always_inline __s64 datatype_size(__u32 abi, __u64 dt)
{
	__u64 size;

	if (abi == ABI_OPENMPI) {
		if (!dt || bpf_probe_read_user(&size, sizeof(size),
					       (void *)(dt + ompi_datatype_size_offset)))
			return SIZE_UNKNOWN;
		return size;
	}
	dt = (__u32)dt;
	if (dt == MPICH_DATATYPE_NULL)
		return 0;
	if (((dt >> MPICH_KIND_SHIFT) & MPICH_KIND_MASK) == MPICH_KIND_BUILTIN)
		return MPICH_BUILTIN_SIZE(dt);
	return SIZE_UNKNOWN;
}

/* Whether the communicator has a single process.  MPICH's sizes live in
 * its object tables: only MPI_COMM_SELF is known to be of size 1. */
static __always_inline bool comm_is_single(__u32 abi, __u64 comm)
{
	__u64 group;

	if (abi == ABI_OPENMPI) {
		group = read_user_u64(comm + ompi_comm_local_group_offset);
		return group && read_user_s32(group + ompi_group_size_offset) == 1;
	}
	return (__u32)comm == MPICH_COMM_SELF;
}

static __always_inline bool info_is_null(__u32 abi, __u64 info)
{
	if (abi == ABI_OPENMPI)
		return !info || read_user_s32(info + ompi_info_f2c_offset) == 0;
	return (__u32)info == MPICH_INFO_NULL;
}

static __always_inline struct mpiio_record *handle_record(__u32 proc, __u64 fh,
							   struct file_key *key)
{
	struct mpiio_handle_key hk = { .proc = proc, .handle = fh };
	__u64 *serial = bpf_map_lookup_elem(&mpiio_handles, &hk);

	if (!serial)
		return 0;
	key->proc = proc;
	key->dev = MPIIO_DEV;
	key->ino = *serial;
	return bpf_map_lookup_elem(&mpiio_records, key);
}

static __always_inline void on_open(__u32 proc, struct mpiio_call *c, __u64 t1, __u64 t2)
{
	__u32 abi = MIO_ABI(c->cookie), zero = 0;
	struct mpiio_handle_key hk = { .proc = proc };
	struct file_key key = { .proc = proc, .dev = MPIIO_DEV };
	struct mpiio_record *r;
	__u64 *serial = bpf_map_lookup_elem(&mpiio_serial, &zero);

	if (!serial)
		return;
	key.ino = __sync_fetch_and_add(serial, 1) + 1;
	r = new_record(&mpiio_records, &key, &mpiio_zero, 0);
	if (!r)
		return;
	hk.handle = read_user_u64(c->fh);
	if (bpf_map_update_elem(&mpiio_handles, &hk, &key.ino, BPF_ANY)) {
		health_inc(H_LAYER_RECORDS_DROPPED);
		bpf_map_delete_elem(&mpiio_records, &key);
		return;
	}
	r->open_ns = t1;
	r->counters[MPIIO_MODE] = c->amode;
	r->counters[comm_is_single(abi, c->comm) ? MPIIO_INDEP_OPENS : MPIIO_COLL_OPENS] = 1;
	r->counters[MPIIO_HINTS] = !info_is_null(abi, c->info);
	stamp_span(&r->times[T_OPEN_START], &r->times[T_OPEN_END], t1, t2);
	timer_add(&r->times[T_META_TIME], &r->last_meta_end, t1, t2);
	send_layer_path(LAYER_MPIIO, EV_OPEN, &key, t1, t2,
			strip_romio_prefix((const char *)c->name), AT_FDCWD, false);
}

/* One read or write as the timelines take it: the MPIIO heatmap and,
 * with DXT on, a DXT_MPIIO segment. */
struct timeline_op {
	__s64 offset;  /* in bytes, or UNKNOWN_OFFSET */
	__s64 size;
	__u64 t1, t2;
	bool write;
};

/* A global function, followed once by the verifier: inline, Linux 6.1's
 * followed the heatmap's branches once per path of the counting before
 * them.  Its key is copied to the stack, where 6.1 wants a map key. */
__noinline int mpiio_timeline(const struct file_key *key, const struct timeline_op *op)
{
	struct file_key k;
	__u8 flags;

	if (!key || !op)
		return 0;
	k = *key;
	flags = (dxt_enabled ? SEG_TRACE : 0) |
		heatmap_or_pending(HEATMAP_MPIIO, k.proc, layer_record_named(&k), op->write,
				   op->size, op->t1, op->t2);
	if (flags)
		emit_segment(&k, DARSHAN_MPIIO_MOD, op->write, flags, op->offset, op->size,
			     op->t1, op->t2);
	return 0;
}

/* The access-size table as memory the verifier knows the size of. */
struct value_table {
	struct value_slot slot[VALUE_TABLE_SLOTS];
};

/* table_count as a global function, followed once by the verifier: inline,
 * Linux 6.1's followed the rest of the program once per table slot where
 * the count could stop (400,000 instructions). */
__noinline int count_value(struct value_table *table, __s64 v)
{
	if (table)
		table_count(table->slot, v);
	return 0;
}

/* Count one read or write; op (its t1, t2 set) gets what the timelines
 * need of it. */
static __always_inline void count_read_write(struct mpiio_record *r, struct mpiio_call *c,
					     struct timeline_op *op)
{
	__u64 t1 = op->t1, t2 = op->t2;
	bool write = MIO_OP(c->cookie) == MIO_WRITE;
	__s64 size = 0, took = t2 - t1;
	__u32 counter = MIO_COUNTER(c->cookie);
	__u64 type = write ? IO_WRITE : IO_READ;
	int max_size = write ? MPIIO_MAX_WRITE_TIME_SIZE : MPIIO_MAX_READ_TIME_SIZE;
	int max_time = write ? T_MAX_WRITE_TIME : T_MAX_READ_TIME;
	int hist = write ? MPIIO_SIZE_WRITE_AGG_0_100 : MPIIO_SIZE_READ_AGG_0_100;
	int bucket;

	if (c->count > 0) {
		size = datatype_size(MIO_ABI(c->cookie), c->datatype);
		if (size == SIZE_UNKNOWN) {
			__sync_fetch_and_add(&r->unknown_sizes, 1);
			size = 0;
		}
		size *= c->count;
	}
	if (counter < MPIIO_KERNEL_COUNTERS)
		__sync_fetch_and_add(&r->counters[counter], 1);
	__sync_fetch_and_add(&r->counters[write ? MPIIO_BYTES_WRITTEN : MPIIO_BYTES_READ], size);
	bucket = size_bucket(size);
	if (bucket >= 0 && bucket < SIZE_BUCKETS)
		__sync_fetch_and_add(&r->counters[hist + bucket], 1);
	count_value((struct value_table *)r->access, size);
	if (r->last_io_type && r->last_io_type != type)
		__sync_fetch_and_add(&r->counters[MPIIO_RW_SWITCHES], 1);
	if (!r->first_io_type)
		r->first_io_type = type;
	r->last_io_type = type;
	if (took > r->times[max_time]) {
		r->times[max_time] = took;
		r->counters[max_size] = size;
	}
	if (write) {
		stamp_span(&r->times[T_WRITE_START], &r->times[T_WRITE_END], t1, t2);
		timer_add(&r->times[T_WRITE_TIME], &r->last_write_end, t1, t2);
	} else {
		stamp_span(&r->times[T_READ_START], &r->times[T_READ_END], t1, t2);
		timer_add(&r->times[T_READ_TIME], &r->last_read_end, t1, t2);
	}
	/* The offset is in bytes only under the default view (no set_view:
	 * displacement 0, etype MPI_BYTE) of an explicit-offset call;
	 * elsewhere it is -1, as Darshan writes it under Open MPI. */
	op->offset = (c->cookie & MIO_AT) && !r->counters[MPIIO_VIEWS] ? c->offset : UNKNOWN_OFFSET;
	op->size = size;
	op->write = write;
}

/* A global function: the verifier follows it once, on its own.  Inlined
 * into the return program, Linux 6.1's verifier took 650,000 instructions
 * to follow it through every path of the program around it.  Its pointers
 * are plain memory to the verifier, which may be NULL. */
__noinline int count_access(struct mpiio_record *r, struct mpiio_call *c, struct timeline_op *op)
{
	if (r && c && op)
		count_read_write(r, c, op);
	return 0;
}

static __always_inline void on_return(__u32 proc, struct mpiio_call *c, __u64 t1, __u64 t2)
{
	struct mpiio_handle_key hk = { .proc = proc, .handle = c->fh };
	struct file_key key = {};
	struct mpiio_record *r;
	__u32 op = MIO_OP(c->cookie);

	if (op == MIO_OPEN) {
		on_open(proc, c, t1, t2);
		return;
	}
	r = handle_record(proc, c->fh, &key);
	if (!r)
		return;
	switch (op) {
	case MIO_CLOSE:
		stamp_span(&r->times[T_CLOSE_START], &r->times[T_CLOSE_END], t1, t2);
		timer_add(&r->times[T_META_TIME], &r->last_meta_end, t1, t2);
		bpf_map_delete_elem(&mpiio_handles, &hk);
		return;
	case MIO_SYNC:
		/* Darshan counts a sync's time as write time */
		__sync_fetch_and_add(&r->counters[MPIIO_SYNCS], 1);
		timer_add(&r->times[T_WRITE_TIME], &r->last_write_end, t1, t2);
		return;
	case MIO_SET_VIEW:
		__sync_fetch_and_add(&r->counters[MPIIO_VIEWS], 1);
		if (!info_is_null(MIO_ABI(c->cookie), c->info)) {
			__sync_fetch_and_add(&r->counters[MPIIO_HINTS], 1);
			timer_add(&r->times[T_META_TIME], &r->last_meta_end, t1, t2);
		}
		return;
	case MIO_RESIZE:
		timer_add(&r->times[T_META_TIME], &r->last_meta_end, t1, t2);
		return;
	case MIO_READ: case MIO_WRITE: {
		struct timeline_op op = { .t1 = t1, .t2 = t2 };

		count_access(r, c, &op);
		mpiio_timeline(&key, &op);
		return;
	}
	}
}

SEC("uprobe")
int BPF_KPROBE(mpiio_enter)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct task_state *st = traced_task(task);
	__u64 cookie = bpf_get_attach_cookie(ctx);
	/* the six argument registers, read once: the verifier refuses a
	 * context field picked by a computed offset */
	__u64 arg1 = PT_REGS_PARM1(ctx), arg2 = PT_REGS_PARM2(ctx), arg3 = PT_REGS_PARM3(ctx),
	      arg4 = PT_REGS_PARM4(ctx), arg5 = PT_REGS_PARM5(ctx), arg6 = PT_REGS_PARM6(ctx);
	struct mpiio_call *c;

	if (!st)
		return 0;
	c = thread_call(&mpiio_calls, task);
	/* only the outermost call counts */
	if (!c || !call_depth_enter(&c->depth, &c->outer_sp, ctx))
		return 0;
	c->cookie = cookie;
	switch (MIO_OP(cookie)) {
	case MIO_OPEN:
		c->comm = arg1;
		c->name = arg2;
		c->amode = arg3;
		c->info = arg4;
		c->fh = arg5;
		break;
	case MIO_CLOSE:
		c->fh = read_user_u64(arg1);
		break;
	case MIO_SET_VIEW:
		c->fh = arg1;
		c->info = arg6;
		break;
	default:
		c->fh = arg1;
		c->offset = arg2;
		c->count = cookie & MIO_AT ? arg4 : arg3;
		c->datatype = cookie & MIO_AT ? arg5 : arg4;
		if (!(cookie & MIO_LARGE_COUNT))
			c->count = (int)c->count;
	}
	c->start_ns = bpf_ktime_get_ns();
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(mpiio_exit, int ret)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct task_state *st = traced_task(task);
	struct mpiio_call *c;
	__u64 t1, t2;

	if (!st)
		return 0;
	c = bpf_task_storage_get(&mpiio_calls, task, 0, 0);
	if (!c || !call_depth_exit(&c->depth))
		return 0;
	t2 = bpf_ktime_get_ns();
	t1 = c->start_ns;
	if (ret == MPI_SUCCESS && t1)
		on_return(st->proc, c, t1, t2);
	c->start_ns = 0;
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
