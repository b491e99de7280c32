// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The H5F and H5D modules: uprobes on the libhdf5 each traced process maps
 * (Debian's, or the copy a Python wheel bundles; attached per process by
 * user space, see library_probes.py), counted with Darshan's HDF5 rules as
 * far as the calls show them (hdf5_layer.h says what cannot be known).
 * The entry notes the arguments (the cookie says which function it is),
 * the return counts a successful call: hid_t results are >= 0, herr_t 0.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "ebpf_darshan.h"
#include "shared_maps.bpf.h"
#include "file_events.bpf.h"
#include "darshan_timing.bpf.h"
#include "romio_prefix.bpf.h"
#include "uprobe_args.bpf.h"
#include "uprobe_layer.bpf.h"
#include "hdf5_layer.h"

#define MAX_H5_RECORDS_DEFAULT 4096
#define MAX_H5_IDS_DEFAULT 16384
#define NOT_KNOWN (-1)

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, MAX_H5_RECORDS_DEFAULT);
	__type(key, struct file_key);
	__type(value, struct h5f_record);
} h5f_records SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, MAX_H5_RECORDS_DEFAULT);
	__type(key, struct file_key);
	__type(value, struct h5d_record);
} h5d_records SEC(".maps");

/* New H5D records are copies of it; an H5F record is small enough to be
 * built on the stack (on_file_open). */
ZERO_RECORD(h5d_zero, struct h5d_record);

/* Open files, groups and datasets of each process. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_H5_IDS_DEFAULT);
	__type(key, struct h5_id_key);
	__type(value, struct h5_object);
} h5_ids SEC(".maps");

/* The last serial handed out. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} h5_serial SEC(".maps");

/* Shapes of the application's dataspaces and creation property lists. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_H5_IDS_DEFAULT);
	__type(key, struct h5_id_key);
	__type(value, struct h5_shape);
} h5_shapes SEC(".maps");

/* The outermost HDF5 call in flight on a thread: its argument registers
 * (an identifier or the location of an open first, then names, shapes). */
#define H5_ARGS 6

struct h5_call {
	__u64 start_ns;
	__s64 args[H5_ARGS];
	__u32 cookie;
	__u32 depth;      /* of the thread's HDF5 calls (uprobe_layer.bpf.h) */
	__u64 outer_sp;   /* user stack pointer at the outermost one's entry */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct h5_call);
} h5_calls SEC(".maps");

static __always_inline __u64 next_serial(void)
{
	__u32 zero = 0;
	__u64 *serial = bpf_map_lookup_elem(&h5_serial, &zero);

	return serial ? __sync_fetch_and_add(serial, 1) + 1 : 0;
}

static __always_inline struct h5_object *h5_object_of(__u32 proc, __s64 hid)
{
	struct h5_id_key k = { .proc = proc, .hid = hid };

	return bpf_map_lookup_elem(&h5_ids, &k);
}

static __always_inline bool remember(__u32 proc, __s64 hid, __u64 serial, __u64 file_serial,
				     __u32 kind)
{
	struct h5_id_key k = { .proc = proc, .hid = hid };
	struct h5_object o = { .serial = serial, .file_serial = file_serial, .kind = kind };

	if (!bpf_map_update_elem(&h5_ids, &k, &o, BPF_ANY))
		return true;
	health_inc(H_LAYER_RECORDS_DROPPED);
	return false;
}

static __always_inline struct h5_shape *shape_of(__u32 proc, __s64 hid)
{
	struct h5_id_key k = { .proc = proc, .hid = hid };

	return bpf_map_lookup_elem(&h5_shapes, &k);
}

static __always_inline void keep_shape(__u32 proc, __s64 hid, struct h5_shape *shape)
{
	struct h5_id_key k = { .proc = proc, .hid = hid };

	bpf_map_update_elem(&h5_shapes, &k, shape, BPF_ANY);
}

/* H5Screate_simple(rank, dims, maxdims): rank and number of points. */
static __always_inline void on_space_create(__u32 proc, struct h5_call *c, __s64 hid)
{
	struct h5_shape shape = { .ndims = (int)c->args[0], .npoints = 1 };
	const __u64 *dims = (const __u64 *)c->args[1];
	__u64 d;

	if (shape.ndims < 0 || shape.ndims > H5S_MAX_RANK)
		return;
	for (int i = 0; i < H5S_MAX_RANK && i < shape.ndims; i++) {
		if (bpf_probe_read_user(&d, sizeof(d), &dims[i]))
			return;
		shape.npoints *= d;
	}
	keep_shape(proc, hid, &shape);
}

