/*
 * telltale_bpf_event.h — the record the BPF program (bpf/socket_events.bpf.c) writes into its
 * ring buffer and the loader (Sources/CBPF/loader.c) hands to userspace. Shared by both sides:
 * fixed layout, explicit widths, no pointers, naturally aligned (360 bytes, no implicit padding).
 *
 * All times are nanoseconds. `time_ns` is bpf_ktime_get_ns(): CLOCK_MONOTONIC (does not advance
 * during suspend). `start_time_ns` is the thread-group leader's task_struct->start_boottime:
 * CLOCK_BOOTTIME at process start, the same clock as field 22 of /proc/PID/stat (which is in
 * clock ticks); together with `tgid` it names a process across pid reuse.
 * Pids are as seen from the initial pid namespace.
 */
#ifndef TELLTALE_BPF_EVENT_H
#define TELLTALE_BPF_EVENT_H

#include "telltale_widths.h"

/* telltale_event.kind */
enum {
    TELLTALE_EVENT_SOCKET = 1, /* a process used (or connected) a socket; see `op` */
    TELLTALE_EVENT_EXEC = 2,   /* a process called execve() successfully */
};

/* telltale_event.op (SOCKET events) */
enum {
    TELLTALE_SOCKET_SEND = 1,    /* sock_send_length: send/sendto/sendmsg/sendmmsg/write/sendfile/io_uring */
    TELLTALE_SOCKET_RECV = 2,    /* sock_recv_length: recv/recvfrom/recvmsg/read */
    TELLTALE_SOCKET_CONNECT = 3, /* TCP left SYN_SENT (to ESTABLISHED or CLOSE); owner saved at connect() */
};

/* telltale_event.flags (bit set) */
enum {
    /* EXEC: `path` is the absolute path of the executable file (after symlinks, and for a
     * script its interpreter: what /proc/PID/exe shows), built by walking its dentries and
     * mounts up to the root of the exec'ing process's mount namespace (a chroot is not taken
     * into account). A deleted file or a memfd gives its name without " (deleted)". */
    TELLTALE_FLAG_PATH_RESOLVED = 1u << 0,
    /* EXEC: `path` is linux_binprm->filename, the path as given to execve() (may be relative,
     * may be a script whose interpreter is the real executable); used when the walk failed: the
     * resolved path was longer than 255 bytes or deeper than 32 components (mounts count too). */
    TELLTALE_FLAG_PATH_FILENAME = 1u << 1,
    /* EXEC: `path` (the filename fallback) was cut at 255 bytes. */
    TELLTALE_FLAG_PATH_TRUNCATED = 1u << 2,
    /* SOCKET: the process fields (tgid, start_time_ns, comm) are the owner remembered when the
     * socket entered SYN_SENT inside connect(), not the current task (CONNECT events). */
    TELLTALE_FLAG_STORED_OWNER = 1u << 3,
    /* SOCKET: an event for every send (SOCK_RAW and AF_PACKET sockets): match by time, `bytes`
     * is the length sent. Without this flag the event is the first for this socket and owner/
     * tuple: the next one comes only when tgid, local port, remote port or remote address change. */
    TELLTALE_FLAG_EVERY_SEND = 1u << 4,
    /* SOCKET: this socket was reported before with another tgid or tuple (handed to another
     * process, UDP socket connect()ed elsewhere, ...). */
    TELLTALE_FLAG_CHANGED = 1u << 5,
    /* SOCKET: no per-socket storage could be had; the event may repeat on every call. */
    TELLTALE_FLAG_NO_STORAGE = 1u << 6,
};

struct telltale_event {
    uint8_t kind;         /* TELLTALE_EVENT_* */
    uint8_t op;           /* SOCKET: TELLTALE_SOCKET_*; EXEC: 0 */
    uint16_t family;      /* SOCKET: AF_INET (2), AF_INET6 (10) or AF_PACKET (17); EXEC: 0 */
    uint16_t protocol;    /* SOCKET: for AF_INET*, sk->sk_protocol: IPPROTO_TCP 6, UDP 17, ICMP 1,
                             ICMPV6 58, or a raw socket's protocol; for AF_PACKET the ethertype the
                             socket is bound to (packet_sock->num, from socket() or bind()), kept
                             in network byte order as the kernel stores it (htons(ETH_P_ALL) =
                             0x0300 on x86), 0 if none */
    uint16_t socket_type; /* SOCKET: sk->sk_type: SOCK_STREAM 1, SOCK_DGRAM 2, SOCK_RAW 3 */
    uint32_t tgid;        /* process id (thread-group id) of the process the event belongs to */
    uint32_t ppid;        /* EXEC: the parent's tgid (real_parent); SOCKET: 0 */
    uint32_t netns;       /* SOCKET: inode of the socket's network namespace (as in
                             readlink /proc/PID/ns/net = net:[INODE]); EXEC: 0 */
    uint32_t bytes;       /* SOCKET SEND/RECV: bytes the call returned (0 if it failed) */
    uint64_t cookie;      /* SOCKET: socket cookie (bpf_get_socket_cookie; SO_COOKIE, sock_diag) */
    uint64_t time_ns;     /* when the event happened, CLOCK_MONOTONIC */
    uint64_t start_time_ns; /* the process's start time, CLOCK_BOOTTIME (see above) */
    uint16_t local_port;  /* SOCKET: local port, host byte order (the echo id for ICMP "ping"
                             sockets; 0 for SOCK_RAW and AF_PACKET) */
    uint16_t remote_port; /* SOCKET: remote port, host byte order (0 when not connected) */
    uint32_t flags;       /* TELLTALE_FLAG_* */
    uint8_t local_addr[16];  /* SOCKET: local address; IPv4 in the first 4 bytes (network order),
                                the rest zero; IPv6 as is; zero for AF_PACKET or unbound */
    uint8_t remote_addr[16]; /* SOCKET: remote address, same layout; zero when not connected */
    char comm[16];        /* the process's name (thread-group leader's comm), NUL-terminated */
    char path[256];       /* EXEC: executable path, NUL-terminated (see TELLTALE_FLAG_PATH_*);
                             SOCKET: empty */
};

#ifndef __cplusplus
_Static_assert(sizeof(struct telltale_event) == 360, "telltale_event layout changed");
_Static_assert(__builtin_offsetof(struct telltale_event, cookie) == 24, "telltale_event layout changed");
_Static_assert(__builtin_offsetof(struct telltale_event, local_port) == 48, "telltale_event layout changed");
_Static_assert(__builtin_offsetof(struct telltale_event, comm) == 88, "telltale_event layout changed");
_Static_assert(__builtin_offsetof(struct telltale_event, path) == 104, "telltale_event layout changed");
#endif

#endif /* TELLTALE_BPF_EVENT_H */
