// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * tls_writes.bpf.c — what a process hands to OpenSSL to send, before it is encrypted.
 *
 * One ring buffer of `struct telltale_tls_write` records, each followed by up to
 * TELLTALE_TLS_CHUNK bytes of plaintext (Sources/CBPF/include/telltale_tls_event.h):
 *
 *   uprobe on SSL_write(ssl, buf, num) and SSL_write_ex(ssl, buf, num, written)
 *       Remembers the call (ssl, buf, num, written) under the thread's pid_tgid. Nothing is sent
 *       yet: entry probes also see attempts that fail (node calls SSL_write again with the same
 *       bytes while its handshake is unfinished), so only the return decides.
 *   tp_btf/sock_send_length  (process context)
 *       When the sending thread is inside a remembered write, the socket's 5-tuple and network
 *       namespace join the call: OpenSSL with a socket BIO writes the TLS records inside SSL_write.
 *       A memory BIO (node) writes later, from elsewhere: the record then says the socket is unknown.
 *   uretprobe on both
 *       On success (SSL_write: ret > 0 is the byte count; SSL_write_ex: ret == 1, the count is in
 *       *written) copies the bytes in chunks of at most TELLTALE_TLS_CHUNK, at most
 *       TELLTALE_TLS_MAX_CHUNKS of them; the record carries the total, so userspace counts what was
 *       not copied. A failed write emits nothing and is counted.
 *
 * Each chunk is reserved at the size that holds it (256, 1024 or 4096 bytes) and filled in place:
 * no per-CPU scratch (uprobe programs can be preempted mid-run, and a scratch buffer shared on the
 * CPU would then mix two writes), and no reserve-then-discard (discarded records keep their room in
 * the ring until the reader passes them). The files to probe are chosen by userspace
 * (Sources/ProcessAttribution/TLSLibraryScanner.swift) and attached per file by
 * Sources/CBPF/tls_probes.c. Build: as bpf/socket_events.bpf.c (Plugins/EmbedBPF does it).
 */

#include "kernel_socket.h"

enum {
    BPF_MAP_TYPE_PERCPU_ARRAY = 6,
    BPF_MAP_TYPE_LRU_HASH = 9,
    BPF_MAP_TYPE_RINGBUF = 27,
};
enum { BPF_ANY = 0 };

/* The user registers a uprobe program receives (uapi layout of x86-64's struct pt_regs, which is
 * also the kernel's): bpf_tracing.h reads the arguments and the return value from it. */
struct pt_regs {
    unsigned long r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8;
    unsigned long rax, rcx, rdx, rsi, rdi, orig_rax, rip, cs, eflags, rsp, ss;
};

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "telltale_tls_event.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define HEADER_SIZE sizeof(struct telltale_tls_write)
/* 4 MiB: about 1,000 full chunks (64 whole 64 KiB writes) or 16,000 small ones waiting. Resident
 * from the start (the kernel maps the ring's pages twice, at once). */
#define RING_SIZE (4 * 1024 * 1024)
/* Wake the reader only when this much is waiting; below it the reader's poll timeout collects. */
#define WAKEUP_THRESHOLD (64 * 1024)
/* Writes in progress at once (threads inside SSL_write). LRU: an entry whose return never came (the
 * process died inside the call, or the probes were detached) ages out instead of filling the map. */
#define MAX_IN_PROGRESS 8192

/* ---- maps ---- */
struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, RING_SIZE);
} tls_records SEC(".maps");

/* TELLTALE_TLS_COUNTER_*, per CPU. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, TELLTALE_TLS_COUNTERS);
    __type(key, __u32);
    __type(value, __u64);
} counters SEC(".maps");

/* A write between its entry and its return. */
struct write_call {
    __u64 ssl;
    __u64 buffer;
    __u64 written; /* SSL_write_ex's size_t *written; 0 for SSL_write */
    __u64 length;  /* the length asked for */
    __u32 flags;   /* TELLTALE_TLS_FLAG_EX, TELLTALE_TLS_FLAG_SOCKET */
    __u32 netns;
    __u16 family;
    __u16 local_port;
    __u16 remote_port;
    __u16 protocol;
    __u8 local_addr[16];
    __u8 remote_addr[16];
};

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, MAX_IN_PROGRESS);
    __type(key, __u64); /* pid_tgid */
    __type(value, struct write_call);
} in_progress SEC(".maps");

