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

/* ---- libbpf's messages: kept (the tail) while telltale_bpf_open runs on this thread ---- */

#define LOG_SIZE 16384

struct message_log {
    char text[LOG_SIZE];
    size_t length;
};

static __thread struct message_log *current_log;

static void append_log(struct message_log *log, const char *text, size_t add)
{
    if (add >= LOG_SIZE) {
        /* keep the end of a long message (a verifier log ends with the reason) */
        text += add - (LOG_SIZE - 1);
        add = LOG_SIZE - 1;
    }
    if (log->length + add >= LOG_SIZE) {
        /* keep the most recent text */
        size_t keep = LOG_SIZE - 1 - add;
        if (keep > log->length)
            keep = log->length;
        memmove(log->text, log->text + log->length - keep, keep);
        log->length = keep;
    }
    memcpy(log->text + log->length, text, add);
    log->length += add;
    log->text[log->length] = 0;
}

static int collect_message(enum libbpf_print_level level, const char *format, va_list args)
{
    struct message_log *log = current_log;
    if (!log || level == LIBBPF_DEBUG)
        return 0;
    char line[1024];
    va_list again;
    va_copy(again, args);
    int n = vsnprintf(line, sizeof(line), format, args);
    if (n > 0 && (size_t)n < sizeof(line)) {
        append_log(log, line, (size_t)n);
    } else if (n > 0) {
        char *long_line = malloc((size_t)n + 1);
        if (long_line) {
            vsnprintf(long_line, (size_t)n + 1, format, again);
            append_log(log, long_line, (size_t)n);
            free(long_line);
        } else {
            append_log(log, line, sizeof(line) - 1);
        }
    }
    va_end(again);
    return 0;
}

/* The name in the last "prog 'NAME'" libbpf mentioned, or NULL. */
static const char *failing_program(const struct message_log *log, char *name, size_t size)
{
    const char *found = NULL, *p = log->text;
    while ((p = strstr(p, "prog '")) != NULL) {
        found = p + 6;
        p = found;
    }
    if (!found)
        return NULL;
    const char *end = strchr(found, '\'');
    if (!end || end == found)
        return NULL;
    size_t n = (size_t)(end - found);
    if (n >= size)
        n = size - 1;
    memcpy(name, found, n);
    name[n] = 0;
    return name;
}

/*
 * The last `lines` non-empty lines of `text` (up to `end` if given), joined with " | ", without
 * libbpf's "libbpf: " prefixes, into out.
 */
static void tail_lines(const char *text, const char *end, int lines, char *out, size_t size)
{
    out[0] = 0;
    if (!end)
        end = text + strlen(text);
    const char *starts[8];
    const char *ends[8];
    int found = 0;
    if (lines > 8)
        lines = 8;
    const char *line_end = end;
    while (line_end > text && found < lines) {
        while (line_end > text && (line_end[-1] == '\n' || line_end[-1] == ' '))
            line_end--;
        if (line_end == text)
            break;
        const char *start = line_end;
        while (start > text && start[-1] != '\n')
            start--;
        const char *s = start;
        if (strncmp(s, "libbpf: ", 8) == 0)
            s += 8;
        if (s < line_end && strncmp(s, "-- BEGIN", 8) != 0 && strncmp(s, "-- END", 6) != 0) {
            starts[found] = s;
            ends[found] = line_end;
            found++;
        }
        line_end = start;
    }
    size_t used = 0;
    for (int i = found - 1; i >= 0 && used + 1 < size; i--) {
        int n = snprintf(out + used, size - used, "%s%.*s", used ? " | " : "", (int)(ends[i] - starts[i]),
                         starts[i]);
        if (n < 0)
            break;
        used += (size_t)n;
        if (used >= size)
            used = size - 1;
    }
}

static void set_error(char *error, size_t size, const char *format, ...) __attribute__((format(printf, 3, 4)));
static void set_error(char *error, size_t size, const char *format, ...)
{
    if (!error || size == 0)
        return;
    va_list args;
    va_start(args, format);
    vsnprintf(error, size, format, args);
    va_end(args);
}

static const char *permission_hint(void)
{
    return geteuid() == 0
               ? "refused even as root: kernel lockdown, a security module, or a program type this kernel does not allow"
               : "needs root or CAP_BPF+CAP_PERFMON";
}

