// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * socket_events.bpf.c — kernel side of Telltale's process attribution.
 *
 * Tells userspace which process owns which socket, and which executable each process runs,
 * through one ring buffer of `struct telltale_event` (Sources/CBPF/include/telltale_bpf_event.h):
 *
 *   tp_btf/sock_send_length, tp_btf/sock_recv_length  (process context: the pid is right)
 *       AF_INET/AF_INET6 sockets: one SOCKET event per socket, again only when the owner tgid, the
 *       local port, the remote port or the remote address change (per-socket state in sk_storage).
 *       Nothing while the local port is 0. SOCK_RAW and AF_PACKET sockets: an event on every
 *       successful send, with its length (userspace matches those to packets by time).
 *   tp_btf/inet_sock_set_state  (TCP)
 *       CLOSE -> SYN_SENT runs inside connect() (process context) but before the source port is
 *       chosen: remember the owner in sk_storage. SYN_SENT -> ESTABLISHED/CLOSE runs in softirq
 *       (the current pid is whoever was interrupted): emit CONNECT with the remembered owner and
 *       the complete 5-tuple. The pid is never taken from softirq context.
 *   tp_btf/sched_process_exec
 *       EXEC event with the absolute path of the executable (dentry walk across mounts), falling
 *       back to linux_binprm->filename.
 *
 * CO-RE without vmlinux.h: the few kernel structures are declared below (the socket's in
 * kernel_socket.h, shared with tls_writes.bpf.c) with only the fields used, marked
 * preserve_access_index; libbpf relocates the offsets against the running kernel's
 * BTF at load time. Build: clang -target bpf -D__TARGET_ARCH_x86 -g -O2 -I Sources/CBPF/include
 * (Plugins/EmbedBPF does it).
 */

#include "kernel_socket.h"

/* ---- the rest of the uapi this program uses ---- */
typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef int pid_t;

enum {
    BPF_MAP_TYPE_ARRAY = 2,
    BPF_MAP_TYPE_PERCPU_ARRAY = 6,
    BPF_MAP_TYPE_SK_STORAGE = 24,
    BPF_MAP_TYPE_RINGBUF = 27,
};
enum { BPF_F_NO_PREALLOC = 1 };
enum { BPF_SK_STORAGE_GET_F_CREATE = 1 };

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "telltale_bpf_event.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* ---- kernel structures beyond the socket's (kernel_socket.h) ---- */
/* Only the local port as connect() set it: kept when the port itself is released. */
struct inet_sock {
    __be16 inet_sport;
} __core;

struct task_struct {
    pid_t pid;
    pid_t tgid;
    struct task_struct *real_parent;
    struct task_struct *group_leader;
    __u64 start_boottime;
    char comm[16];
} __core;

struct qstr {
    union {
        struct {
            __u32 hash;
            __u32 len;
        };
        __u64 hash_len;
    };
    const unsigned char *name;
} __core;

struct dentry {
    struct dentry *d_parent;
    struct qstr d_name;
} __core;

struct vfsmount {
    struct dentry *mnt_root;
} __core;

struct mount {
    struct mount *mnt_parent;
    struct dentry *mnt_mountpoint;
    struct vfsmount mnt;
} __core;

struct path {
    struct vfsmount *mnt;
    struct dentry *dentry;
} __core;

struct file {
    struct path f_path;
} __core;

/* AF_PACKET (net/packet/internal.h); `num` is the bound ethertype, network order. packet_create()
 * does not copy it into sk_protocol. Guarded by bpf_core_field_exists: kernels without AF_PACKET
 * still load the program. */
struct packet_sock {
    struct sock sk;
    __be16 num;
} __core;

struct linux_binprm {
    struct file *file;
    const char *filename;
} __core;

/* ---- constants ---- */
#define AF_PACKET 17
#define SOCK_RAW 3
#define IPPROTO_TCP 6
#define TCP_SYN_SENT 2
#define TCP_CLOSE 7

/* Wake the reader only when this much is waiting; below it the reader's poll timeout collects. */
#define WAKEUP_THRESHOLD (64 * 1024)
/* Socket events stop where `path` begins: only exec events carry it. A socket record is then 112
 * bytes instead of 368, and 2 MiB hold about 18,700 of them (4 MiB held 11,400 whole events). The
 * kernel maps the ring's pages twice and all at once, so its size is resident from the start. */
