/*
 * tls_probes.c — opens and loads bpf/tls_writes.bpf.c from memory with libbpf, attaches its
 * uprobes per file, and reads its ring buffer. See include/telltale_tls.h.
 */
#define _GNU_SOURCE
#include "telltale_tls.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "libbpf_messages.h"

/* The four uprobe programs, in the order telltale_tls_attach tries them. */
static const struct {
    const char *program;
    const char *function;
    bool retprobe;
} probes[] = {
    {"telltale_ssl_write", "SSL_write", false},
    {"telltale_ssl_write_return", "SSL_write", true},
    {"telltale_ssl_write_ex", "SSL_write_ex", false},
    {"telltale_ssl_write_ex_return", "SSL_write_ex", true},
};
#define PROBE_COUNT (int)(sizeof(probes) / sizeof(probes[0]))

static const char *const uprobe_permission = "uprobes need CAP_SYS_ADMIN (perf_event_open on the uprobe PMU is "
                                             "refused without it, even with CAP_BPF and CAP_PERFMON)";

struct telltale_tls {
    struct bpf_object *object;
    struct bpf_program *programs[PROBE_COUNT];
    struct bpf_link *socket_link;
    struct bpf_link **links;
    int link_count;
    int link_capacity;
    struct ring_buffer *ring;
    struct bpf_map *counters;
    int cpus;
    /* destination of the poll in progress: an array of struct telltale_tls_record */
    struct ring_reader reader;
};

/* Whether the calling thread has CAP_SYS_ADMIN in its effective set. The corresponding system
 * call is capget; glibc has no wrapper. */
static bool has_sys_admin(void)
{
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    memset(data, 0, sizeof(data));
    if (syscall(SYS_capget, &header, data) != 0)
        return geteuid() == 0;
    return (data[CAP_SYS_ADMIN / 32].effective & (1u << (CAP_SYS_ADMIN % 32))) != 0;
}

/* ---- ring buffer ---- */

static int take_record(void *context, void *data, size_t size)
{
    struct ring_reader *reader = &((struct telltale_tls *)context)->reader;
    struct telltale_tls_record *slot = ring_slot(reader, sizeof(*slot));
    if (!slot)
        return -ENOSPC;
    const size_t header = sizeof(slot->header);
    if (size < header) {
        /* Not one of ours (the kernel side never writes less): skip it. */
        return 0;
    }
    memcpy(&slot->header, data, header);
    size_t length = slot->header.length;
    if (length > size - header)
        length = size - header;
    if (length > sizeof(slot->data))
        length = sizeof(slot->data);
    slot->header.length = (uint32_t)length;
    memcpy(slot->data, (const uint8_t *)data + header, length);
    return ring_took(reader);
}

int telltale_tls_open(const void *object, size_t size, struct telltale_tls **out, struct telltale_failure *failure)
{
    if (out)
        *out = NULL;
    clear_failure(failure);
    if (!object || size == 0 || !out) {
        set_error(failure, "telltale_tls_open: no BPF object given");
        return -EINVAL;
    }
    if (!has_sys_admin()) {
        set_error(failure, "TLS write probes cannot be used: %s", uprobe_permission);
        return -EPERM;
    }

    struct telltale_tls *t = calloc(1, sizeof(*t));
    struct message_log *log = t ? start_collecting() : NULL;
    if (!log || !t) {
        free(t);
        set_error(failure, "out of memory");
        return -ENOMEM;
    }

    int err = open_and_load(object, size, "telltale_tls", "TLS probe object",
                            "needs CAP_BPF+CAP_PERFMON, and CAP_SYS_ADMIN for uprobes", log, &t->object, failure);
    if (err)
        goto fail;

    for (int i = 0; i < PROBE_COUNT; i++) {
        t->programs[i] = bpf_object__find_program_by_name(t->object, probes[i].program);
        if (!t->programs[i]) {
            err = -ENOENT;
            set_error(failure, "the TLS probe object has no program '%s'", probes[i].program);
            goto fail;
        }
    }
    struct bpf_program *socket_program = bpf_object__find_program_by_name(t->object, "telltale_tls_socket");
    if (!socket_program) {
        err = -ENOENT;
        set_error(failure, "the TLS probe object has no program 'telltale_tls_socket'");
        goto fail;
    }
    t->socket_link = bpf_program__attach(socket_program);
    if (!t->socket_link) {
        err = failed_call();
        describe_attach_failure(err, "telltale_tls_socket", log, NULL, failure);
        err = as_errno(err);
        goto fail;
    }

    err = map_ring(t->object, "TLS probe object", "tls_records", "counters", "the TLS probes' ring buffer",
                   take_record, t, &t->ring, &t->counters, &t->cpus, failure);
    if (err)
        goto fail;

    stop_collecting(log);
    *out = t;
    return 0;

fail:
    stop_collecting(log);
    telltale_tls_close(t);
    return err;
}