/* libbpf's own error codes (-4000...) are not errnos: describe them, return -EINVAL. */
static const char *describe_errno(int err, char *buffer, size_t size)
{
    if (err <= -4000 && err > -4100) {
        libbpf_strerror(err, buffer, size);
        return buffer;
    }
    return strerror(-err);
}

static int as_errno(int err)
{
    if (err > 0)
        err = -err;
    if (err == 0 || (err <= -4000 && err > -4100))
        return -EINVAL;
    return err;
}

/* The last line of the log containing `needle`, without its "libbpf: " prefix, into out. */
static bool find_line(const struct message_log *log, const char *needle, char *out, size_t size)
{
    const char *hit = NULL, *p = log->text;
    while ((p = strstr(p, needle)) != NULL) {
        hit = p;
        p += 1;
    }
    if (!hit)
        return false;
    const char *start = hit;
    while (start > log->text && start[-1] != '\n')
        start--;
    if (strncmp(start, "libbpf: ", 8) == 0)
        start += 8;
    const char *end = strchr(hit, '\n');
    size_t n = end ? (size_t)(end - start) : strlen(start);
    if (n >= size)
        n = size - 1;
    memcpy(out, start, n);
    out[n] = 0;
    return true;
}

/* The verifier's reason: the last lines of the load log, without its statistics lines. */
static void verifier_reason(const char *text, const char *end, char *out, size_t size)
{
    out[0] = 0;
    while (end > text) {
        const char *line_end = end;
        while (line_end > text && (line_end[-1] == '\n' || line_end[-1] == ' '))
            line_end--;
        const char *start = line_end;
        while (start > text && start[-1] != '\n')
            start--;
        if (strncmp(start, "processed ", 10) == 0 || strncmp(start, "verification time", 17) == 0 ||
            strncmp(start, "stack depth", 11) == 0 || start == line_end) {
            end = start;
            if (start == text)
                break;
            continue;
        }
        tail_lines(text, line_end, 2, out, size);
        return;
    }
}

