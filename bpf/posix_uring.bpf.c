// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * io_uring.  Requests never pass through the read/write syscalls, so they
 * are counted from io_uring's own tracepoints, like their syscall twins:
 * submission notes the time and what only the submitter's context knows
 * (the fd a close names, the alignment of the user buffers); completion
 * counts, with the result, the file and its position at that point.
 *
 * Kernels name and shape these tracepoints differently: submission is
 * io_uring_submit_req from Linux 6.4 and io_uring_submit_sqe before (user
 * space loads whichever the kernel has), and completion's third argument
 * changed type, so the result is read from the request, where every kernel
 * keeps it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "ebpf_darshan.h"
#include "posix_record.bpf.h"

#define PF_IO_WORKER 0x00000010
#define IORING_FSYNC_DATASYNC 1
#define IO_URING_INFLIGHT_MAX 16384
#define O_CREAT 0100
#define O_TMPFILE 020000000

/* What a request is, for counting. */
enum uring_class {
	U_NONE, U_READ, U_WRITE, U_FSYNC, U_OPEN, U_CLOSE, U_STATX,
};

struct uring_call {
	__u64 start_ns;
	__u32 proc;
	__u8 opcode;
	bool mem_unaligned;
	struct file_key closing;
};

/* Requests between submission and completion.  LRU: a request whose
 * completion we never see (ring torn down) ages out instead of leaking. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, IO_URING_INFLIGHT_MAX);
	__type(key, __u64);
	__type(value, struct uring_call);
} uring_inflight SEC(".maps");

static __always_inline int uring_class(__u8 op)
{
	switch (op) {
	case IORING_OP_READ: case IORING_OP_READV: case IORING_OP_READ_FIXED:
		return U_READ;
	case IORING_OP_WRITE: case IORING_OP_WRITEV: case IORING_OP_WRITE_FIXED:
		return U_WRITE;
	case IORING_OP_FSYNC:
		return U_FSYNC;
	case IORING_OP_OPENAT: case IORING_OP_OPENAT2:
		return U_OPEN;
	case IORING_OP_CLOSE:
		return U_CLOSE;
	case IORING_OP_STATX:
		return U_STATX;
	}
	return U_NONE;
}

/* The traced process behind a submission: the submitter, or for an
 * SQPOLL ring the process its kernel thread belongs to. */
static __always_inline struct task_state *uring_owner(void)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct task_state *st = traced_task(task);

	if (!st && (task->flags & PF_IO_WORKER))
		st = traced_task(task->group_leader);
	return st;
}

static __always_inline void on_submit(struct io_kiocb *req)
{
	struct uring_call call = {};
	__u64 id = (__u64)req;
	struct task_state *st;
	int cls = uring_class(req->opcode);

	if (cls == U_NONE)
		return;
	st = uring_owner();
	if (!st)
		return;
	call.proc = st->proc;
	call.opcode = req->opcode;
	if (cls == U_READ || cls == U_WRITE) {
		struct io_rw *rw = typed(&req->cmd, struct io_rw);
		__u64 addr = FILE_READ(rw, addr);

		call.mem_unaligned = req->opcode == IORING_OP_READV || req->opcode == IORING_OP_WRITEV ?
			iov_misaligned((const struct iovec *)addr, FILE_READ(rw, len)) :
			misaligned(addr);
	} else if (cls == U_CLOSE) {
		struct io_close *cl = typed(&req->cmd, struct io_close);
		struct file *f = fd_file(FILE_READ(cl, fd));

		if (f)
			file_key_of(f, call.proc, &call.closing);
	}
	call.start_ns = bpf_ktime_get_ns();
	bpf_map_update_elem(&uring_inflight, &id, &call, BPF_ANY);
}

/* Linux 6.4 and later. */
SEC("tp_btf/io_uring_submit_req")
int BPF_PROG(io_uring_submit, struct io_kiocb *req)
{
	on_submit(req);
	return 0;
}

/* Before Linux 6.4: the same moment under its old name. */
SEC("tp_btf/io_uring_submit_sqe")
int BPF_PROG(io_uring_submit_old, struct io_kiocb *req)
{
	on_submit(req);
	return 0;
}

