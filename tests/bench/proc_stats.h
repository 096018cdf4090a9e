/*
 * proc_stats.h: what the benchmark reads about a process from /proc (CPU time, resident memory).
 */
#ifndef BENCH_PROC_STATS_H
#define BENCH_PROC_STATS_H

#include <sys/types.h>

/*
 * Reads the user + system CPU seconds process pid has used (/proc/<pid>/stat fields 14 and 15).
 * Returns 0 and sets *cpu_seconds, or GIM_ERR_NOT_FOUND if the process is gone or unreadable.
 */
int proc_cpu_seconds(pid_t pid, double *cpu_seconds);

/*
 * Reads the resident set size of process pid in KiB (/proc/<pid>/status VmRSS).
 * Returns 0 and sets *rss_kib, or GIM_ERR_NOT_FOUND.
 */
int proc_rss_kib(pid_t pid, long *rss_kib);

/* Returns the CPU seconds (user + system) of the calling process from getrusage. */
double proc_self_cpu_seconds(void);

#endif
