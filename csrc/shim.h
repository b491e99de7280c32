/* The C surface of ebpf_darshan._shim: a thin layer over libbpf that does
 * only what Python cannot do quickly or safely (load and attach objects,
 * drain the ring buffer, batch-read maps into caller-supplied buffers).
 * This file is also the cffi cdef, so it holds declarations only. */
struct edb_object;
struct edb_events;

const char *edb_last_error(void);
const char *edb_libbpf_log(void);

struct edb_object *edb_open(const char *path);
int edb_set_const(struct edb_object *obj, const char *name, const void *data, size_t size);
int edb_has_const(struct edb_object *obj, const char *name);
int edb_resize_map(struct edb_object *obj, const char *map, unsigned int max_entries);
int edb_share_map(struct edb_object *obj, const char *map, int fd);
int edb_set_autoload(struct edb_object *obj, const char *prog, int on);
int edb_load(struct edb_object *obj);
int edb_prog_count(struct edb_object *obj);
const char *edb_prog_name(struct edb_object *obj, int i);
const char *edb_prog_log(struct edb_object *obj, const char *prog);
int edb_prog_fd(struct edb_object *obj, const char *prog);
int edb_set_autoattach(struct edb_object *obj, const char *prog, int on);
int edb_prog_tracepoint_missing(struct edb_object *obj, const char *prog);
long edb_prog_calls(struct edb_object *obj, const char *prog, unsigned int *edges,
                    size_t max_edges);
int edb_attach(struct edb_object *obj);
int edb_map_fd(struct edb_object *obj, const char *map);
void edb_close(struct edb_object *obj);

int edb_map_update(int fd, const void *key, const void *value, unsigned long long flags);
int edb_map_lookup(int fd, const void *key, void *value, unsigned long long flags);
int edb_map_delete_batch(int fd, const void *keys, unsigned int count);
int edb_queue_push(int fd, const void *values, size_t value_size, unsigned int count);
long edb_map_dump(int fd, void *keys, size_t key_size, void *values, size_t value_size,
                  size_t capacity);

struct edb_events *edb_events_new(int map_fd);
long edb_events_poll(struct edb_events *ev, int timeout_ms);
const void *edb_events_data(struct edb_events *ev);
void edb_events_clear(struct edb_events *ev);
void edb_events_free(struct edb_events *ev);

int edb_use_uprobe_multi(struct edb_object *obj);
int edb_attach_uprobes(struct edb_object *obj, const char *prog, int pid, const char *path,
                       const unsigned long *offsets, const unsigned long long *cookies,
                       unsigned int n, int retprobe);
long edb_elf_func_offsets(const char *path, const char **names, size_t n,
                          unsigned long *offsets);

/* DXT segments (struct io_segment), drained with the events. */
struct edb_segments_info {
    const void *data;
    unsigned long count;
    unsigned long long over_limit_trace;    /* trace segments beyond the bound */
    unsigned long long over_limit_pending;  /* pending heatmap bytes beyond it */
};
int edb_events_add_segments(struct edb_events *ev, int map_fd, size_t max_segments);
void edb_segments_info(struct edb_events *ev, struct edb_segments_info *out);
/* Forget the segments kept so far and the counts beyond the bound (a
 * recorder that takes them as it goes: the node daemon). */
void edb_segments_clear(struct edb_events *ev);
