// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The STDIO module: uprobes on the libc each traced process maps (attached
 * per process by user space, see library_probes.py), counted with Darshan's
 * STDIO rules.  Two programs serve every function: the entry notes the
 * call (which function comes in the probe's cookie), the return counts it.
 * While a thread is inside a stdio call its task_state.stdio_depth is set
 * and posix.bpf.c ignores its system calls, as Darshan never sees them.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "ebpf_darshan.h"
#include "shared_maps.bpf.h"
#include "file_events.bpf.h"
#include "darshan_timing.bpf.h"
#include "uprobe_layer.bpf.h"
#include "stdio_layer.h"

#define MAX_STDIO_RECORDS_DEFAULT 4096
#define EOF (-1)
#define STDOUT_FD 1
#define LAST_STD_FD 2
/* glibc's FILE flags and "position unknown" marker */
#define IO_ERR_SEEN 0x20
#define IO_IS_APPENDING 0x1000
#define IO_POS_BAD (-1)
/* Attempts at an atomic maximum before giving up to a racing thread. */
#define CAS_TRIES 4
/* The FILE * is one of the first four arguments (a power of two of slots
 * so the index can be masked) */
#define STREAM_ARG_SLOTS 8

/* The head of glibc's struct _IO_FILE on 64-bit Linux, a public ABI that
 * has not changed since glibc 2.1: enough to find the fd and compute
 * ftell() the way glibc does. */
struct glibc_file {
	int flags;
	char *read_ptr;
	char *read_end;
	char *read_base;
	char *write_base;
	char *write_ptr;
	char *write_end;
	char *buf_base;
	char *buf_end;
	char *save_base;
	char *backup_base;
	char *save_end;
	void *markers;
	void *chain;
	int fileno;
	int flags2;
	long old_offset;
	unsigned short cur_column;
	signed char vtable_offset;
	char shortbuf[1];
	void *lock;
	long offset;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, MAX_STDIO_RECORDS_DEFAULT);
	__type(key, struct file_key);
	__type(value, struct stdio_record);
} stdio_records SEC(".maps");

ZERO_RECORD(stdio_zero, struct stdio_record);

/* The outermost stdio call in flight on a thread. */
struct stdio_call {
	__u64 start_ns;
	__u64 stream;
	__u64 arg0;       /* path of fopen/freopen */
	__u64 item_size;  /* fread/fwrite */
	__s64 pos;        /* stream position at entry, where bytes = moved */
	struct file_key key;  /* fclose: resolved at entry, the stream is gone at exit */
	__u32 op;
	bool to_stdout;
	bool has_key;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct stdio_call);
} stdio_calls SEC(".maps");

static __always_inline struct stdio_record *get_record(struct file_key *key, bool *created)
{
	struct stdio_record *r = bpf_map_lookup_elem(&stdio_records, key);

	return r ? r : new_record(&stdio_records, key, &stdio_zero, created);
}

static __always_inline int stream_fd(__u64 stream)
{
	int fd = -1;

	bpf_probe_read_user(&fd, sizeof(fd), &((struct glibc_file *)stream)->fileno);
	return fd;
}

static __always_inline struct stdio_record *std_record(__u32 proc, int fd,
							struct file_key *keyp)
{
	bool created = false;

	keyp->proc = proc;
	keyp->dev = STD_STREAM_DEV;
	keyp->ino = fd;
	return get_record(keyp, &created);
}

/* The record a stream counts in: its file's, if a traced open made one;
 * else stdin/stdout/stderr's by fd; else none (Darshan ignores streams it
 * did not see opened: popen, tmpfile, memory streams). */
static __always_inline struct stdio_record *stream_record(__u32 proc, __u64 stream,
							  struct file_key *keyp)
{
	struct file_key key = {};
	struct stdio_record *r;
	struct file *f;
	int fd;

	if (!stream)
		return 0;
	fd = stream_fd(stream);
	f = fd_file(fd);
	if (f && file_key_of(f, proc, &key)) {
		r = bpf_map_lookup_elem(&stdio_records, &key);
		if (r) {
			*keyp = key;
			return r;
		}
	}
	if (fd < 0 || fd > LAST_STD_FD)
		return 0;
	return std_record(proc, fd, keyp);
}

