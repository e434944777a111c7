/*
 * The benchmark's generated functions (bench_funcs.c): a thousand small distinct bodies
 * to patch, so that the timing covers the per-function work and not one hot cache line.
 */
#ifndef MHOOK_BENCH_H
#define MHOOK_BENCH_H

#define BENCH_NFUNCS 1000
extern int (*const bench_fns[BENCH_NFUNCS])(int);

#endif
