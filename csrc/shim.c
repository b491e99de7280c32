// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* ebpf_darshan._shim: see shim.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <gelf.h>
#include <libelf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>
#include "ebpf_darshan.h"
#include "shim.h"

/* libbpf's own messages (verifier logs included) are kept, not printed:
 * user space turns failures into one line and shows the log on request. */
#define LOG_CAP (256 * 1024)
static char libbpf_log[LOG_CAP];
static size_t libbpf_log_len;
static char last_error[512];

static int keep_libbpf_output(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	int n;

	if (level == LIBBPF_DEBUG)
		return 0;
	if (libbpf_log_len >= LOG_CAP - 1)
		libbpf_log_len = 0;
	n = vsnprintf(libbpf_log + libbpf_log_len, LOG_CAP - libbpf_log_len, fmt, ap);
	if (n > 0)
		libbpf_log_len += (size_t)n < LOG_CAP - libbpf_log_len ? (size_t)n
								      : LOG_CAP - libbpf_log_len - 1;
	return 0;
}

static int fail(int err, const char *what, const char *name)
{
	if (err > 0)
		err = -err;
	snprintf(last_error, sizeof(last_error), "%s%s%s: %s", what, name ? " " : "",
		 name ? name : "", strerror(-err));
	errno = -err;
	return err;
}

const char *edb_last_error(void)
{
	return last_error;
}

const char *edb_libbpf_log(void)
{
	return libbpf_log;
}

/* Every program is loaded with a log buffer of its own at the verifier's
 * statistics level: it costs nothing on success, says how close the
 * program came to the verifier's limits (python -m ebpf_darshan.verifier_report), and on a
 * rejection holds the verifier's reason without the instruction dump that
 * libbpf's own retry would produce. */
#define PROG_LOG_LEN (64 * 1024)
#define BPF_LOG_STATS 4

struct edb_object {
	struct bpf_object *obj;
	struct bpf_link **links;
	size_t nlinks;
	char **prog_logs;   /* one per program, in object order */
	size_t nprogs;
};

struct edb_object *edb_open(const char *path)
{
	struct edb_object *o;
	int err;

	libbpf_set_print(keep_libbpf_output);
	o = calloc(1, sizeof(*o));
	if (!o) {
		fail(-ENOMEM, "open", path);
		return NULL;
	}
	o->obj = bpf_object__open_file(path, NULL);
	err = libbpf_get_error(o->obj);
	if (err) {
		fail(err, "cannot open BPF object", path);
		free(o);
		return NULL;
	}
	return o;
}

/* Where a `const volatile` global lives in the .rodata image, found by
 * name in its BTF: *img points at it, *size is its size. */
static int find_const(struct edb_object *o, const char *name, char **img, size_t *size)
{
	struct btf *btf = bpf_object__btf(o->obj);
	struct bpf_map *map;
	const struct btf_var_secinfo *vsi;
	const struct btf_type *sec;
	size_t sz;
	char *base;
	int id, i;

	id = btf ? btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC) : -ENOENT;
	if (id < 0)
		return -ENOENT;
	sec = btf__type_by_id(btf, id);
	bpf_object__for_each_map(map, o->obj) {
		const char *mname = bpf_map__name(map);
		size_t len = strlen(mname);

		if (bpf_map__is_internal(map) && len >= 7 && !strcmp(mname + len - 7, ".rodata"))
			break;
	}
	if (!map)
		return -ENOENT;
	/* libbpf hands out the image read-only, but before load it is the
	 * very buffer the map is created from, as skeletons use it. */
	base = (char *)bpf_map__initial_value(map, &sz);
	vsi = btf_var_secinfos(sec);
	for (i = 0; i < btf_vlen(sec); i++, vsi++) {
		const struct btf_type *var = btf__type_by_id(btf, vsi->type);

		if (strcmp(btf__name_by_offset(btf, var->name_off), name))
			continue;
		if (vsi->offset + vsi->size > sz)
			return -EINVAL;
		*img = base + vsi->offset;
		*size = vsi->size;
		return 0;
	}
	return -ENOENT;
}

/* Set a `const volatile` global before load. */
int edb_set_const(struct edb_object *o, const char *name, const void *data, size_t size)
{
	char *img;
	size_t have;
	int err = find_const(o, name, &img, &have);

	if (err)
		return fail(err, "no constant", name);
	if (have != size)
		return fail(-EINVAL, "size mismatch for", name);
	memcpy(img, data, size);
	return 0;
}