/* The fields of a FILE that ftell() needs, read one by one: the whole
 * struct would take 150 bytes of the programs' stack. */
struct stream_state {
	int flags;
	int fileno;
	char *read_ptr;
	char *read_end;
	char *write_base;
	char *write_ptr;
	char *buf_base;
	long offset;
};

#define READ_STREAM_FIELD(dst, fp, field) \
	bpf_probe_read_user(&(dst)->field, sizeof((dst)->field), &(fp)->field)

static __always_inline bool read_stream(__u64 stream, struct stream_state *s)
{
	const struct glibc_file *fp = (const struct glibc_file *)stream;

	if (!stream || READ_STREAM_FIELD(s, fp, flags))
		return false;
	READ_STREAM_FIELD(s, fp, fileno);
	READ_STREAM_FIELD(s, fp, read_ptr);
	READ_STREAM_FIELD(s, fp, read_end);
	READ_STREAM_FIELD(s, fp, write_base);
	READ_STREAM_FIELD(s, fp, write_ptr);
	READ_STREAM_FIELD(s, fp, buf_base);
	READ_STREAM_FIELD(s, fp, offset);
	return true;
}

/* ftell() as glibc computes it: the cached file offset (or the kernel's
 * position when glibc has none) moved by what sits in the buffer. */
static __always_inline __s64 stream_pos(__u64 stream)
{
	struct stream_state fp = {};
	struct file *f;
	bool unflushed;
	__s64 pos, delta = 0;

	if (!read_stream(stream, &fp))
		return 0;
	unflushed = fp.write_ptr > fp.write_base;
	if (fp.buf_base)
		delta = unflushed ? fp.write_ptr - fp.write_base : fp.read_ptr - fp.read_end;
	f = fd_file(fp.fileno);
	if (unflushed && (fp.flags & IO_IS_APPENDING) && f)
		pos = BPF_CORE_READ(f, f_inode, i_size);
	else if (fp.offset != IO_POS_BAD)
		pos = fp.offset;
	else
		pos = f ? BPF_CORE_READ(f, f_pos) : 0;
	return pos + delta;
}

static __always_inline void atomic_max(__s64 *v, __s64 x)
{
	for (int i = 0; i < CAS_TRIES; i++) {
		__s64 old = *v;

		if (old >= x || __sync_val_compare_and_swap(v, old, x) == old)
			return;
	}
}

static __always_inline void count_open(struct stdio_record *r, __u32 op, __u64 t1, __u64 t2)
{
	__sync_fetch_and_add(&r->counters[STDIO_OPENS], 1);
	if (op == SIO_FDOPEN)
		__sync_fetch_and_add(&r->counters[STDIO_FDOPENS], 1);
	else
		r->offset = 0;
	stamp_span(&r->times[ST_OPEN_START], &r->times[ST_OPEN_END], t1, t2);
	timer_add(&r->times[ST_META_TIME], &r->last_meta_end, t1, t2);
}

/* One read or write (a flush is a write of 0 bytes that counts as a
 * flush), at Darshan's offset for the record, which is returned. */
static __always_inline __s64 count_access(struct stdio_record *r, bool write, bool flush,
					  __s64 n, __u64 t1, __u64 t2)
{
	int max_byte = write ? STDIO_MAX_BYTE_WRITTEN : STDIO_MAX_BYTE_READ;
	int bytes = write ? STDIO_BYTES_WRITTEN : STDIO_BYTES_READ;
	int ops = flush ? STDIO_FLUSHES : write ? STDIO_WRITES : STDIO_READS;
	__s64 off = __sync_fetch_and_add(&r->offset, n);

	atomic_max(&r->counters[max_byte], off + n - 1);
	__sync_fetch_and_add(&r->counters[bytes], n);
	__sync_fetch_and_add(&r->counters[ops], 1);
	if (write) {
		stamp_span(&r->times[ST_WRITE_START], &r->times[ST_WRITE_END], t1, t2);
		timer_add(&r->times[ST_WRITE_TIME], &r->last_write_end, t1, t2);
	} else {
		stamp_span(&r->times[ST_READ_START], &r->times[ST_READ_END], t1, t2);
		timer_add(&r->times[ST_READ_TIME], &r->last_read_end, t1, t2);
	}
	return off;
}

