/*
 * telltale_tls_event.h — the record the TLS write probes (bpf/tls_writes.bpf.c) put into their
 * ring buffer and the loader (Sources/CBPF/tls_probes.c) hands to userspace: a fixed header
 * followed by `length` bytes of the plaintext a process handed to OpenSSL's SSL_write or
 * SSL_write_ex. Shared by both sides: fixed layout, explicit widths, no pointers (the `ssl` field
 * is an address in the writing process, used only as an identifier), naturally aligned.
 *
 * One successful write of `total_length` bytes becomes one record per chunk of at most
 * TELLTALE_TLS_CHUNK bytes, up to TELLTALE_TLS_MAX_CHUNKS chunks: the bytes past
 * TELLTALE_TLS_CHUNK * TELLTALE_TLS_MAX_CHUNKS are not copied, and userspace counts them as skipped
 * from `total_length`. The chunks of one write share `tid` and `time_ns`.
 * Times are bpf_ktime_get_ns() (CLOCK_MONOTONIC); pids are as seen from the initial pid namespace.
 */
#ifndef TELLTALE_TLS_EVENT_H
#define TELLTALE_TLS_EVENT_H

#include "telltale_widths.h"

/* Ring-buffer record sizes (header included): a chunk takes the smallest that holds it, so a
 * 64-byte write costs a 256-byte record, not a 4 KiB one. */
#define TELLTALE_TLS_RECORD_SMALL 256
#define TELLTALE_TLS_RECORD_MEDIUM 1024
#define TELLTALE_TLS_RECORD_LARGE 4096
/* Bytes of plaintext one record carries at most (4096 - the 88-byte header). */
#define TELLTALE_TLS_CHUNK 4008
/* Records per write at most: bytes past 16 * 4008 = 64,128 are counted, not copied. */
#define TELLTALE_TLS_MAX_CHUNKS 16

/* telltale_tls_write.flags (bit set) */
enum {
    /* The write was SSL_write_ex (its length came from *written); otherwise SSL_write. */
    TELLTALE_TLS_FLAG_EX = 1u << 0,
    /* The socket fields hold the TCP/UDP socket the library wrote to during this call. Without it
     * the library wrote nowhere during the call (a memory BIO, as node's): the fields are zero. */
    TELLTALE_TLS_FLAG_SOCKET = 1u << 1,
    /* The chunk's bytes could not be read from the process (paged out): `length` is 0 and the
     * chunk's bytes count as skipped. */
    TELLTALE_TLS_FLAG_UNREADABLE = 1u << 2,
};

/* telltale_tls counters (a per-CPU array map `counters`, summed by the loader) */
enum {
    TELLTALE_TLS_COUNTER_DROPPED = 0,   /* records lost because the ring was full */
    TELLTALE_TLS_COUNTER_FAILED = 1,    /* writes that returned failure (retried later, usually) */
    TELLTALE_TLS_COUNTER_UNTRACKED = 2, /* writes whose entry could not be remembered (map full) */
    TELLTALE_TLS_COUNTERS = 3,
};

struct telltale_tls_write {
    uint32_t tgid;          /* process id (thread-group id) */
    uint32_t tid;           /* thread id */
    uint64_t time_ns;       /* when the write returned, CLOCK_MONOTONIC; the same for every chunk */
    uint64_t ssl;           /* the SSL* argument: names the TLS connection within the process */
    uint64_t total_length;  /* bytes the write reported written */
    uint32_t offset;        /* where this chunk starts within the write */
    uint32_t length;        /* bytes of data following this header */
    uint32_t flags;         /* TELLTALE_TLS_FLAG_* */
    uint32_t netns;         /* inode of the socket's network namespace, or 0 (see FLAG_SOCKET) */
    uint16_t family;        /* AF_INET (2) or AF_INET6 (10), or 0 */
    uint16_t local_port;    /* host byte order, or 0 */
    uint16_t remote_port;   /* host byte order, or 0 */
    uint16_t protocol;      /* sk->sk_protocol: IPPROTO_TCP 6, UDP 17, or 0 */
    uint8_t local_addr[16]; /* IPv4 in the first 4 bytes (network order), the rest zero; IPv6 as is */
    uint8_t remote_addr[16];
};

#ifndef __cplusplus
_Static_assert(sizeof(struct telltale_tls_write) == 88, "telltale_tls_write layout changed");
_Static_assert(TELLTALE_TLS_CHUNK == TELLTALE_TLS_RECORD_LARGE - 88, "chunk must fill the large record");
#endif

#endif /* TELLTALE_TLS_EVENT_H */