/* Whether the object has that constant: objects share settings by name. */
int edb_has_const(struct edb_object *o, const char *name)
{
	char *img;
	size_t size;

	return find_const(o, name, &img, &size) == 0;
}

static struct bpf_map *find_map(struct edb_object *o, const char *name)
{
	struct bpf_map *map = bpf_object__find_map_by_name(o->obj, name);

	if (!map)
		fail(-ENOENT, "no map", name);
	return map;
}

int edb_resize_map(struct edb_object *o, const char *name, unsigned int max_entries)
{
	struct bpf_map *map = find_map(o, name);
	int err;

	if (!map)
		return -ENOENT;
	err = bpf_map__set_max_entries(map, max_entries);
	return err ? fail(err, "cannot resize map", name) : 0;
}

int edb_share_map(struct edb_object *o, const char *name, int fd)
{
	struct bpf_map *map = find_map(o, name);
	int err;

	if (!map)
		return -ENOENT;
	err = bpf_map__reuse_fd(map, fd);
	return err ? fail(err, "cannot share map", name) : 0;
}

static struct bpf_program *prog_at(struct edb_object *o, size_t i)
{
	struct bpf_program *prog;
	size_t n = 0;

	bpf_object__for_each_program(prog, o->obj)
		if (n++ == i)
			return prog;
	return NULL;
}

int edb_prog_count(struct edb_object *o)
{
	struct bpf_program *prog;
	int n = 0;

	bpf_object__for_each_program(prog, o->obj)
		n++;
	return n;
}

const char *edb_prog_name(struct edb_object *o, int i)
{
	struct bpf_program *prog = i >= 0 ? prog_at(o, i) : NULL;

	return prog ? bpf_program__name(prog) : NULL;
}

static int keep_verifier_stats(struct edb_object *o)
{
	size_t i;

	o->nprogs = edb_prog_count(o);
	o->prog_logs = calloc(o->nprogs ? o->nprogs : 1, sizeof(*o->prog_logs));
	if (!o->prog_logs)
		return -ENOMEM;
	for (i = 0; i < o->nprogs; i++) {
		struct bpf_program *prog = prog_at(o, i);

		o->prog_logs[i] = calloc(1, PROG_LOG_LEN);
		if (!o->prog_logs[i])
			return -ENOMEM;
		bpf_program__set_log_buf(prog, o->prog_logs[i], PROG_LOG_LEN);
		bpf_program__set_log_level(prog, BPF_LOG_STATS);
	}
	return 0;
}

int edb_load(struct edb_object *o)
{
	int err = keep_verifier_stats(o);

	if (!err)
		err = bpf_object__load(o->obj);
	return err ? fail(err, "cannot load BPF object", bpf_object__name(o->obj)) : 0;
}

/* The verifier's statistics (or its reason for a rejection) of a program,
 * "" if the verifier never saw it. */
const char *edb_prog_log(struct edb_object *o, const char *name)
{
	size_t i;

	for (i = 0; i < o->nprogs; i++)
		if (!strcmp(bpf_program__name(prog_at(o, i)), name))
			return o->prog_logs[i];
	return "";
}

int edb_prog_fd(struct edb_object *o, const char *name)
{
	struct bpf_program *prog = bpf_object__find_program_by_name(o->obj, name);

	if (!prog)
		return fail(-ENOENT, "no program", name);
	return bpf_program__fd(prog);
}

/* Whether a tp_btf program's tracepoint is missing from the running
 * kernel (each tracepoint has a btf_trace_<name> typedef in its BTF):
 * such a program is left out rather than failing its whole object. */
int edb_prog_tracepoint_missing(struct edb_object *o, const char *name)
{
	static struct btf *vmlinux;
	struct bpf_program *prog = bpf_object__find_program_by_name(o->obj, name);
	const char *sec, *tp;
	char typedef_name[256];

	if (!prog)
		return fail(-ENOENT, "no program", name);
	sec = bpf_program__section_name(prog);
	if (strncmp(sec, "tp_btf/", 7))
		return 0;
	tp = sec + 7;
	if (!vmlinux) {
		vmlinux = btf__load_vmlinux_btf();
		if (libbpf_get_error(vmlinux)) {
			vmlinux = NULL;
			return 0;  /* let the load say what is wrong */
		}
	}
	snprintf(typedef_name, sizeof(typedef_name), "btf_trace_%s", tp);
	return btf__find_by_name_kind(vmlinux, typedef_name, BTF_KIND_TYPEDEF) < 0;
}

