/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Darshan's access-size histogram buckets and common-value tables (format
 * spec 3.1), shared by the modules that keep them (POSIX, MPI-IO).
 */
#ifndef DARSHAN_TABLES_BPF_H
#define DARSHAN_TABLES_BPF_H

#include "ebpf_darshan.h"

/* Upper bounds of Darshan's ten access-size buckets (the last is open). */
#define SIZE_BUCKETS 10
static const __s64 size_bucket_top[SIZE_BUCKETS - 1] = {
	100, 1024, 10 * 1024, 100 * 1024, 1024 * 1024, 4 * 1024 * 1024,
	10 * 1024 * 1024, 100 * 1024 * 1024, 1024 * 1024 * 1024,
};

/* Count one occurrence of v in a table of the first VALUE_TABLE_SLOTS
 * distinct values; the top four are chosen in user space. */
static __always_inline void table_count(struct value_slot *table, __s64 v)
{
	for (int i = 0; i < VALUE_TABLE_SLOTS; i++) {
		if (table[i].count == 0) {
			table[i].value = v;
			table[i].count = 1;
			return;
		}
		if (table[i].value == v) {
			table[i].count++;
			return;
		}
	}
}

static __always_inline int size_bucket(__s64 n)
{
	for (int i = 0; i < SIZE_BUCKETS - 1; i++)
		if (n <= size_bucket_top[i])
			return i;
	return SIZE_BUCKETS - 1;
}

#endif /* DARSHAN_TABLES_BPF_H */