#define RING_SIZE (2 * 1024 * 1024)
#define SOCKET_EVENT_SIZE __builtin_offsetof(struct telltale_event, path)
#define EXEC_EVENT_SIZE sizeof(struct telltale_event)
/* A ring-buffer record: 8-byte header + the event, rounded up to 8 bytes. */
#define RECORD_SIZE(event_size) (((event_size) + 8 + 7) / 8 * 8)

#define PATH_COMPONENTS 32
#define SCRATCH_HALF 512 /* the path is built backwards ending at scratch[SCRATCH_HALF] */

/* ---- maps ---- */
struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, RING_SIZE);
} events SEC(".maps");

/* Events lost because the ring was full (bpf_ringbuf_reserve failed), per CPU. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} dropped SEC(".maps");

enum {
    ST_EMITTED = 1, /* tgid/lport/rport/raddr hold what was last reported */
    ST_PENDING = 2, /* owner_* hold the task that called connect(); CONNECT not yet emitted */
};

struct sk_state {
    __u64 raddr[2];    /* last reported remote address */
    __u64 owner_start; /* connect() caller's start_boottime */
    __u32 tgid;        /* last reported tgid */
    __u32 owner_tgid;  /* connect() caller */
    __u16 lport;       /* last reported local port (host order) */
    __u16 rport;       /* last reported remote port (host order) */
    __u32 flags;       /* ST_* */
    char owner_comm[16];
};

/* Records in the socket's storage what was just reported, so the same owner and endpoints are not
 * reported again. */
static __always_inline void remember_reported(struct sk_state *st, __u32 tgid, __u16 lport, __u16 rport,
                                              const __u64 raddr[2])
{
    st->tgid = tgid;
    st->lport = lport;
    st->rport = rport;
    st->raddr[0] = raddr[0];
    st->raddr[1] = raddr[1];
    st->flags |= ST_EMITTED;
}

struct {
    __uint(type, BPF_MAP_TYPE_SK_STORAGE);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, int);
    __type(value, struct sk_state);
} sk_states SEC(".maps");

struct scratch {
    __u64 seq; /* bumped by every user: a change means another exec on this CPU preempted us */
    char buf[2 * SCRATCH_HALF];
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct scratch);
} scratch SEC(".maps");

/* ---- events ---- */
static __always_inline struct telltale_event *reserve_event(__u8 kind)
{
    /* `kind` is a constant at every call: the verifier sees a constant size, and a socket event's
       program cannot write past `path`'s offset. */
    __u64 size = kind == TELLTALE_EVENT_EXEC ? EXEC_EVENT_SIZE : SOCKET_EVENT_SIZE;
    struct telltale_event *e = bpf_ringbuf_reserve(&events, size, 0);
    if (!e) {
        __u32 zero = 0;
        __u64 *count = bpf_map_lookup_elem(&dropped, &zero);
        if (count)
            *count += 1;
        return 0;
    }
    if (kind == TELLTALE_EVENT_EXEC)
        __builtin_memset(e, 0, EXEC_EVENT_SIZE);
    else
        __builtin_memset(e, 0, SOCKET_EVENT_SIZE);
    e->kind = kind;
    e->time_ns = bpf_ktime_get_ns();
    return e;
}

/*
 * Batched wakeups: waking the reader costs microseconds per event (an irq_work, a self-IPI in a
 * VM), so the reader is woken only when the unread data crosses a multiple of WAKEUP_THRESHOLD
 * (once per 64 KiB, ~580 socket events); below that it finds the events at its poll timeout. Waking on
 * every event past the threshold would make each event cost a wakeup exactly when the reader
 * lags. The unread amount already includes this record (counted at reserve time).
 */