static int subprog_at(const struct bpf_func_info *funcs, __u32 nfuncs, __u32 insn)
{
	int found = -1;
	__u32 i;

	for (i = 0; i < nfuncs; i++)
		if (funcs[i].insn_off <= insn)
			found = i;
	return found;
}

/* The calls between the functions of a loaded program (the program, its
 * subprograms, its loop callbacks), read from the kernel's translated code:
 * pairs (caller, callee) in edges, functions numbered as the verifier
 * numbers them, the order of its per-function stack depths.  Returns the
 * number of pairs, or < 0 (the kernel may refuse raw dumps). */
long edb_prog_calls(struct edb_object *o, const char *name, unsigned int *edges,
		    size_t max_edges)
{
	struct bpf_program *prog = bpf_object__find_program_by_name(o->obj, name);
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), nfuncs, ninsns, i;
	struct bpf_func_info *funcs = NULL;
	struct bpf_insn *insns = NULL;
	bool jited;
	long n = 0;
	int fd;

	if (!prog || (fd = bpf_program__fd(prog)) < 0)
		return fail(-ENOENT, "no loaded program", name);
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return fail(-errno, "program info", name);
	nfuncs = info.nr_func_info;
	ninsns = info.xlated_prog_len / sizeof(struct bpf_insn);
	jited = info.jited_prog_len > 0;
	if (!ninsns || !nfuncs)
		return fail(-ENODATA, "no translated code for", name);
	funcs = calloc(nfuncs, sizeof(*funcs));
	insns = calloc(ninsns, sizeof(*insns));
	if (!funcs || !insns) {
		n = fail(-ENOMEM, "program info", name);
		goto out;
	}
	memset(&info, 0, sizeof(info));
	info.nr_func_info = nfuncs;
	info.func_info_rec_size = sizeof(*funcs);
	info.func_info = (unsigned long)funcs;
	info.xlated_prog_len = ninsns * sizeof(*insns);
	info.xlated_prog_insns = (unsigned long)insns;
	len = sizeof(info);
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		n = fail(-errno, "program info", name);
		goto out;
	}
	for (i = 0; i < ninsns && (size_t)n < max_edges; i++) {
		struct bpf_insn *insn = &insns[i];
		int callee = -1;

		if (insn->code == (BPF_JMP | BPF_CALL) && insn->src_reg == BPF_PSEUDO_CALL)
			/* once jited, the dump keeps the callee's number in imm */
			callee = jited ? insn->imm : subprog_at(funcs, nfuncs, i + insn->imm + 1);
		else if (insn->code == (BPF_LD | BPF_IMM | BPF_DW) &&
			 insn->src_reg == BPF_PSEUDO_FUNC)
			callee = subprog_at(funcs, nfuncs, i + insn->imm + 1);
		if (callee < 0)
			continue;
		edges[2 * n] = subprog_at(funcs, nfuncs, i);
		edges[2 * n + 1] = callee;
		n++;
	}
out:
	free(funcs);
	free(insns);
	return n;
}

int edb_set_autoattach(struct edb_object *o, const char *name, int on)
{
	struct bpf_program *prog = bpf_object__find_program_by_name(o->obj, name);

	if (!prog)
		return fail(-ENOENT, "no program", name);
	bpf_program__set_autoattach(prog, on);
	return 0;
}

int edb_set_autoload(struct edb_object *o, const char *name, int on)
{
	struct bpf_program *prog = bpf_object__find_program_by_name(o->obj, name);

	if (!prog)
		return fail(-ENOENT, "no program", name);
	return bpf_program__set_autoload(prog, on) ? fail(-EINVAL, "autoload", name) : 0;
}

int edb_attach(struct edb_object *o)
{
	struct bpf_program *prog;
	size_t n = 0;
	int err;

	bpf_object__for_each_program(prog, o->obj)
		n++;
	o->links = calloc(n ? n : 1, sizeof(*o->links));
	if (!o->links)
		return fail(-ENOMEM, "attach", NULL);
	bpf_object__for_each_program(prog, o->obj) {
		struct bpf_link *link;

		if (!bpf_program__autoload(prog) || !bpf_program__autoattach(prog))
			continue;
		link = bpf_program__attach(prog);
		err = libbpf_get_error(link);
		if (err)
			return fail(err, "cannot attach", bpf_program__name(prog));
		o->links[o->nlinks++] = link;
	}
	return 0;
}