/* H5Pset_chunk(dcpl, ndims, dims): Darshan's D1 is the last dimension. */
static __always_inline void on_set_chunk(__u32 proc, struct h5_call *c)
{
	struct h5_shape shape = {};
	const __u64 *dims = (const __u64 *)c->args[2];
	int n = (int)c->args[1];
	__u64 d;

	if (n < 0 || n > H5S_MAX_RANK)
		return;
	for (int i = 0; i < H5D_MAX_DIMS && i < n; i++) {
		if (bpf_probe_read_user(&d, sizeof(d), &dims[(n - 1 - i) & (H5S_MAX_RANK - 1)]))
			return;
		shape.chunk[i] = d;
	}
	keep_shape(proc, c->args[0], &shape);
}

static __always_inline void on_plist(__u32 proc, struct h5_call *c, __s64 hid)
{
	struct h5_shape zero = {}, *from;

	switch (H5_OP(c->cookie)) {
	case H5_PLIST_CREATE:  /* a new list: not chunked */
		keep_shape(proc, hid, &zero);
		return;
	case H5_PLIST_COPY:
		from = shape_of(proc, c->args[0]);
		if (from)
			keep_shape(proc, hid, from);
		return;
	case H5_SET_CHUNK:
		on_set_chunk(proc, c);
		return;
	case H5_SET_LAYOUT:  /* another layout drops the chunk shape */
		if ((int)c->args[1] != H5D_CHUNKED)
			keep_shape(proc, c->args[0], &zero);
		return;
	}
}

/* A new dataset's shape, as far as the application told it. */
static __always_inline void creation_shape(__u32 proc, struct h5_call *c, struct h5_shape *out)
{
	bool v1 = c->cookie & H5_DEPRECATED;
	__s64 dcpl = v1 ? c->args[4] : c->args[5];
	struct h5_shape *space = shape_of(proc, c->args[3]), *plist = shape_of(proc, dcpl);

	out->ndims = space ? space->ndims : NOT_KNOWN;
	out->npoints = space ? space->npoints : NOT_KNOWN;
	for (int i = 0; i < H5D_MAX_DIMS; i++)
		out->chunk[i] = dcpl == H5P_DEFAULT ? 0 : plist ? plist->chunk[i] : NOT_KNOWN;
}

static __always_inline void on_file_open(__u32 proc, struct h5_call *c, __s64 hid,
					 __u64 t1, __u64 t2)
{
	struct file_key key = { .proc = proc, .dev = H5F_DEV, .ino = next_serial() };
	struct h5f_record r = {
		.opens = 1,
		.use_mpiio = c->cookie & H5_PARALLEL_LIB ? NOT_KNOWN : 0,
		.last_meta_end = t2,
		.open_ns = t1,
	};

	r.times[H5F_T_OPEN_START] = t1;
	r.times[H5F_T_OPEN_END] = t2;
	r.times[H5F_T_META_TIME] = t2 - t1;
	if (!key.ino || bpf_map_update_elem(&h5f_records, &key, &r, BPF_NOEXIST)) {
		health_inc(H_LAYER_RECORDS_DROPPED);
		return;
	}
	if (remember(proc, hid, key.ino, key.ino, H5K_FILE))
		send_layer_path(LAYER_HDF5, EV_OPEN, &key, t1, t2,
				strip_romio_prefix((const char *)c->args[0]), AT_FDCWD, false);
}

/* The name of a group or dataset, relative to the object it was opened at. */
static __noinline void emit_object_name(struct file_key *key, __u64 loc_serial, const char *name)
{
	struct event *e = scratch_event();
	long n;

	if (!e)
		return;
	fill_event(e, EV_FILE, key, 0, 0);
	e->layer = LAYER_HDF5;
	e->key.ino |= loc_serial << H5_LOC_SHIFT;
	n = bpf_probe_read_user_str((char *)(e + 1), WALK_BUF_LEN, name);
	if (n < 0 || n > WALK_BUF_LEN)
		n = 0;
	e->walk_len = n;
	emit_event(e, sizeof(*e) + n);
}

static __always_inline void on_group_open(__u32 proc, struct h5_call *c, __s64 hid)
{
	struct h5_object *loc = h5_object_of(proc, c->args[0]);
	struct file_key key = { .proc = proc, .dev = H5G_DEV, .ino = next_serial() };

	if (loc && key.ino && remember(proc, hid, key.ino, loc->file_serial, H5K_GROUP))
		emit_object_name(&key, loc->serial, (const char *)c->args[1]);
}

