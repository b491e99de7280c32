/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The STDIO layer's contract with user space (bpf_layout.py mirrors it).
 */
#ifndef STDIO_LAYER_H
#define STDIO_LAYER_H

#include "ebpf_darshan.h"

/* Darshan's STDIO module (version 2): 14 integer counters, the last four
 * only for shared records, so the kernel keeps the first ten. */
#define STDIO_KERNEL_COUNTERS 10

enum stdio_counter {
	STDIO_OPENS = 0,
	STDIO_FDOPENS = 1,
	STDIO_READS = 2,
	STDIO_WRITES = 3,
	STDIO_SEEKS = 4,
	STDIO_FLUSHES = 5,
	STDIO_BYTES_WRITTEN = 6,
	STDIO_BYTES_READ = 7,
	STDIO_MAX_BYTE_READ = 8,
	STDIO_MAX_BYTE_WRITTEN = 9,
};

/* Times in nanoseconds at the index of the Darshan float counter they
 * become (STDIO's order: three timers, then timestamps). */
enum stdio_time {
	ST_META_TIME = 0,
	ST_WRITE_TIME = 1,
	ST_READ_TIME = 2,
	ST_OPEN_START = 3,
	ST_CLOSE_START = 4,
	ST_WRITE_START = 5,
	ST_READ_START = 6,
	ST_OPEN_END = 7,
	ST_CLOSE_END = 8,
	ST_WRITE_END = 9,
	ST_READ_END = 10,
	ST_NUM_TIMES = 11,
};

/* What a probed function does, in the low byte of its probe's cookie; the
 * next byte is which argument (1-4) is the FILE *, 0 for stdout. */
enum stdio_op {
	SIO_INSIDE = 0,        /* counted nowhere; only its system calls are hidden from POSIX */
	SIO_OPEN = 1,          /* fopen, fopen64: (path, mode) -> FILE * */
	SIO_REOPEN = 2,        /* freopen, freopen64: (path, mode, stream) -> FILE * */
	SIO_FDOPEN = 3,        /* fdopen: (fd, mode) -> FILE * */
	SIO_CLOSE = 4,
	SIO_FLUSH = 5,
	SIO_WRITE_ITEMS = 6,   /* fwrite: size x items written */
	SIO_WRITE_CHAR = 7,    /* fputc, putc: 1 byte unless EOF */
	SIO_WRITE_WORD = 8,    /* putw: sizeof(int) */
	SIO_WRITE_STRING = 9,  /* fputs: the bytes the stream moved */
	SIO_WRITE_FORMAT = 10, /* fprintf family: the return value */
	SIO_READ_ITEMS = 11,   /* fread */
	SIO_READ_CHAR = 12,    /* fgetc, getc */
	SIO_READ_WORD = 13,    /* getw */
	SIO_READ_STRING = 14,  /* fgets: the bytes the stream moved */
	SIO_READ_FORMAT = 15,  /* fscanf family: the bytes the stream moved */
	SIO_READ_DELIM = 16,   /* getline, getdelim: the return value */
	SIO_SEEK = 17,         /* fseek family, fsetpos: offset = position after */
	SIO_REWIND = 18,
};

#define COOKIE_OP(c) ((c) & 0xff)
#define COOKIE_STREAM_ARG(c) (((c) >> 8) & 0xff)

/* stdin, stdout and stderr get records keyed (proc, STD_STREAM_DEV, fd). */
#define STD_STREAM_DEV 0xffffffffU

/* Uprobe programs may not take spin locks: counters are updated with
 * atomics, the offset is claimed atomically, timers and timestamps of
 * calls racing on one record from two threads may lose an update. */
struct stdio_record {
	__u32 flags;
	__u32 pad;
	__s64 counters[STDIO_KERNEL_COUNTERS];
	__s64 times[ST_NUM_TIMES];
	__s64 offset;          /* Darshan's offset: reset by opens, set by seeks */
	__u64 last_read_end;
	__u64 last_write_end;
	__u64 last_meta_end;
};

#endif /* STDIO_LAYER_H */