int edb_map_fd(struct edb_object *o, const char *name)
{
	struct bpf_map *map = find_map(o, name);

	return map ? bpf_map__fd(map) : -ENOENT;
}

void edb_close(struct edb_object *o)
{
	if (!o)
		return;
	while (o->nlinks)
		bpf_link__destroy(o->links[--o->nlinks]);
	free(o->links);
	bpf_object__close(o->obj);
	while (o->prog_logs && o->nprogs)
		free(o->prog_logs[--o->nprogs]);
	free(o->prog_logs);
	free(o);
}

int edb_map_update(int fd, const void *key, const void *value, unsigned long long flags)
{
	int err = bpf_map_update_elem(fd, key, value, flags);

	return err ? fail(-errno, "map update", NULL) : 0;
}

int edb_map_lookup(int fd, const void *key, void *value, unsigned long long flags)
{
	int err = bpf_map_lookup_elem_flags(fd, key, value, flags);

	return err ? fail(-errno, "map lookup", NULL) : 0;
}

/* Delete count keys (laid out back to back) from a hash map at once. */
int edb_map_delete_batch(int fd, const void *keys, unsigned int count)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 n = count;

	if (count && bpf_map_delete_batch(fd, keys, &n, &opts))
		return fail(-errno, "map batch delete", NULL);
	return 0;
}

/* Push count values onto a queue map. */
int edb_queue_push(int fd, const void *values, size_t value_size, unsigned int count)
{
	unsigned int i;

	for (i = 0; i < count; i++)
		if (bpf_map_update_elem(fd, NULL, (const char *)values + i * value_size, BPF_ANY))
			return fail(-errno, "queue push", NULL);
	return 0;
}

/* Copy every entry of a hash map into keys/values (capacity entries at
 * most) in batches.  Returns the number of entries copied. */
long edb_map_dump(int fd, void *keys, size_t key_size, void *values, size_t value_size,
		  size_t capacity)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	unsigned long long batch = 0;
	size_t total = 0;
	bool first = true;

	while (total < capacity) {
		__u32 count = capacity - total;
		int err = bpf_map_lookup_batch(fd, first ? NULL : &batch, &batch,
					       (char *)keys + total * key_size,
					       (char *)values + total * value_size, &count, &opts);

		total += count;
		first = false;
		if (err) {
			if (errno == ENOENT)
				break;
			return fail(-errno, "map batch read", NULL);
		}
	}
	return total;
}

/* DXT segments are kept as an array of struct io_segment that grows up to
 * a bound; what arrives beyond it is counted, not kept. */
#define SEGMENTS_FIRST_CAP (64 * 1024)

struct segment_array {
	struct io_segment *items;
	size_t count, cap, max;
	unsigned long long over_trace, over_pending;
};

/* Events drained from the ring buffer are laid out as
 * [u32 length][payload, padded to 8 bytes] in a growing buffer. */
struct edb_events {
	struct ring_buffer *rb;
	char *buf;
	size_t len, cap;
	int oom;
	struct segment_array seg;
};

static int keep_event(void *ctx, void *data, size_t size)
{
	struct edb_events *ev = ctx;
	size_t need = 8 + ((size + 7) & ~(size_t)7);

	if (ev->len + need > ev->cap) {
		size_t cap = ev->cap ? ev->cap * 2 : 1 << 20;
		char *buf;

		while (cap < ev->len + need)
			cap *= 2;
		buf = realloc(ev->buf, cap);
		if (!buf) {
			ev->oom = 1;
			return 0;
		}
		ev->buf = buf;
		ev->cap = cap;
	}
	*(unsigned int *)(ev->buf + ev->len) = size;
	memcpy(ev->buf + ev->len + 8, data, size);
	ev->len += need;
	return 0;
}

static int keep_segment(void *ctx, void *data, size_t size)
{
	struct edb_events *ev = ctx;
	struct segment_array *seg = &ev->seg;
	const struct io_segment *s = data;

	if (size != sizeof(*s))
		return 0;
	if (seg->count == seg->max) {
		seg->over_trace += (s->flags & SEG_TRACE) != 0;
		seg->over_pending += (s->flags & SEG_HEATMAP_PENDING) != 0;
		return 0;
	}
	if (seg->count == seg->cap) {
		size_t cap = seg->cap ? seg->cap * 2 : SEGMENTS_FIRST_CAP;
		struct io_segment *items;

		if (cap > seg->max)
			cap = seg->max;
		items = realloc(seg->items, cap * sizeof(*items));
		if (!items) {
			ev->oom = 1;
			return 0;
		}
		seg->items = items;
		seg->cap = cap;
	}
	seg->items[seg->count++] = *s;
	return 0;
}

