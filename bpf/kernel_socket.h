/*
 * kernel_socket.h — shared by the BPF programs in this directory (socket_events.bpf.c,
 * tls_writes.bpf.c), which both read a socket's addresses, ports and network namespace: the uapi
 * types libbpf's headers expect, and the kernel's socket structures with only the fields used,
 * marked preserve_access_index (libbpf relocates the offsets against the running kernel's BTF).
 * Include it first: libbpf's headers need the types.
 */
#ifndef TELLTALE_KERNEL_SOCKET_H
#define TELLTALE_KERNEL_SOCKET_H

/* libbpf 1.1's BPF_CORE_READ trips clang >= 21's -Wdefault-const-init-var-unsafe. */
#if defined(__has_warning)
#if __has_warning("-Wdefault-const-init-var-unsafe")
#pragma clang diagnostic ignored "-Wdefault-const-init-var-unsafe"
#endif
#endif

/* ---- the uapi bits libbpf's headers expect (stable kernel ABI values) ---- */
typedef __UINT8_TYPE__ __u8;
typedef __INT8_TYPE__ __s8;
typedef __UINT16_TYPE__ __u16;
typedef __INT16_TYPE__ __s16;
typedef __UINT32_TYPE__ __u32;
typedef __INT32_TYPE__ __s32;
typedef __UINT64_TYPE__ __u64;
typedef __INT64_TYPE__ __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;

enum { BPF_RB_NO_WAKEUP = 1, BPF_RB_FORCE_WAKEUP = 2 };
enum { BPF_RB_AVAIL_DATA = 0 };

/* ---- kernel structures: only the fields used; offsets come from the kernel's BTF ---- */
#define __core __attribute__((preserve_access_index))

struct ns_common {
    unsigned int inum;
} __core;

struct net {
    struct ns_common ns;
} __core;

typedef struct {
    struct net *net;
} __core possible_net_t;

struct in6_addr {
    __u8 u6_addr8[16];
} __core;

struct sock_common {
    __be32 skc_daddr;
    __be32 skc_rcv_saddr;
    __be16 skc_dport;
    __u16 skc_num;
    unsigned short skc_family;
    possible_net_t skc_net;
    struct in6_addr skc_v6_daddr;
    struct in6_addr skc_v6_rcv_saddr;
} __core;

struct sock {
    struct sock_common __sk_common;
    __u16 sk_protocol;
    __u16 sk_type;
} __core;

#define AF_INET 2
#define AF_INET6 10

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define be16_to_host(x) __builtin_bswap16(x)
#else
#define be16_to_host(x) (x)
#endif

#endif /* TELLTALE_KERNEL_SOCKET_H */