static void describe_load_failure(int err, const struct message_log *log, char *error, size_t size)
{
    char program_buffer[128];
    const char *program = failing_program(log, program_buffer, sizeof(program_buffer));
    char where[160];
    if (program)
        snprintf(where, sizeof(where), " (program '%s')", program);
    else
        where[0] = 0;
    char detail[1024];
    char reason[128];

    if (err == -EPERM) {
        set_error(error, size, "BPF programs cannot be loaded: %s (%s)%s", strerror(EPERM), permission_hint(),
                  where);
        return;
    }
    const char *verifier_end = strstr(log->text, "-- END PROG LOAD LOG --");
    if (verifier_end) {
        verifier_reason(log->text, verifier_end, detail, sizeof(detail));
        set_error(error, size, "the kernel's verifier rejected BPF program '%s': %s (%s)",
                  program ? program : "?", detail, describe_errno(err, reason, sizeof(reason)));
        return;
    }
    if (find_line(log, "failed to find kernel BTF type ID", detail, sizeof(detail))) {
        set_error(error, size, "this kernel lacks a tracepoint a BPF program attaches to%s: %s", where, detail);
        return;
    }
    if (find_line(log, "failed to find BTF for extern", detail, sizeof(detail)) ||
        find_line(log, "relo #", detail, sizeof(detail))) {
        set_error(error, size, "this kernel's structures do not match the BPF program%s: %s", where, detail);
        return;
    }
    tail_lines(log->text, NULL, 2, detail, sizeof(detail));
    set_error(error, size, "loading the BPF programs failed%s: %s%s%s", where,
              describe_errno(err, reason, sizeof(reason)), detail[0] ? "; libbpf: " : "", detail);
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

int telltale_bpf_open(const void *object, size_t size, struct telltale_bpf **out, char *error, size_t error_size)
{
    if (out)
        *out = NULL;
    if (error && error_size)
        error[0] = 0;
    if (!object || size == 0 || !out) {
        set_error(error, error_size, "telltale_bpf_open: no BPF object given");
        return -EINVAL;
    }
    if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
        int e = errno;
        if (e == ENOENT) {
            set_error(error, error_size,
                      "this kernel has no BTF (/sys/kernel/btf/vmlinux): it needs CONFIG_DEBUG_INFO_BTF for "
                      "BPF socket events");
            return -EOPNOTSUPP;
        }
        set_error(error, error_size, "cannot read /sys/kernel/btf/vmlinux: %s (%s)", strerror(e),
                  e == EACCES ? "needs root or CAP_BPF+CAP_PERFMON" : "kernel BTF is needed for BPF socket events");
        return -e;
    }

    struct message_log *log = calloc(1, sizeof(*log));
    struct telltale_bpf *b = calloc(1, sizeof(*b));
    if (!log || !b) {
        free(log);
        free(b);
        set_error(error, error_size, "out of memory");
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
        char detail[512], reason[128];
        tail_lines(log->text, NULL, 1, detail, sizeof(detail));
        set_error(error, error_size, "cannot open the BPF object: %s%s%s", describe_errno(err, reason, sizeof(reason)),
                  detail[0] ? "; libbpf: " : "", detail);
        err = as_errno(err);
        goto fail;
    }

    err = bpf_object__load(b->object);
    if (err) {
        if (err > 0)
            err = -err;
        describe_load_failure(err, log, error, error_size);
        err = as_errno(err);
        goto fail;
    }

    struct bpf_program *program;
    bpf_object__for_each_program(program, b->object) {
        if (b->link_count == MAX_LINKS) {
            err = -E2BIG;
            set_error(error, error_size, "too many BPF programs in the object");
            goto fail;
        }
        struct bpf_link *link = bpf_program__attach(program);
        if (!link) {
            err = -errno;
            if (err == 0)
                err = -EINVAL;
            char detail[512], reason[128];
            tail_lines(log->text, NULL, 1, detail, sizeof(detail));
            if (err == -EPERM)
                set_error(error, error_size, "BPF program '%s' cannot be attached: %s (%s)",
                          bpf_program__name(program), strerror(EPERM), permission_hint());
            else
                set_error(error, error_size, "BPF program '%s' cannot be attached: %s%s%s",
                          bpf_program__name(program), describe_errno(err, reason, sizeof(reason)),
                          detail[0] ? "; libbpf: " : "", detail);
            err = as_errno(err);
            goto fail;
        }
        b->links[b->link_count++] = link;
    }

    struct bpf_map *events = bpf_object__find_map_by_name(b->object, "events");
    b->dropped = bpf_object__find_map_by_name(b->object, "dropped");
    if (!events || !b->dropped) {
        err = -ENOENT;
        set_error(error, error_size, "the BPF object has no '%s' map", events ? "dropped" : "events");
        goto fail;
    }
    b->cpus = libbpf_num_possible_cpus();
    if (b->cpus <= 0) {
        err = b->cpus < 0 ? b->cpus : -EINVAL;
        set_error(error, error_size, "cannot count the possible CPUs: %s", strerror(-err));
        goto fail;
    }
    b->ring = ring_buffer__new(bpf_map__fd(events), take_event, b, NULL);
    if (!b->ring) {
        err = -errno;
        if (err == 0)
            err = -EINVAL;
        set_error(error, error_size, "cannot map the BPF ring buffer: %s", strerror(-err));
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

    int r = ring_buffer__consume(b->ring);
    if (b->count == 0 && r < 0)
        goto done;
    if (b->count > 0 || timeout_ms == 0)
        goto done;

    r = ring_buffer__poll(b->ring, timeout_ms);
    if (b->count > 0)
        goto done;
    if (r < 0 && r != -EINTR)
        goto done;
    /* Timed out (the kernel side wakes the reader only in batches): take what is there. */
    r = ring_buffer__consume(b->ring);
done:
    b->out = NULL;
    b->capacity = 0;
    if (b->count > 0)
        return b->count;
    return r < 0 && r != -EINTR ? r : 0;
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
    if (!b || !b->dropped || b->cpus <= 0)
        return 0;
    uint64_t values[b->cpus];
    uint32_t key = 0;
    if (bpf_map__lookup_elem(b->dropped, &key, sizeof(key), values, sizeof(values), 0) != 0)
        return 0;
    uint64_t total = 0;
    for (int i = 0; i < b->cpus; i++)
        total += values[i];
    return total;
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