/* Drain the segments ring (map_fd) too, keeping at most max_segments. */
int edb_events_add_segments(struct edb_events *ev, int map_fd, size_t max_segments)
{
	int err = ring_buffer__add(ev->rb, map_fd, keep_segment, ev);

	if (err)
		return fail(err, "segments ring buffer", NULL);
	ev->seg.max = max_segments;
	return 0;
}

void edb_segments_info(struct edb_events *ev, struct edb_segments_info *out)
{
	out->data = ev->seg.items;
	out->count = ev->seg.count;
	out->over_limit_trace = ev->seg.over_trace;
	out->over_limit_pending = ev->seg.over_pending;
}

void edb_segments_clear(struct edb_events *ev)
{
	ev->seg.count = 0;
	ev->seg.over_trace = 0;
	ev->seg.over_pending = 0;
}

struct edb_events *edb_events_new(int map_fd)
{
	struct edb_events *ev = calloc(1, sizeof(*ev));
	int err;

	if (!ev) {
		fail(-ENOMEM, "ring buffer", NULL);
		return NULL;
	}
	ev->rb = ring_buffer__new(map_fd, keep_event, ev, NULL);
	err = libbpf_get_error(ev->rb);
	if (err) {
		fail(err, "ring buffer", NULL);
		free(ev);
		return NULL;
	}
	return ev;
}

/* Wait up to timeout_ms, drain everything, return the bytes now buffered. */
long edb_events_poll(struct edb_events *ev, int timeout_ms)
{
	int err = ring_buffer__poll(ev->rb, timeout_ms);

	/* segments do not wake us up one by one: drain every ring */
	if (err >= 0 || err == -EINTR)
		err = ring_buffer__consume(ev->rb);
	if (err < 0 && err != -EINTR)
		return fail(err, "ring buffer poll", NULL);
	if (ev->oom)
		return fail(-ENOMEM, "ring buffer drain", NULL);
	return ev->len;
}

const void *edb_events_data(struct edb_events *ev)
{
	return ev->buf;
}

void edb_events_clear(struct edb_events *ev)
{
	ev->len = 0;
}

void edb_events_free(struct edb_events *ev)
{
	if (!ev)
		return;
	ring_buffer__free(ev->rb);
	free(ev->buf);
	free(ev->seg.items);
	free(ev);
}

/* BPF_LINK_CREATE of an uprobe_multi link (Linux 6.6), which the uapi
 * headers and libbpf 1.1 of Debian 12 do not know yet. */
#define EDB_TRACE_UPROBE_MULTI 48
#define EDB_F_UPROBE_MULTI_RETURN 1

struct edb_uprobe_multi_attr {
	__u32 prog_fd;
	__u32 target_fd;
	__u32 attach_type;
	__u32 flags;
	__aligned_u64 path;
	__aligned_u64 offsets;
	__aligned_u64 ref_ctr_offsets;
	__aligned_u64 cookies;
	__u32 cnt;
	__u32 uprobe_flags;
	__u32 pid;
	__u32 pad;
};

/* Before load: the object's uprobe programs become uprobe_multi programs. */
int edb_use_uprobe_multi(struct edb_object *o)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, o->obj) {
		if (bpf_program__type(prog) != BPF_PROG_TYPE_KPROBE)
			continue;
		if (bpf_program__set_expected_attach_type(prog, EDB_TRACE_UPROBE_MULTI))
			return fail(-EINVAL, "cannot make an uprobe_multi program of",
				    bpf_program__name(prog));
	}
	return 0;
}

/* Attach program prog_name at the entries (or returns) of n functions, at
 * file offsets `offsets` of the library at path, in process pid only: the
 * kernel puts the breakpoints in pid's address space alone, so other
 * processes mapping the library pay nothing.  pid 0: in every process that
 * maps the file, now or later.  One link for all functions, because each
 * link costs an RCU grace period to take down.  Returns the link's fd. */