static __always_inline void on_dataset_open(__u32 proc, struct h5_call *c, __s64 hid,
					    __u64 t1, __u64 t2)
{
	struct h5_object *loc = h5_object_of(proc, c->args[0]);
	struct file_key key = { .proc = proc, .dev = H5D_DEV, .ino = next_serial() };
	struct h5d_record *r;

	/* a dataset opened at a location we never saw cannot be named */
	if (!loc || !key.ino)
		return;
	r = new_record(&h5d_records, &key, &h5d_zero, 0);
	if (!r)
		return;
	if (!remember(proc, hid, key.ino, loc->file_serial, H5K_DATASET)) {
		bpf_map_delete_elem(&h5d_records, &key);
		return;
	}
	r->opens = 1;
	r->use_deprecated = (c->cookie & H5_DEPRECATED) != 0;
	r->use_mpiio_collective = c->cookie & H5_PARALLEL_LIB ? NOT_KNOWN : 0;
	r->open_ns = t1;
	r->file_serial = loc->file_serial;
	if (c->cookie & H5_CREATE) {
		creation_shape(proc, c, &r->shape);
	} else {
		r->shape.ndims = r->shape.npoints = NOT_KNOWN;
		for (int i = 0; i < H5D_MAX_DIMS; i++)
			r->shape.chunk[i] = NOT_KNOWN;
	}
	stamp_span(&r->times[T_OPEN_START], &r->times[T_OPEN_END], t1, t2);
	timer_add(&r->times[T_META_TIME], &r->last_meta_end, t1, t2);
	emit_object_name(&key, loc->serial, (const char *)c->args[1]);
}

static __always_inline struct h5d_record *dataset_record(__u32 proc, struct h5_object *o)
{
	struct file_key key = { .proc = proc, .dev = H5D_DEV };

	if (!o || o->kind != H5K_DATASET)
		return 0;
	key.ino = o->serial;
	return bpf_map_lookup_elem(&h5d_records, &key);
}

static __always_inline struct h5f_record *file_record(__u32 proc, struct h5_object *o)
{
	struct file_key key = { .proc = proc, .dev = H5F_DEV };

	if (!o)
		return 0;
	key.ino = o->file_serial;
	return bpf_map_lookup_elem(&h5f_records, &key);
}

static __always_inline void count_access(struct h5d_record *r, bool write, __u64 t1, __u64 t2)
{
	__u64 type = write ? IO_WRITE : IO_READ;
	int max_time = write ? T_MAX_WRITE_TIME : T_MAX_READ_TIME;

	__sync_fetch_and_add(write ? &r->writes : &r->reads, 1);
	if (r->last_io_type && r->last_io_type != type)
		__sync_fetch_and_add(&r->rw_switches, 1);
	if (!r->first_io_type)
		r->first_io_type = type;
	r->last_io_type = type;
	if ((__s64)(t2 - t1) > r->times[max_time])
		r->times[max_time] = t2 - t1;
	if (write) {
		stamp_span(&r->times[T_WRITE_START], &r->times[T_WRITE_END], t1, t2);
		timer_add(&r->times[T_WRITE_TIME], &r->last_write_end, t1, t2);
	} else {
		stamp_span(&r->times[T_READ_START], &r->times[T_READ_END], t1, t2);
		timer_add(&r->times[T_READ_TIME], &r->last_read_end, t1, t2);
	}
}

/* H5Dclose, H5Gclose, H5Oclose, H5Sclose, H5Pclose and H5Fclose: stamp
 * the record, forget the id. */
static __always_inline void on_close(__u32 proc, struct h5_call *c, __u64 t1, __u64 t2)
{
	struct h5_id_key k = { .proc = proc, .hid = c->args[0] };
	struct h5_object *o = bpf_map_lookup_elem(&h5_ids, &k);
	struct h5d_record *d;
	struct h5f_record *f;

	bpf_map_delete_elem(&h5_shapes, &k);
	if (!o)
		return;
	if (o->kind == H5K_DATASET && (d = dataset_record(proc, o))) {
		stamp_span(&d->times[T_CLOSE_START], &d->times[T_CLOSE_END], t1, t2);
		timer_add(&d->times[T_META_TIME], &d->last_meta_end, t1, t2);
	} else if (o->kind == H5K_FILE && H5_OP(c->cookie) == H5_FILE_CLOSE &&
		   (f = file_record(proc, o))) {
		stamp_span(&f->times[H5F_T_CLOSE_START], &f->times[H5F_T_CLOSE_END], t1, t2);
		timer_add(&f->times[H5F_T_META_TIME], &f->last_meta_end, t1, t2);
	}
	bpf_map_delete_elem(&h5_ids, &k);
}

