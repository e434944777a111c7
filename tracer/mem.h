/*
 * Tracee memory. Reads go through process_vm_readv (one syscall for any size) and fall
 * back to /proc/PID/mem; writes go through /proc/PID/mem, which the kernel lets a tracer
 * use on read-only code pages (process_vm_writev cannot), with PTRACE_POKEDATA as the
 * last resort. With MHOOK_DEBUG=1 every write is logged with its address and bytes
 * (tracer/debug.h).
 */
#ifndef MHOOK_MEM_H
#define MHOOK_MEM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Reads len bytes at addr in pid. Returns 0, or a negative errno (-ESRCH: gone). */
int mem_read(pid_t pid, uint64_t addr, void *buf, size_t len);

/* Writes len bytes at addr in pid, code pages included. The tracee should be stopped when
 * the bytes are code that may run. Returns 0 or a negative errno. */
int mem_write(pid_t pid, uint64_t addr, const void *buf, size_t len);

/* Forgets the cached /proc/PID/mem descriptor (after exec or detach). */
void mem_forget(pid_t pid);

/* Adapter for symbols.h's mem_read_fn: ctx is (void *)(intptr_t)pid. */
int mem_read_cb(void *ctx, uint64_t addr, void *buf, size_t len);

#endif
