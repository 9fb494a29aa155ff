#ifndef TELLTALE_CLINUX_SHIM_H
#define TELLTALE_CLINUX_SHIM_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <malloc.h>
#include <sched.h>

/// Moves the calling thread into the network namespace open at `fd` (glibc's setns is not visible to Swift).
static inline int telltale_enter_network_namespace(int fd) { return setns(fd, CLONE_NEWNET); }

// GNU extensions Swift's Glibc leaves out. Declared rather than included: <unistd.h> and <spawn.h>
// read with _GNU_SOURCE define types (fd_set) that no longer match Glibc's.

/// A pipe with flags such as O_CLOEXEC set on both ends at once.
extern int pipe2(int ends[2], int flags);

/// Makes a spawned child close every descriptor from `lowest` up before it runs its program;
/// `actions` is a `posix_spawn_file_actions_t *`.
extern int posix_spawn_file_actions_addclosefrom_np(void *actions, int lowest);

/// Returns free heap memory to the system (after a burst), so the resident size falls again.
extern int malloc_trim(unsigned long pad);
#endif