static int keep_link(struct telltale_tls *t, struct bpf_link *link)
{
    if (t->link_count == t->link_capacity) {
        int capacity = t->link_capacity ? t->link_capacity * 2 : 16;
        struct bpf_link **grown = realloc(t->links, (size_t)capacity * sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        t->links = grown;
        t->link_capacity = capacity;
    }
    t->links[t->link_count++] = link;
    return 0;
}

int telltale_tls_attach(struct telltale_tls *t, const char *path, struct telltale_failure *failure)
{
    clear_failure(failure);
    if (!t || !path || !path[0]) {
        set_error(failure, "telltale_tls_attach: no file given");
        return -EINVAL;
    }
    struct message_log *log = start_collecting();
    if (!log) {
        set_error(failure, "out of memory");
        return -ENOMEM;
    }

    int attached = 0;
    int first_error = 0;
    int missing = 0;
    for (int i = 0; i < PROBE_COUNT; i++) {
        LIBBPF_OPTS(bpf_uprobe_opts, options, .func_name = probes[i].function, .retprobe = probes[i].retprobe);
        log->length = 0;
        log->text[0] = 0;
        /* pid -1: every process that maps the file; offset 0: libbpf resolves func_name. */
        struct bpf_link *link = bpf_program__attach_uprobe_opts(t->programs[i], -1, path, 0, &options);
        if (!link) {
            int err = as_errno(failed_call());
            if (err == -ENOENT || err == -ESRCH)
                missing++;
            else if (!first_error) {
                first_error = err;
                char detail[512];
                tail_lines(log->text, NULL, 1, detail, sizeof(detail));
                set_error(failure, "cannot probe %s in %s", probes[i].function, path);
                set_reason(failure, err);
                if (err == -EACCES || err == -EPERM)
                    set_detail(failure, " (%s)", uprobe_permission);
                else
                    set_detail(failure, "%s%s", detail[0] ? "; libbpf: " : "", detail);
            }
            continue;
        }
        if (keep_link(t, link) != 0) {
            bpf_link__destroy(link);
            if (!first_error) {
                first_error = -ENOMEM;
                set_error(failure, "out of memory");
            }
            continue;
        }
        attached++;
    }
    stop_collecting(log);

    if (attached > 0) {
        clear_failure(failure);
        return attached;
    }
    if (first_error)
        return first_error;
    if (missing > 0) {
        set_error(failure, "%s has neither SSL_write nor SSL_write_ex", path);
        return -ENOENT;
    }
    return -EINVAL;
}

int telltale_tls_poll(struct telltale_tls *t, struct telltale_tls_record *records, int capacity, int timeout_ms)
{
    return t ? ring_read(t->ring, &t->reader, records, capacity, timeout_ms) : -EINVAL;
}

uint64_t telltale_tls_counter(struct telltale_tls *t, int which)
{
    if (!t || which < 0 || which >= TELLTALE_TLS_COUNTERS)
        return 0;
    return percpu_sum(t->counters, t->cpus, (uint32_t)which);
}

int telltale_tls_probe_count(struct telltale_tls *t)
{
    return t ? t->link_count : 0;
}

void telltale_tls_close(struct telltale_tls *t)
{
    if (!t)
        return;
    if (t->ring)
        ring_buffer__free(t->ring);
    for (int i = t->link_count - 1; i >= 0; i--)
        bpf_link__destroy(t->links[i]);
    free(t->links);
    if (t->socket_link)
        bpf_link__destroy(t->socket_link);
    if (t->object)
        bpf_object__close(t->object);
    free(t);
}
