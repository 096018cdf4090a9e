/* proc_stats.c: /proc readers for the benchmark (see proc_stats.h). */
#include "tests/bench/proc_stats.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/status.h"

int proc_cpu_seconds(pid_t pid, double *cpu_seconds)
{
    char path[64], text[1024];
    const char *after_name;
    unsigned long user_ticks, system_ticks;
    size_t length;
    FILE *file;
    long ticks_per_second = sysconf(_SC_CLK_TCK);

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    file = fopen(path, "r");
    if (file == NULL)
        return GIM_ERR_NOT_FOUND;
    length = fread(text, 1, sizeof(text) - 1, file);
    fclose(file);
    text[length] = '\0';
    /* the command name (field 2) is in parentheses and may hold spaces: skip past the last ')' */
    after_name = strrchr(text, ')');
    if (after_name == NULL || ticks_per_second <= 0)
        return GIM_ERR_NOT_FOUND;
    /* fields 3..13 are skipped, 14 is utime, 15 stime */
    if (sscanf(after_name + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &user_ticks,
               &system_ticks) != 2)
        return GIM_ERR_NOT_FOUND;
    *cpu_seconds = (double)(user_ticks + system_ticks) / (double)ticks_per_second;
    return GIM_OK;
}

int proc_rss_kib(pid_t pid, long *rss_kib)
{
    char path[64], line[256];
    FILE *file;
    int status = GIM_ERR_NOT_FOUND;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    file = fopen(path, "r");
    if (file == NULL)
        return GIM_ERR_NOT_FOUND;
    while (fgets(line, sizeof(line), file) != NULL) {
        if (sscanf(line, "VmRSS: %ld", rss_kib) == 1) {
            status = GIM_OK;
            break;
        }
    }
    fclose(file);
    return status;
}

double proc_self_cpu_seconds(void)
{
    struct rusage usage;

    if (getrusage(RUSAGE_SELF, &usage) != 0)
        return 0;
    return (double)usage.ru_utime.tv_sec + (double)usage.ru_utime.tv_usec / 1e6 +
           (double)usage.ru_stime.tv_sec + (double)usage.ru_stime.tv_usec / 1e6;
}