static __always_inline void on_return(__u32 proc, struct h5_call *c, long ret,
				      __u64 t1, __u64 t2)
{
	__u32 op = H5_OP(c->cookie);
	struct h5d_record *d;
	struct h5f_record *f;

	/* opens and creates return an hid_t (64 bits), the others an herr_t (an int) */
	if (op == H5_FILE_CREATE || op == H5_FILE_OPEN || op == H5_GROUP_OPEN ||
	    op == H5_DSET_OPEN || op == H5_OBJECT_OPEN || op == H5_SPACE_CREATE ||
	    op == H5_PLIST_CREATE || op == H5_PLIST_COPY ? ret < 0 : (int)ret < 0)
		return;
	switch (op) {
	case H5_FILE_CREATE: case H5_FILE_OPEN:
		on_file_open(proc, c, ret, t1, t2);
		return;
	case H5_GROUP_OPEN:
		on_group_open(proc, c, ret);
		return;
	case H5_DSET_OPEN:
		on_dataset_open(proc, c, ret, t1, t2);
		return;
	case H5_OBJECT_OPEN:
		/* Darshan counts H5Oopen of a dataset as a dataset open */
		if (((ret >> H5I_ID_BITS) & H5I_TYPE_MASK) == H5I_DATASET)
			on_dataset_open(proc, c, ret, t1, t2);
		else if (((ret >> H5I_ID_BITS) & H5I_TYPE_MASK) == H5I_GROUP)
			on_group_open(proc, c, ret);
		return;
	case H5_OBJECT_CLOSE: case H5_FILE_CLOSE:
		on_close(proc, c, t1, t2);
		return;
	case H5_SPACE_CREATE:
		on_space_create(proc, c, ret);
		return;
	case H5_ID_RELEASE:
		/* the last reference is gone (h5py closes so): forget the id;
		 * Darshan does not see this as a close */
		if ((int)ret == 0) {
			struct h5_id_key k = { .proc = proc, .hid = c->args[0] };

			bpf_map_delete_elem(&h5_shapes, &k);
			bpf_map_delete_elem(&h5_ids, &k);
		}
		return;
	case H5_PLIST_CREATE: case H5_PLIST_COPY: case H5_SET_CHUNK: case H5_SET_LAYOUT:
		on_plist(proc, c, ret);
		return;
	case H5_FILE_FLUSH:
		f = file_record(proc, h5_object_of(proc, c->args[0]));
		if (f) {
			__sync_fetch_and_add(&f->flushes, 1);
			timer_add(&f->times[H5F_T_META_TIME], &f->last_meta_end, t1, t2);
		}
		return;
	}
	d = dataset_record(proc, h5_object_of(proc, c->args[0]));
	if (!d)
		return;
	if (op == H5_DSET_FLUSH) {
		__sync_fetch_and_add(&d->flushes, 1);
		timer_add(&d->times[T_META_TIME], &d->last_meta_end, t1, t2);
	} else {
		count_access(d, op == H5_DSET_WRITE, t1, t2);
	}
}

SEC("uprobe")
int BPF_KPROBE(h5_enter)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct task_state *st = traced_task(task);
	__u64 cookie = bpf_get_attach_cookie(ctx);
	/* read once: the verifier refuses a context field picked by a
	 * computed offset */
	__s64 args[H5_ARGS] = { PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx), PT_REGS_PARM3(ctx),
				PT_REGS_PARM4(ctx), PT_REGS_PARM5(ctx), PT_REGS_PARM6(ctx) };
	struct h5_call *c;

	if (!st)
		return 0;
	c = thread_call(&h5_calls, task);
	/* only the outermost call counts */
	if (!c || !call_depth_enter(&c->depth, &c->outer_sp, ctx))
		return 0;
	c->cookie = cookie;
	__builtin_memcpy(c->args, args, sizeof(args));
	c->start_ns = bpf_ktime_get_ns();
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(h5_exit, long ret)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct task_state *st = traced_task(task);
	struct h5_call *c;
	__u64 t1, t2;

	if (!st)
		return 0;
	c = bpf_task_storage_get(&h5_calls, task, 0, 0);
	if (!c || !call_depth_exit(&c->depth))
		return 0;
	t2 = bpf_ktime_get_ns();
	t1 = c->start_ns;
	if (t1)
		on_return(st->proc, c, ret, t1, t2);
	c->start_ns = 0;
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