/* The bytes of a read or write on the STDIO heatmap.  stdin, stdout and
 * stderr are never excluded; a file's record is named by user space.
 * Darshan has no STDIO trace: a segment only carries pending bytes. */
static __always_inline void stdio_timeline(const struct file_key *key, bool write, __s64 off,
					   __s64 n, __u64 t1, __u64 t2)
{
	bool named = key->dev == STD_STREAM_DEV || layer_record_named(key);
	__u8 flags = heatmap_or_pending(HEATMAP_STDIO, key->proc, named, write, n, t1, t2);

	if (flags)
		emit_segment(key, DARSHAN_STDIO_MOD, write, flags, off, n, t1, t2);
}

static __always_inline void count_seek(struct stdio_record *r, __s64 pos, __u64 t1, __u64 t2)
{
	r->offset = pos;
	__sync_fetch_and_add(&r->counters[STDIO_SEEKS], 1);
	timer_add(&r->times[ST_META_TIME], &r->last_meta_end, t1, t2);
}

static __always_inline void count_close(struct stdio_record *r, __u64 t1, __u64 t2)
{
	stamp_span(&r->times[ST_CLOSE_START], &r->times[ST_CLOSE_END], t1, t2);
	timer_add(&r->times[ST_META_TIME], &r->last_meta_end, t1, t2);
}

/* A stream in use since before the process joined the recording (opened
 * before its probes were in place): its file gets a record at the first
 * call after, named from the kernel, counted from the stream's position
 * then.  Darshan would have met it at its open; without the open this is
 * the nearest. */
static __always_inline void adopt_stream(__u32 proc, __u64 stream)
{
	struct file_key key = {};
	struct stdio_record *r;
	bool created = false;
	struct file *f;

	if (!stream)
		return;
	f = fd_file(stream_fd(stream));
	if (!f || !file_key_of(f, proc, &key) || bpf_map_lookup_elem(&stdio_records, &key))
		return;
	r = get_record(&key, &created);
	if (!r || !created)
		return;
	r->offset = stream_pos(stream);
	emit_layer_file_event(LAYER_STDIO, &key, f);
}

/* A stream was opened: the record of its file, named on creation. */
static __always_inline void on_open(__u32 proc, struct stdio_call *c, __u64 stream,
				    __u64 t1, __u64 t2)
{
	struct file *f = fd_file(stream_fd(stream));
	struct file_key key = {};
	struct stdio_record *r;
	bool created = false;

	if (!f || !file_key_of(f, proc, &key))
		return;
	r = get_record(&key, &created);
	if (created) {
		if (c->op == SIO_FDOPEN)
			emit_layer_file_event(LAYER_STDIO, &key, f);
		else
			send_layer_path(LAYER_STDIO, EV_OPEN, &key, t1, t2,
					(const char *)c->arg0, AT_FDCWD, false);
	}
	if (r)
		count_open(r, c->op, t1, t2);
}

/* Bytes a successful read or write call moved, or -1 if it failed. */
static __always_inline __s64 moved_bytes(struct stdio_call *c, long ret)
{
	switch (c->op) {
	case SIO_WRITE_ITEMS: case SIO_READ_ITEMS:
		return ret > 0 ? c->item_size * ret : -1;
	case SIO_WRITE_CHAR: case SIO_READ_CHAR:
		return (int)ret != EOF ? 1 : -1;
	case SIO_WRITE_WORD:
		return (int)ret != EOF ? sizeof(int) : -1;
	case SIO_READ_WORD: {
		int flags = 0;

		bpf_probe_read_user(&flags, sizeof(flags), (void *)c->stream);
		return (int)ret != EOF || !(flags & IO_ERR_SEEN) ? sizeof(int) : -1;
	}
	case SIO_WRITE_STRING:
		return (int)ret > 0 ? stream_pos(c->stream) - c->pos : -1;
	case SIO_READ_STRING:
		return ret ? stream_pos(c->stream) - c->pos : -1;
	case SIO_READ_FORMAT:
		return (int)ret != 0 ? stream_pos(c->stream) - c->pos : -1;
	case SIO_WRITE_FORMAT:
		return (int)ret > 0 ? (int)ret : -1;
	case SIO_READ_DELIM:
		return ret > 0 ? ret : -1;
	}
	return -1;
}

