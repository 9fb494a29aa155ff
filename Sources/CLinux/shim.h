#ifndef TELLTALE_CLINUX_SHIM_H
#define TELLTALE_CLINUX_SHIM_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sched.h>

/// Moves the calling thread into the network namespace open at `fd` (glibc's setns is not visible to Swift).
static inline int telltale_enter_network_namespace(int fd) { return setns(fd, CLONE_NEWNET); }
#endif
