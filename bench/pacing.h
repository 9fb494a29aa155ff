/* Pacing for the benchmarks' load programs (udp-load.c, stream-load.c): a monotonic clock in
 * nanoseconds and a sleep until an absolute point of it. */
#ifndef TELLTALE_BENCH_PACING_H
#define TELLTALE_BENCH_PACING_H
#include <errno.h>
#include <stdint.h>
#include <time.h>

static inline int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static inline void sleep_until(int64_t deadline) {
    struct timespec t = {deadline / 1000000000, deadline % 1000000000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR) {}
}
#endif
