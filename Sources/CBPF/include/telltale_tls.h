/*
 * telltale_tls.h — a thin C layer over libbpf for the TLS write probes (bpf/tls_writes.bpf.c,
 * compiled by Plugins/EmbedBPF and embedded as base64 in the ProcessAttribution module): the
 * plaintext processes hand to OpenSSL's SSL_write and SSL_write_ex.
 *
 * The object is opened from memory and loaded once; its socket tracepoint is attached at open;
 * the uprobes are attached per file (a libssl, or an executable or module carrying OpenSSL) with
 * telltale_tls_attach, and stay until close. Every function returns 0 / a count, or a negative
 * errno; none aborts or prints. Not thread-safe per handle: callers serialize every call on one
 * telltale_tls (the Swift side holds a lock).
 *
 * Permissions: creating a uprobe needs CAP_SYS_ADMIN (perf_event_open on the uprobe PMU is refused
 * with EACCES with only CAP_BPF + CAP_PERFMON); open checks for it first.
 */
#ifndef TELLTALE_TLS_H
#define TELLTALE_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "telltale_failure.h"
#include "telltale_tls_event.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A loaded TLS write probe object: its ring-buffer reader and the uprobes attached so far. */
struct telltale_tls;

/* One record as telltale_tls_poll copies it out: the header, then `header.length` bytes. */
struct telltale_tls_record {
    struct telltale_tls_write header;
    uint8_t data[TELLTALE_TLS_CHUNK];
};

/*
 * Opens the BPF ELF object in `object` (`size` bytes; copied, the caller may free it), loads its
 * programs, attaches the socket tracepoint, and prepares the ring-buffer reader. No uprobe is
 * attached yet. On success stores the handle in *out and returns 0. On failure returns a negative
 * errno (-EPERM when the process lacks CAP_SYS_ADMIN), stores NULL in *out and says why in
 * *failure (may be NULL).
 */
int telltale_tls_open(const void *object, size_t size, struct telltale_tls **out, struct telltale_failure *failure);

/*
 * Attaches the entry and return probes of SSL_write and SSL_write_ex to the file at `path` (found
 * by name in .dynsym or .symtab; a path through /proc/PID/root/... or /proc/PID/map_files/... is
 * fine: the probe lands on the file's inode and fires in every process mapping it). Returns how
 * many of the 4 probes attached (2 for a file with only SSL_write), or, when none did, a negative
 * errno (-ENOENT: neither function is in the file; -EACCES/-EPERM: no CAP_SYS_ADMIN) with the
 * reason in *failure (may be NULL). Attaching the same file twice attaches it twice: the caller
 * keeps track of the files it attached.
 */
int telltale_tls_attach(struct telltale_tls *t, const char *path, struct telltale_failure *failure);

/*
 * Copies up to `capacity` records into `records`, oldest first. If none is waiting, waits up to
 * `timeout_ms` (0: do not wait) for some. The kernel side wakes the reader only each time another
 * 64 KiB are waiting, so call it in a loop with a timeout of a few tens of milliseconds.
 * Records beyond `capacity` stay in the ring for the next call.
 * Returns the number of records copied (0 on timeout or EINTR), or a negative errno.
 */
int telltale_tls_poll(struct telltale_tls *t, struct telltale_tls_record *records, int capacity, int timeout_ms);

/* The kernel side's counter `which` (TELLTALE_TLS_COUNTER_*), summed over CPUs, since open. */
uint64_t telltale_tls_counter(struct telltale_tls *t, int which);

/* Probes attached so far (4 per file with both functions). */
int telltale_tls_probe_count(struct telltale_tls *t);

/* Detaches every probe and the tracepoint, and frees everything. NULL is allowed. */
void telltale_tls_close(struct telltale_tls *t);

#ifdef __cplusplus
}
#endif

#endif /* TELLTALE_TLS_H */