/* The counted record of a completed request's file. */
static __always_inline struct posix_record *uring_record(struct file *f, __u32 proc)
{
	struct file_key key = {};
	struct record_place at = {};
	struct posix_record *r = file_record(f, proc, &key, &at);

	return r && !(r->flags & RECORD_EXCLUDED) ? r : 0;
}

static __always_inline void uring_stat(struct io_kiocb *req, struct uring_call *call,
				       __u64 t2)
{
	struct io_statx *sx = typed(&req->cmd, struct io_statx);
	struct statx_id id = {};
	struct file_key key = { .proc = call->proc };
	struct posix_record *r;

	/* Only files that already have a record: the path is not ours to
	 * read here. */
	read_statx_id(FILE_READ(sx, buffer), &id);
	key.dev = statx_dev(&id);
	key.ino = id.ino;
	r = find_record(&key);
	if (r && !(r->flags & RECORD_EXCLUDED))
		count_meta(r, &stat_op, call->start_ns, t2);
}

static __always_inline void uring_rw(struct io_kiocb *req, struct uring_call *call, bool write,
				     long res, __u64 t2)
{
	struct io_rw *rw = typed(&req->cmd, struct io_rw);
	struct file *f = typed_file(FILE_READ(req, file));
	struct posix_record *r = uring_record(f, call->proc);
	struct access a = {
		.write = write,
		.bytes = res,
		/* the request's position has moved past what it did */
		.offset = FILE_READ(rw, kiocb.ki_pos) - res,
		.mem_unaligned = call->mem_unaligned,
		.t1 = call->start_ns,
		.t2 = t2,
	};

	if (r)
		count_io(r, f, call->proc, &a);
}

static __always_inline void uring_open(struct io_kiocb *req, struct uring_call *call, long res,
				       __u64 t2)
{
	struct io_open *op = typed(&req->cmd, struct io_open);
	struct meta_op m = { .counter = POSIX_OPENS, .also = -1, .opening = true,
			     .by_path = true };
	struct posix_record *r;

	if (FILE_READ(op, file_slot))  /* into the fixed table: no fd */
		return;
	r = uring_record(fd_file(res), call->proc);
	if (!r)
		return;
	if (FILE_READ(op, how.flags) & (O_CREAT | O_TMPFILE))
		m.mode = FILE_READ(op, how.mode);
	count_meta(r, &m, call->start_ns, t2);
}

SEC("tp_btf/io_uring_complete")
int BPF_PROG(io_uring_done, struct io_ring_ctx *ring, void *raw_req)
{
	__u64 id = (__u64)raw_req;
	struct uring_call *found = bpf_map_lookup_elem(&uring_inflight, &id);
	struct io_kiocb *req = typed(raw_req, struct io_kiocb);
	struct uring_call call;
	__u64 t2;
	long res;

	if (!found)
		return 0;
	call = *found;
	bpf_map_delete_elem(&uring_inflight, &id);
	t2 = bpf_ktime_get_ns();
	res = FILE_READ(req, cqe.res);
	if (res < 0)
		return 0;
	switch (uring_class(call.opcode)) {
	case U_READ:
		uring_rw(req, &call, false, res, t2);
		break;
	case U_WRITE:
		uring_rw(req, &call, true, res, t2);
		break;
	case U_FSYNC: {
		struct io_sync *sync = typed(&req->cmd, struct io_sync);
		int counter = FILE_READ(sync, flags) & IORING_FSYNC_DATASYNC ?
			POSIX_FDSYNCS : POSIX_FSYNCS;

		count_sync(uring_record(typed_file(FILE_READ(req, file)), call.proc),
			   counter, call.start_ns, t2);
		break;
	}
	case U_OPEN:
		uring_open(req, &call, res, t2);
		break;
	case U_CLOSE:
		count_close(&call.closing, call.start_ns, t2);
		break;
	case U_STATX:
		uring_stat(req, &call, t2);
		break;
	}
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
