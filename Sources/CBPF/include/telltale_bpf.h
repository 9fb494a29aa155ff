/*
 * telltale_bpf.h — a thin C layer over libbpf for Telltale's socket/exec events.
 *
 * The BPF object (bpf/socket_events.bpf.c, compiled by Plugins/EmbedBPF and embedded as
 * base64 in the ProcessAttribution module) is opened from memory, loaded, attached, and its
 * ring buffer read through this API. Every function returns 0 / a count, or a negative errno;
 * none aborts or prints. Not thread-safe per handle: one reader thread per telltale_bpf.
 */
#ifndef TELLTALE_BPF_H
#define TELLTALE_BPF_H

#include <stddef.h>
#include <stdint.h>

#include "telltale_bpf_event.h"
#include "telltale_failure.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An open, loaded and attached BPF object with its ring-buffer reader. */
struct telltale_bpf;

/*
 * Opens the BPF ELF object in `object` (`size` bytes; copied, the caller may free it), loads
 * every program, attaches every program, and prepares the ring-buffer reader.
 * On success stores the handle in *out and returns 0. On failure returns a negative errno,
 * stores NULL in *out and says why in *failure (naming the failing program where there is one;
 * may be NULL). libbpf's own printing to stderr is silenced; its last messages go into the
 * failure's detail instead.
 */
int telltale_bpf_open(const void *object, size_t size, struct telltale_bpf **out, struct telltale_failure *failure);

/*
 * Copies up to `capacity` events into `events`, oldest first. If none is waiting, waits up to
 * `timeout_ms` (0: do not wait; negative: wait until the kernel side wakes the reader) for some.
 * The kernel side wakes the reader only each time another 64 KiB (about 180 events) are
 * waiting, so fewer are seen when the timeout runs out: call it in a loop with a timeout of a
 * few tens of milliseconds (that bounds the delay of a lone event).
 * Events beyond `capacity` stay in the ring for the next call.
 * Returns the number of events copied (0 on timeout or EINTR), or a negative errno.
 */
int telltale_bpf_poll(struct telltale_bpf *b, struct telltale_event *events, int capacity, int timeout_ms);

/*
 * Waits up to `timeout_ms` until the kernel side wakes the reader (another 64 KiB of events are
 * waiting), without reading anything. Unlike telltale_bpf_poll it touches no reader state, so one
 * thread may wait here while another reads. Returns 1 when woken, 0 on timeout or EINTR, or a
 * negative errno.
 */
int telltale_bpf_wait(struct telltale_bpf *b, int timeout_ms);

/* Events the kernel side could not queue because the ring was full, since open (all CPUs). */
uint64_t telltale_bpf_dropped(struct telltale_bpf *b);

/* Detaches the programs and frees everything. NULL is allowed. */
void telltale_bpf_close(struct telltale_bpf *b);

#ifdef __cplusplus
}
#endif

#endif /* TELLTALE_BPF_H */