static __always_inline bool is_write(__u32 op)
{
	return op == SIO_WRITE_ITEMS || op == SIO_WRITE_CHAR || op == SIO_WRITE_WORD ||
	       op == SIO_WRITE_STRING || op == SIO_WRITE_FORMAT;
}

static __always_inline void on_return(__u32 proc, struct stdio_call *c, long ret,
				      __u64 t1, __u64 t2)
{
	struct file_key key = {};
	struct stdio_record *r;
	__s64 n, off;
	bool write;

	switch (c->op) {
	case SIO_OPEN: case SIO_REOPEN: case SIO_FDOPEN:
		if (ret)
			on_open(proc, c, ret, t1, t2);
		return;
	case SIO_CLOSE:
		r = c->has_key ? bpf_map_lookup_elem(&stdio_records, &c->key) : 0;
		if (r)
			count_close(r, t1, t2);
		return;
	}
	r = c->to_stdout ? std_record(proc, STDOUT_FD, &key) :
			   stream_record(proc, c->stream, &key);
	if (!r)
		return;
	switch (c->op) {
	case SIO_FLUSH:
		if ((int)ret >= 0)
			count_access(r, true, true, 0, t1, t2);
		return;
	case SIO_SEEK:
		if ((int)ret >= 0)
			count_seek(r, stream_pos(c->stream), t1, t2);
		return;
	case SIO_REWIND:
		count_seek(r, 0, t1, t2);
		return;
	}
	n = moved_bytes(c, ret);
	if (n < 0)
		return;
	write = is_write(c->op);
	off = count_access(r, write, false, n, t1, t2);
	stdio_timeline(&key, write, off, n, t1, t2);
}

SEC("uprobe")
int BPF_KPROBE(stdio_enter)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct task_state *st = traced_task(task);
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u32 op = COOKIE_OP(cookie), stream_arg = COOKIE_STREAM_ARG(cookie);
	/* argument n is args[n]; args[0] stands for stdout */
	__u64 args[STREAM_ARG_SLOTS] = { 0, PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx),
					 PT_REGS_PARM3(ctx), PT_REGS_PARM4(ctx) };
	struct stdio_call *c;

	/* only the outermost call counts; the depth lives in task_state,
	 * where posix.bpf.c reads it */
	if (!st || !call_depth_enter(&st->stdio_depth, &st->stdio_sp, ctx))
		return 0;
	if (op == SIO_INSIDE)
		return 0;
	c = thread_call(&stdio_calls, task);
	if (!c)
		return 0;
	c->op = op;
	c->to_stdout = stream_arg == 0;
	c->stream = args[stream_arg & (STREAM_ARG_SLOTS - 1)];
	c->arg0 = args[1];
	c->item_size = args[2];
	if (op == SIO_WRITE_STRING || op == SIO_READ_STRING || op == SIO_READ_FORMAT)
		c->pos = stream_pos(c->stream);
	if ((st->flags & TASK_JOINED) && !c->to_stdout && op != SIO_REOPEN)
		adopt_stream(st->proc, c->stream);
	if (op == SIO_CLOSE)
		c->has_key = stream_record(st->proc, c->stream, &c->key) != 0;
	c->start_ns = bpf_ktime_get_ns();
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(stdio_exit, long ret)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct task_state *st = traced_task(task);
	struct stdio_call *c;
	__u64 t1, t2;

	if (!st || !call_depth_exit(&st->stdio_depth))
		return 0;
	c = bpf_task_storage_get(&stdio_calls, task, 0, 0);
	if (!c || !c->start_ns)
		return 0;
	t2 = bpf_ktime_get_ns();
	t1 = c->start_ns;
	c->start_ns = 0;
	on_return(st->proc, c, ret, t1, t2);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