static __always_inline void submit_event(struct telltale_event *e)
{
    __u64 record = RECORD_SIZE(e->kind == TELLTALE_EVENT_EXEC ? EXEC_EVENT_SIZE : SOCKET_EVENT_SIZE);
    __u64 waiting = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
    __u64 before = waiting > record ? waiting - record : 0;
    int crossed = waiting / WAKEUP_THRESHOLD != before / WAKEUP_THRESHOLD;
    bpf_ringbuf_submit(e, crossed ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
}

/* tgid, start time and comm of the current process (its thread-group leader). */
static __always_inline void fill_current(struct telltale_event *e)
{
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    struct task_struct *leader = BPF_CORE_READ(task, group_leader);
    e->tgid = bpf_get_current_pid_tgid() >> 32;
    e->start_time_ns = BPF_CORE_READ(leader, start_boottime);
    bpf_core_read(e->comm, sizeof(e->comm), &leader->comm);
}

/* `sk` must be a tracepoint argument (a BTF-typed pointer): the IPv4 address is a plain load. */
static __always_inline void read_remote(const struct sock *sk, __u16 family, __u64 raddr[2])
{
    raddr[0] = 0;
    raddr[1] = 0;
    if (family == AF_INET6)
        bpf_core_read(raddr, 16, &sk->__sk_common.skc_v6_daddr);
    else
        ((__u32 *)raddr)[0] = sk->__sk_common.skc_daddr; /* first 4 bytes, network order */
}

/* Socket fields: cookie, netns, family, protocol, type. */
static __always_inline void fill_socket(struct telltale_event *e, const struct sock *sk, __u16 family)
{
    e->family = family;
    e->protocol = BPF_CORE_READ(sk, sk_protocol);
    e->socket_type = BPF_CORE_READ(sk, sk_type);
    e->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
    e->cookie = bpf_get_socket_cookie((void *)sk);
}

/* Local address; the remote one is copied from what the caller already read. */
static __always_inline void fill_addresses(struct telltale_event *e, const struct sock *sk, __u16 family,
                                           const __u64 raddr[2])
{
    if (family == AF_INET6)
        bpf_core_read(e->local_addr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
    else
        bpf_core_read(e->local_addr, 4, &sk->__sk_common.skc_rcv_saddr);
    __builtin_memcpy(e->remote_addr, raddr, 16);
}

/* SOCK_RAW and AF_PACKET: every send, with its length; no ports (raw sockets keep the IP
 * protocol number in the local-port slot, AF_PACKET has none). */
static __always_inline void emit_every_send(const struct sock *sk, __u16 family, int ret)
{
    struct telltale_event *e = reserve_event(TELLTALE_EVENT_SOCKET);
    if (!e)
        return;
    e->op = TELLTALE_SOCKET_SEND;
    e->flags = TELLTALE_FLAG_EVERY_SEND;
    e->bytes = ret;
    fill_current(e);
    fill_socket(e, sk, family);
    if (family == AF_PACKET) {
        const struct packet_sock *po = (const struct packet_sock *)sk;
        if (bpf_core_field_exists(po->num))
            e->protocol = BPF_CORE_READ(po, num);
    } else {
        __u64 raddr[2];
        read_remote(sk, family, raddr);
        fill_addresses(e, sk, family, raddr);
    }
    submit_event(e);
}

static __always_inline int on_socket_io(struct sock *sk, int ret, __u8 op)
{
    if (!sk)
        return 0;
    /* Hot path (every send and receive): `sk` is a tracepoint argument the verifier knows by its
     * BTF type, so plain loads (CO-RE relocated) work and are cheaper than probe reads. */
    __u16 family = sk->__sk_common.skc_family;
    if (family == AF_PACKET) {
        if (op == TELLTALE_SOCKET_SEND && ret > 0)
            emit_every_send(sk, family, ret);
        return 0;
    }
    if (family != AF_INET && family != AF_INET6)
        return 0;
    if (sk->sk_type == SOCK_RAW) {
        if (op == TELLTALE_SOCKET_SEND && ret > 0)
            emit_every_send(sk, family, ret);
        return 0;
    }

    __u16 lport = sk->__sk_common.skc_num;
    if (lport == 0)
        return 0;
    __u16 rport = be16_to_host(sk->__sk_common.skc_dport);
    __u64 raddr[2];
    read_remote(sk, family, raddr);
    __u32 tgid = bpf_get_current_pid_tgid() >> 32;

    __u32 flags = 0;
    struct sk_state *st = bpf_sk_storage_get(&sk_states, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
    if (st) {
        if (st->flags & ST_EMITTED) {
            if (st->tgid == tgid && st->lport == lport && st->rport == rport && st->raddr[0] == raddr[0] &&
                st->raddr[1] == raddr[1])
                return 0;
            flags |= TELLTALE_FLAG_CHANGED;
        }
    } else {
        flags |= TELLTALE_FLAG_NO_STORAGE;
    }

    struct telltale_event *e = reserve_event(TELLTALE_EVENT_SOCKET);
    if (!e)
        return 0; /* not marked: the next call tries again */
    e->op = op;
    e->flags = flags;
    e->bytes = ret > 0 ? ret : 0;
    fill_current(e);
    fill_socket(e, sk, family);
    e->local_port = lport;
    e->remote_port = rport;
    fill_addresses(e, sk, family, raddr);
    submit_event(e);

    if (st)
        remember_reported(st, tgid, lport, rport, raddr);
    return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(telltale_sock_send, struct sock *sk, int ret, int flags)
{
    return on_socket_io(sk, ret, TELLTALE_SOCKET_SEND);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(telltale_sock_recv, struct sock *sk, int ret, int flags)
{
    return on_socket_io(sk, ret, TELLTALE_SOCKET_RECV);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(telltale_inet_sock_set_state, const struct sock *sk, int oldstate, int newstate)
{
    if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
        return 0;

    if (newstate == TCP_SYN_SENT) {
        /* Inside connect() (or a sendmsg with MSG_FASTOPEN): current is the owner. */
        struct sk_state *st = bpf_sk_storage_get(&sk_states, (void *)sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
        if (!st)
            return 0;
        struct task_struct *task = (struct task_struct *)bpf_get_current_task();
        struct task_struct *leader = BPF_CORE_READ(task, group_leader);
        st->owner_tgid = bpf_get_current_pid_tgid() >> 32;
        st->owner_start = BPF_CORE_READ(leader, start_boottime);
        bpf_core_read(st->owner_comm, sizeof(st->owner_comm), &leader->comm);
        st->flags |= ST_PENDING;
        return 0;
    }
    if (oldstate != TCP_SYN_SENT)
        return 0;

    /* SYN_SENT -> ESTABLISHED / CLOSE: softirq as a rule; use the owner saved above. */
    struct sk_state *st = bpf_sk_storage_get(&sk_states, (void *)sk, 0, 0);
    if (!st || !(st->flags & ST_PENDING))
        return 0;
    st->flags &= ~ST_PENDING;

    __u16 lport = BPF_CORE_READ(sk, __sk_common.skc_num);
    if (lport == 0 && newstate == TCP_CLOSE) {
        /* A refused (or timed-out) connect: tcp_set_state released the port (inet_put_port clears
         * skc_num) before this tracepoint, but inet_sport still holds it. The attempt is the
         * program's evidence too. */
        lport = be16_to_host(BPF_CORE_READ((const struct inet_sock *)sk, inet_sport));
    }
    if (lport == 0)
        return 0;
    __u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
    __u16 rport = be16_to_host(BPF_CORE_READ(sk, __sk_common.skc_dport));
    __u64 raddr[2];
    read_remote(sk, family, raddr);
    __u32 tgid = st->owner_tgid;

    __u32 flags = TELLTALE_FLAG_STORED_OWNER;
    if (st->flags & ST_EMITTED) {
        if (st->tgid == tgid && st->lport == lport && st->rport == rport && st->raddr[0] == raddr[0] &&
            st->raddr[1] == raddr[1])
            return 0; /* a TCP Fast Open send already reported it */
        flags |= TELLTALE_FLAG_CHANGED;
    }

    struct telltale_event *e = reserve_event(TELLTALE_EVENT_SOCKET);
    if (!e)
        return 0;
    e->op = TELLTALE_SOCKET_CONNECT;
    e->flags = flags;
    e->tgid = tgid;
    e->start_time_ns = st->owner_start;
    __builtin_memcpy(e->comm, st->owner_comm, sizeof(e->comm));
    fill_socket(e, sk, family);
    e->local_port = lport;
    e->remote_port = rport;
    fill_addresses(e, sk, family, raddr);
    submit_event(e);

    remember_reported(st, tgid, lport, rport, raddr);
    return 0;
}

/*
 * Absolute path of `file`, the way d_path() builds it: from the dentry up to its mount's root,
 * then across to the mount point in the parent mount, until the root mount of the mount
 * namespace. Built backwards in a per-CPU scratch buffer, then copied into e->path.
 * Returns TELLTALE_FLAG_PATH_RESOLVED, or 0 when the caller should fall back.
 */
static __always_inline __u32 resolve_path(struct telltale_event *e, struct file *file)
{
    __u32 zero = 0;
    struct scratch *s = bpf_map_lookup_elem(&scratch, &zero);
    if (!s)
        return 0;
    __u64 seq = ++s->seq;

    struct dentry *dentry = BPF_CORE_READ(file, f_path.dentry);
    struct vfsmount *vfsmnt = BPF_CORE_READ(file, f_path.mnt);
    if (!dentry || !vfsmnt)
        return 0;
    __u64 mnt_offset = bpf_core_field_offset(struct mount, mnt);
    struct mount *mnt = (struct mount *)((char *)vfsmnt - mnt_offset);

    int pos = SCRATCH_HALF;
    int done = 0;
    for (int i = 0; i < PATH_COMPONENTS; i++) {
        struct dentry *mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
        if (dentry == mnt_root) {
            struct mount *mnt_parent = BPF_CORE_READ(mnt, mnt_parent);
            if (!mnt_parent || mnt_parent == mnt) {
                done = 1; /* the root mount of the namespace */
                break;
            }
            /* continue from the mount point, in the parent mount */
            dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
            mnt = mnt_parent;
            vfsmnt = (struct vfsmount *)((char *)mnt + mnt_offset);
            continue;
        }
        struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
        /* A dentry that is its own parent but not its mount's root heads a detached tree, or is
         * a pseudo file (memfd, ...): its name is the last component, as in d_path(). */
        int last = dentry == parent;
        const unsigned char *name = BPF_CORE_READ(dentry, d_name.name);
        __u32 len = BPF_CORE_READ(dentry, d_name.len);
        if (len > 255 || (int)len + 1 > pos)
            break; /* does not fit */
        pos -= len + 1;
        s->buf[pos & (SCRATCH_HALF - 1)] = '/';
        if (bpf_probe_read_kernel(&s->buf[(pos + 1) & (SCRATCH_HALF - 1)], len & 255, name) < 0)
            return 0;
        if (last) {
            done = 1;
            break;
        }
        dentry = parent;
    }
    if (!done)
        return 0;

    int length = SCRATCH_HALF - pos;
    if (length == 0) {
        e->path[0] = '/';
        return TELLTALE_FLAG_PATH_RESOLVED;
    }
    if (length < 0 || length > (int)sizeof(e->path) - 1)
        return 0;
    if (bpf_probe_read_kernel(e->path, length & 255, &s->buf[pos & (SCRATCH_HALF - 1)]) < 0)
        return 0;
    if (s->seq != seq) {
        e->path[0] = 0; /* another exec on this CPU reused the buffer meanwhile */
        return 0;
    }
    return TELLTALE_FLAG_PATH_RESOLVED;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(telltale_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
    struct telltale_event *e = reserve_event(TELLTALE_EVENT_EXEC);
    if (!e)
        return 0;
    struct task_struct *leader = BPF_CORE_READ(p, group_leader);
    e->tgid = BPF_CORE_READ(p, tgid);
    e->ppid = BPF_CORE_READ(p, real_parent, tgid);
    e->start_time_ns = BPF_CORE_READ(leader, start_boottime);
    bpf_core_read(e->comm, sizeof(e->comm), &p->comm);

    __u32 flags = resolve_path(e, BPF_CORE_READ(bprm, file));
    if (!flags) {
        const char *filename = BPF_CORE_READ(bprm, filename);
        long n = bpf_probe_read_kernel_str(e->path, sizeof(e->path), filename);
        flags = TELLTALE_FLAG_PATH_FILENAME;
        if (n == (long)sizeof(e->path))
            flags |= TELLTALE_FLAG_PATH_TRUNCATED;
    }
    e->flags = flags;
    submit_event(e);
    return 0;
}
