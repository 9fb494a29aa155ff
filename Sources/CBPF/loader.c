/*
 * loader.c — opens, loads and attaches bpf/socket_events.bpf.c from memory with libbpf and
 * reads its ring buffer. See include/telltale_bpf.h.
 */
#define _GNU_SOURCE
#include "telltale_bpf.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "libbpf_messages.h"

#define MAX_LINKS 16

struct telltale_bpf {
    struct bpf_object *object;
    struct bpf_link *links[MAX_LINKS];
    int link_count;
    struct ring_buffer *ring;
    struct bpf_map *dropped;
    int cpus;
    /* destination of the poll in progress: an array of struct telltale_event */
    struct ring_reader reader;
};

static const char *permission_hint(void)
{
    return geteuid() == 0
               ? "refused even as root: kernel lockdown, a security module, or a program type this kernel does not allow"
               : "needs root or CAP_BPF+CAP_PERFMON";
}

/* ---- ring buffer ---- */

static int take_event(void *context, void *data, size_t size)
{
    struct ring_reader *reader = &((struct telltale_bpf *)context)->reader;
    struct telltale_event *slot = ring_slot(reader, sizeof(*slot));
    if (!slot)
        return -ENOSPC;
    if (size >= sizeof(*slot)) {
        memcpy(slot, data, sizeof(*slot));
    } else {
        memset(slot, 0, sizeof(*slot));
        memcpy(slot, data, size);
    }
    return ring_took(reader);
}

int telltale_bpf_open(const void *object, size_t size, struct telltale_bpf **out, struct telltale_failure *failure)
{
    if (out)
        *out = NULL;
    clear_failure(failure);
    if (!object || size == 0 || !out) {
        set_error(failure, "telltale_bpf_open: no BPF object given");
        return -EINVAL;
    }
    if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
        int e = errno;
        if (e == ENOENT) {
            set_error(failure,
                      "this kernel has no BTF (/sys/kernel/btf/vmlinux): it needs CONFIG_DEBUG_INFO_BTF for "
                      "BPF socket events");
            return -EOPNOTSUPP;
        }
        set_error(failure, "cannot read /sys/kernel/btf/vmlinux");
        set_reason(failure, e);
        set_detail(failure, " (%s)",
                   e == EACCES ? "needs root or CAP_BPF+CAP_PERFMON" : "kernel BTF is needed for BPF socket events");
        return -e;
    }

    struct telltale_bpf *b = calloc(1, sizeof(*b));
    struct message_log *log = b ? start_collecting() : NULL;
    if (!log || !b) {
        free(b);
        set_error(failure, "out of memory");
        return -ENOMEM;
    }

    int err = open_and_load(object, size, "telltale", "BPF object", permission_hint(), log, &b->object, failure);
    if (err)
        goto fail;

    struct bpf_program *program;
    bpf_object__for_each_program(program, b->object) {
        if (b->link_count == MAX_LINKS) {
            err = -E2BIG;
            set_error(failure, "too many BPF programs in the object");
            goto fail;
        }
        struct bpf_link *link = bpf_program__attach(program);
        if (!link) {
            err = failed_call();
            describe_attach_failure(err, bpf_program__name(program), log, permission_hint(), failure);
            err = as_errno(err);
            goto fail;
        }
        b->links[b->link_count++] = link;
    }

    err = map_ring(b->object, "BPF object", "events", "dropped", "the BPF ring buffer", take_event, b, &b->ring,
                   &b->dropped, &b->cpus, failure);
    if (err)
        goto fail;

    stop_collecting(log);
    *out = b;
    return 0;

fail:
    stop_collecting(log);
    telltale_bpf_close(b);
    return err;
}

int telltale_bpf_poll(struct telltale_bpf *b, struct telltale_event *events, int capacity, int timeout_ms)
{
    return b ? ring_read(b->ring, &b->reader, events, capacity, timeout_ms) : -EINVAL;
}

int telltale_bpf_wait(struct telltale_bpf *b, int timeout_ms)
{
    if (!b)
        return -EINVAL;
    struct pollfd descriptor = {.fd = ring_buffer__epoll_fd(b->ring), .events = POLLIN};
    int r = poll(&descriptor, 1, timeout_ms);
    if (r < 0)
        return errno == EINTR ? 0 : -errno;
    return r > 0 ? 1 : 0;
}

uint64_t telltale_bpf_dropped(struct telltale_bpf *b)
{
    return b ? percpu_sum(b->dropped, b->cpus, 0) : 0;
}

void telltale_bpf_close(struct telltale_bpf *b)
{
    if (!b)
        return;
    if (b->ring)
        ring_buffer__free(b->ring);
    for (int i = b->link_count - 1; i >= 0; i--)
        bpf_link__destroy(b->links[i]);
    if (b->object)
        bpf_object__close(b->object);
    free(b);
}
