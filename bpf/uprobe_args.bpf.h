/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The sixth argument register of a probed function, which libbpf 1.1's
 * bpf_tracing.h does not name (MPI_File_set_view's info, H5Dcreate2's dcpl).
 */
#ifndef UPROBE_ARGS_BPF_H
#define UPROBE_ARGS_BPF_H

#ifndef PT_REGS_PARM6
#ifdef __TARGET_ARCH_x86
#define PT_REGS_PARM6(x) (((struct pt_regs *)(x))->r9)
#else
#error "PT_REGS_PARM6 is only defined here for x86-64"
#endif
#endif

#endif /* UPROBE_ARGS_BPF_H */