static __always_inline void count(__u32 counter, __u64 amount)
{
    __u64 *value = bpf_map_lookup_elem(&counters, &counter);
    if (value)
        *value += amount;
}

/* ---- entry ---- */
static __always_inline int remember(const void *ssl, const void *buffer, __u64 length, const void *written,
                                    __u32 flags)
{
    __u64 key = bpf_get_current_pid_tgid();
    struct write_call call = {};
    call.ssl = (__u64)ssl;
    call.buffer = (__u64)buffer;
    call.written = (__u64)written;
    call.length = length;
    call.flags = flags;
    if (bpf_map_update_elem(&in_progress, &key, &call, BPF_ANY) != 0)
        count(TELLTALE_TLS_COUNTER_UNTRACKED, 1);
    return 0;
}

SEC("uprobe")
int BPF_KPROBE(telltale_ssl_write, const void *ssl, const void *buffer, int length)
{
    return remember(ssl, buffer, length > 0 ? (__u64)length : 0, 0, 0);
}

SEC("uprobe")
int BPF_KPROBE(telltale_ssl_write_ex, const void *ssl, const void *buffer, __u64 length, const void *written)
{
    return remember(ssl, buffer, length, written, TELLTALE_TLS_FLAG_EX);
}

/* ---- the socket the write goes to ---- */
SEC("tp_btf/sock_send_length")
int BPF_PROG(telltale_tls_socket, struct sock *sk, int ret, int send_flags)
{
    if (!sk)
        return 0;
    /* Runs on every send in the system while loaded: one hash lookup when no write is in progress. */
    __u64 key = bpf_get_current_pid_tgid();
    struct write_call *call = bpf_map_lookup_elem(&in_progress, &key);
    if (!call || (call->flags & TELLTALE_TLS_FLAG_SOCKET))
        return 0;
    __u16 family = sk->__sk_common.skc_family;
    if (family != AF_INET && family != AF_INET6)
        return 0;
    call->family = family;
    call->protocol = sk->sk_protocol;
    call->local_port = sk->__sk_common.skc_num;
    call->remote_port = be16_to_host(sk->__sk_common.skc_dport);
    call->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
    if (family == AF_INET6) {
        bpf_core_read(call->local_addr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
        bpf_core_read(call->remote_addr, 16, &sk->__sk_common.skc_v6_daddr);
    } else {
        __builtin_memset(call->local_addr, 0, 16);
        __builtin_memset(call->remote_addr, 0, 16);
        bpf_core_read(call->local_addr, 4, &sk->__sk_common.skc_rcv_saddr);
        bpf_core_read(call->remote_addr, 4, &sk->__sk_common.skc_daddr);
    }
    call->flags |= TELLTALE_TLS_FLAG_SOCKET;
    return 0;
}

/* ---- return ---- */

/*
 * One chunk into a record of `record_size` bytes (a constant at every call, so the verifier sees a
 * constant reservation and the copy bounded by it). Returns -1 when the ring is full.
 */
static __always_inline int emit_chunk(const struct write_call *call, __u64 pid_tgid, __u64 time, __u64 total,
                                      __u32 offset, __u32 length, const __u32 record_size)
{
    struct telltale_tls_write *record = bpf_ringbuf_reserve(&tls_records, record_size, 0);
    if (!record)
        return -1;
    __u32 capacity = record_size - HEADER_SIZE;
    if (length > capacity)
        length = capacity;
    barrier_var(length);
    if (length > capacity)
        length = 0; /* unreachable; restates the bound for the verifier after the barrier */

    record->tgid = pid_tgid >> 32;
    record->tid = (__u32)pid_tgid;
    record->time_ns = time;
    record->ssl = call->ssl;
    record->total_length = total;
    record->offset = offset;
    record->flags = call->flags;
    record->netns = call->netns;
    record->family = call->family;
    record->local_port = call->local_port;
    record->remote_port = call->remote_port;
    record->protocol = call->protocol;
    __builtin_memcpy(record->local_addr, call->local_addr, 16);
    __builtin_memcpy(record->remote_addr, call->remote_addr, 16);

    void *data = (void *)(record + 1);
    if (bpf_probe_read_user(data, length, (const void *)(call->buffer + offset)) != 0) {
        record->flags |= TELLTALE_TLS_FLAG_UNREADABLE;
        length = 0;
    }
    record->length = length;

    /* Batched wakeups, as in socket_events.bpf.c: the reader is woken each time another 64 KiB are
     * waiting (the unread amount already counts this record), and finds the rest at its timeout. */
    __u64 waiting = bpf_ringbuf_query(&tls_records, BPF_RB_AVAIL_DATA);
    __u64 record_total = record_size + 8;
    __u64 before = waiting > record_total ? waiting - record_total : 0;
    int crossed = waiting / WAKEUP_THRESHOLD != before / WAKEUP_THRESHOLD;
    bpf_ringbuf_submit(record, crossed ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
    return 0;
}

#define SMALL_CAPACITY (TELLTALE_TLS_RECORD_SMALL - HEADER_SIZE)
#define MEDIUM_CAPACITY (TELLTALE_TLS_RECORD_MEDIUM - HEADER_SIZE)

static __always_inline int finish(long ret, __u32 is_ex)
{
    __u64 key = bpf_get_current_pid_tgid();
    struct write_call *found = bpf_map_lookup_elem(&in_progress, &key);
    if (!found)
        return 0;
    struct write_call call = *found;
    bpf_map_delete_elem(&in_progress, &key);
    if ((call.flags & TELLTALE_TLS_FLAG_EX) != is_ex)
        return 0; /* an entry of the other function: not this call's */

    __u64 total;
    if (is_ex) {
        if ((int)ret != 1) {
            count(TELLTALE_TLS_COUNTER_FAILED, 1);
            return 0;
        }
        __u64 written = 0;
        if (!call.written || bpf_probe_read_user(&written, sizeof(written), (const void *)call.written) != 0)
            written = call.length; /* success without a partial-write mode writes everything */
        total = written;
    } else {
        if ((int)ret <= 0) {
            count(TELLTALE_TLS_COUNTER_FAILED, 1);
            return 0;
        }
        total = (__u64)(int)ret;
    }
    if (total > call.length)
        total = call.length;
    if (total == 0)
        return 0;

    __u64 time = bpf_ktime_get_ns();
    __u64 wanted = (total + TELLTALE_TLS_CHUNK - 1) / TELLTALE_TLS_CHUNK;
    if (wanted > TELLTALE_TLS_MAX_CHUNKS)
        wanted = TELLTALE_TLS_MAX_CHUNKS;
    /* Whole chunks first, all in large records; then the one partial chunk at the size that holds
     * it. Choosing the size only once keeps the verifier's paths (and its load time) down. */
    __u64 whole = total / TELLTALE_TLS_CHUNK;
    __u32 i = 0;
    for (; i < TELLTALE_TLS_MAX_CHUNKS; i++) {
        if (i >= whole)
            break;
        if (emit_chunk(&call, key, time, total, i * TELLTALE_TLS_CHUNK, TELLTALE_TLS_CHUNK,
                       TELLTALE_TLS_RECORD_LARGE) < 0)
            goto full;
    }
    if (i < TELLTALE_TLS_MAX_CHUNKS && i < wanted) {
        __u32 offset = i * TELLTALE_TLS_CHUNK;
        __u32 length = (__u32)(total - offset);
        int r;
        if (length <= SMALL_CAPACITY)
            r = emit_chunk(&call, key, time, total, offset, length, TELLTALE_TLS_RECORD_SMALL);
        else if (length <= MEDIUM_CAPACITY)
            r = emit_chunk(&call, key, time, total, offset, length, TELLTALE_TLS_RECORD_MEDIUM);
        else
            r = emit_chunk(&call, key, time, total, offset, length, TELLTALE_TLS_RECORD_LARGE);
        if (r < 0)
            goto full;
    }
    return 0;

full:
    /* The ring is full: the later chunks of this write would not fit either. */
    count(TELLTALE_TLS_COUNTER_DROPPED, wanted > i ? wanted - i : 1);
    return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(telltale_ssl_write_return, long ret)
{
    return finish(ret, 0);
}

SEC("uretprobe")
int BPF_KRETPROBE(telltale_ssl_write_ex_return, long ret)
{
    return finish(ret, TELLTALE_TLS_FLAG_EX);
}