int edb_attach_uprobes(struct edb_object *o, const char *prog_name, int pid, const char *path,
		       const unsigned long *offsets, const unsigned long long *cookies,
		       unsigned int n, int retprobe)
{
	struct bpf_program *prog = bpf_object__find_program_by_name(o->obj, prog_name);
	struct edb_uprobe_multi_attr attr;
	int fd;

	if (pid < 0)
		return fail(-EINVAL, "uprobes are attached per process or to all, not to pid", NULL);
	if (!prog)
		return fail(-ENOENT, "no program", prog_name);
	memset(&attr, 0, sizeof(attr));
	attr.prog_fd = bpf_program__fd(prog);
	attr.attach_type = EDB_TRACE_UPROBE_MULTI;
	attr.path = (unsigned long)path;
	attr.offsets = (unsigned long)offsets;
	attr.cookies = (unsigned long)cookies;
	attr.cnt = n;
	attr.uprobe_flags = retprobe ? EDB_F_UPROBE_MULTI_RETURN : 0;
	attr.pid = pid;
	fd = syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof(attr));
	return fd < 0 ? fail(-errno, "cannot attach uprobes in", path) : fd;
}

/* Symbol versions marked hidden are old compatibility copies. */
#define VERSYM_HIDDEN 0x8000

static Elf_Scn *find_section(Elf *elf, Elf64_Word type)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(elf, scn)))
		if (gelf_getshdr(scn, &sh) && sh.sh_type == type)
			return scn;
	return NULL;
}

/* Look the names up in one symbol table; a default-version definition
 * replaces a hidden one found earlier. */
static void scan_symbols(Elf *elf, Elf_Scn *symtab, Elf_Data *versyms, const char **names,
			 size_t n, unsigned long *offsets, char *hidden)
{
	GElf_Shdr sh, target;
	Elf_Data *data = elf_getdata(symtab, NULL);
	size_t count, i, j;

	if (!data || !gelf_getshdr(symtab, &sh) || !sh.sh_entsize)
		return;
	count = sh.sh_size / sh.sh_entsize;
	for (i = 0; i < count; i++) {
		GElf_Sym sym;
		GElf_Versym ver = 0;
		const char *name;

		if (!gelf_getsym(data, i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
		    sym.st_shndx == SHN_UNDEF || sym.st_value == 0)
			continue;
		name = elf_strptr(elf, sh.sh_link, sym.st_name);
		if (!name)
			continue;
		if (versyms)
			gelf_getversym(versyms, i, &ver);
		for (j = 0; j < n; j++) {
			if (strcmp(name, names[j]) || (offsets[j] && !(hidden[j] && !(ver & VERSYM_HIDDEN))))
				continue;
			if (!gelf_getshdr(elf_getscn(elf, sym.st_shndx), &target))
				continue;
			/* uprobes take file offsets: the symbol's address moved
			 * from its section's address to the section's file offset */
			offsets[j] = sym.st_value - target.sh_addr + target.sh_offset;
			hidden[j] = (ver & VERSYM_HIDDEN) != 0;
		}
	}
}

/* File offsets of the functions `names` in the ELF file at path (0 where a
 * name is not a defined function).  Returns how many were found. */
long edb_elf_func_offsets(const char *path, const char **names, size_t n, unsigned long *offsets)
{
	Elf_Scn *dynsym, *symtab, *versym;
	char *hidden;
	long found = 0;
	size_t i;
	Elf *elf;
	int fd;

	memset(offsets, 0, n * sizeof(*offsets));
	if (elf_version(EV_CURRENT) == EV_NONE)
		return fail(-EINVAL, "libelf", NULL);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(-errno, "cannot open", path);
	hidden = calloc(n ? n : 1, 1);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || !hidden || elf_kind(elf) != ELF_K_ELF) {
		free(hidden);
		if (elf)
			elf_end(elf);
		close(fd);
		return fail(-ENOEXEC, "not an ELF file:", path);
	}
	dynsym = find_section(elf, SHT_DYNSYM);
	symtab = find_section(elf, SHT_SYMTAB);
	versym = find_section(elf, SHT_GNU_versym);
	if (dynsym)
		scan_symbols(elf, dynsym, versym ? elf_getdata(versym, NULL) : NULL, names, n,
			     offsets, hidden);
	if (symtab)
		scan_symbols(elf, symtab, NULL, names, n, offsets, hidden);
	for (i = 0; i < n; i++)
		found += offsets[i] != 0;
	free(hidden);
	elf_end(elf);
	close(fd);
	return found;
}
