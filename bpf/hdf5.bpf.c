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

/* All-zero records to insert: too big for the BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct h5d_record);
} h5d_template SEC(".maps");

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

/* The outermost HDF5 call in flight on a thread. */
struct h5_call {
	__u64 start_ns;
	__s64 id;      /* the identifier argument, or the location of an open */
	__u64 name;    /* opens: the name as given */
	__u32 cookie;
	__u32 depth;
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
				strip_romio_prefix((const char *)c->name), AT_FDCWD, false);
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
	struct h5_object *loc = h5_object_of(proc, c->id);
	struct file_key key = { .proc = proc, .dev = H5G_DEV, .ino = next_serial() };

	if (loc && key.ino && remember(proc, hid, key.ino, loc->file_serial, H5K_GROUP))
		emit_object_name(&key, loc->serial, (const char *)c->name);
}

static __always_inline void on_dataset_open(__u32 proc, struct h5_call *c, __s64 hid,
					    __u64 t1, __u64 t2)
{
	struct h5_object *loc = h5_object_of(proc, c->id);
	struct file_key key = { .proc = proc, .dev = H5D_DEV, .ino = next_serial() };
	struct h5d_record *r;
	__u32 zero = 0;
	void *tmpl = bpf_map_lookup_elem(&h5d_template, &zero);

	/* a dataset opened at a location we never saw cannot be named */
	if (!loc || !key.ino || !tmpl)
		return;
	bpf_map_update_elem(&h5d_records, &key, tmpl, BPF_NOEXIST);
	r = bpf_map_lookup_elem(&h5d_records, &key);
	if (!r) {
		health_inc(H_LAYER_RECORDS_DROPPED);
		return;
	}
	if (!remember(proc, hid, key.ino, loc->file_serial, H5K_DATASET)) {
		bpf_map_delete_elem(&h5d_records, &key);
		return;
	}
	r->opens = 1;
	r->use_deprecated = (c->cookie & H5_DEPRECATED) != 0;
	r->use_mpiio_collective = c->cookie & H5_PARALLEL_LIB ? NOT_KNOWN : 0;
	r->open_ns = t1;
	r->file_serial = loc->file_serial;
	stamp_span(&r->times[T_OPEN_START], &r->times[T_OPEN_END], t1, t2);
	timer_add(&r->times[T_META_TIME], &r->last_meta_end, t1, t2);
	emit_object_name(&key, loc->serial, (const char *)c->name);
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

/* H5Dclose, H5Gclose, H5Oclose and H5Fclose: stamp the record, forget the id. */
static __always_inline void on_close(__u32 proc, struct h5_call *c, __u64 t1, __u64 t2)
{
	struct h5_id_key k = { .proc = proc, .hid = c->id };
	struct h5_object *o = bpf_map_lookup_elem(&h5_ids, &k);
	struct h5d_record *d;
	struct h5f_record *f;

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

	/* opens return an hid_t (64 bits), the others an herr_t (an int) */
	if (op == H5_FILE_CREATE || op == H5_FILE_OPEN || op == H5_GROUP_OPEN ||
	    op == H5_DSET_OPEN || op == H5_OBJECT_OPEN ? ret < 0 : (int)ret < 0)
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
	case H5_FILE_FLUSH:
		f = file_record(proc, h5_object_of(proc, c->id));
		if (f) {
			__sync_fetch_and_add(&f->flushes, 1);
			timer_add(&f->times[H5F_T_META_TIME], &f->last_meta_end, t1, t2);
		}
		return;
	}
	d = dataset_record(proc, h5_object_of(proc, c->id));
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
	__u64 arg1 = PT_REGS_PARM1(ctx), arg2 = PT_REGS_PARM2(ctx);
	__u32 op = H5_OP(cookie);
	struct h5_call *c;

	if (!st)
		return 0;
	c = bpf_task_storage_get(&h5_calls, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	/* only the outermost call counts */
	if (!c || c->depth++)
		return 0;
	c->cookie = cookie;
	if (op == H5_FILE_CREATE || op == H5_FILE_OPEN) {
		c->name = arg1;
	} else {
		c->id = arg1;
		c->name = arg2;
	}
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
	if (!c || !c->depth || --c->depth)
		return 0;
	t2 = bpf_ktime_get_ns();
	t1 = c->start_ns;
	if (t1)
		on_return(st->proc, c, ret, t1, t2);
	c->start_ns = 0;
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
