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
    /* destination of the poll in progress */
    struct telltale_event *out;
    int capacity;
    int count;
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
    struct telltale_bpf *b = context;
    if (b->count >= b->capacity)
        return -ENOSPC; /* not reached: we stop at capacity below */
    struct telltale_event *slot = &b->out[b->count];
    if (size >= sizeof(*slot)) {
        memcpy(slot, data, sizeof(*slot));
    } else {
        memset(slot, 0, sizeof(*slot));
        memcpy(slot, data, size);
    }
    b->count++;
    /* A negative return stops libbpf after this record (which counts as consumed): the rest
       stays in the ring. */
    return b->count >= b->capacity ? -ENOSPC : 0;
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

    struct message_log *log = calloc(1, sizeof(*log));
    struct telltale_bpf *b = calloc(1, sizeof(*b));
    if (!log || !b) {
        free(log);
        free(b);
        set_error(failure, "out of memory");
        return -ENOMEM;
    }
    libbpf_set_print(collect_message);
    current_log = log;
    int err = 0;

    LIBBPF_OPTS(bpf_object_open_opts, options, .object_name = "telltale");
    b->object = bpf_object__open_mem(object, size, &options);
    if (!b->object) {
        err = -errno;
        if (err == 0)
            err = -EINVAL;
        char detail[512];
        tail_lines(log->text, NULL, 1, detail, sizeof(detail));
        set_error(failure, "cannot open the BPF object");
        set_reason(failure, err);
        set_detail(failure, "%s%s", detail[0] ? "; libbpf: " : "", detail);
        err = as_errno(err);
        goto fail;
    }

    err = bpf_object__load(b->object);
    if (err) {
        if (err > 0)
            err = -err;
        describe_load_failure(err, log, permission_hint(), failure);
        err = as_errno(err);
        goto fail;
    }

    struct bpf_program *program;
    bpf_object__for_each_program(program, b->object) {
        if (b->link_count == MAX_LINKS) {
            err = -E2BIG;
            set_error(failure, "too many BPF programs in the object");
            goto fail;
        }
        struct bpf_link *link = bpf_program__attach(program);
        if (!link) {
            err = -errno;
            if (err == 0)
                err = -EINVAL;
            describe_attach_failure(err, bpf_program__name(program), log, permission_hint(), failure);
            err = as_errno(err);
            goto fail;
        }
        b->links[b->link_count++] = link;
    }

    struct bpf_map *events = bpf_object__find_map_by_name(b->object, "events");
    b->dropped = bpf_object__find_map_by_name(b->object, "dropped");
    if (!events || !b->dropped) {
        err = -ENOENT;
        set_error(failure, "the BPF object has no '%s' map", events ? "dropped" : "events");
        goto fail;
    }
    b->cpus = libbpf_num_possible_cpus();
    if (b->cpus <= 0) {
        err = b->cpus < 0 ? b->cpus : -EINVAL;
        set_error(failure, "cannot count the possible CPUs");
        set_reason(failure, err);
        goto fail;
    }
    b->ring = ring_buffer__new(bpf_map__fd(events), take_event, b, NULL);
    if (!b->ring) {
        err = -errno;
        if (err == 0)
            err = -EINVAL;
        set_error(failure, "cannot map the BPF ring buffer");
        set_reason(failure, err);
        goto fail;
    }

    current_log = NULL;
    free(log);
    *out = b;
    return 0;

fail:
    current_log = NULL;
    free(log);
    telltale_bpf_close(b);
    return err;
}

int telltale_bpf_poll(struct telltale_bpf *b, struct telltale_event *events, int capacity, int timeout_ms)
{
    if (!b || (!events && capacity > 0) || capacity < 0)
        return -EINVAL;
    if (capacity == 0)
        return 0;
    b->out = events;
    b->capacity = capacity;
    b->count = 0;
    int taken = ring_take(b->ring, &b->count, timeout_ms);
    b->out = NULL;
    b->capacity = 0;
    return taken;
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
