/*
 * libbpf_messages.h — shared by the loaders in this directory (loader.c, tls_probes.c), included
 * by each: libbpf's messages collected while a loader opens its object (instead of printed), and
 * the one-line reasons made from them, the steps of opening an object both take, and the ring-buffer
 * read both share. Static functions, so each loader keeps its own copy of the
 * thread-local log and nothing is exported from the library.
 */
#ifndef TELLTALE_LIBBPF_MESSAGES_H
#define TELLTALE_LIBBPF_MESSAGES_H

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "telltale_failure.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"

/* ---- reading a ring buffer into a caller's array ---- */

/* The destination of the read in progress, for the ring's callback: the caller's array of records,
 * how many it holds, and how many have been copied into it. */
struct ring_reader {
    void *out;
    int capacity;
    int count;
};

/* Where the ring's callback copies the next record (`size` bytes each), or NULL when the array is
 * full (not reached: ring_took stops the read at capacity). */
static void *ring_slot(struct ring_reader *reader, size_t size)
{
    if (reader->count >= reader->capacity)
        return NULL;
    return (uint8_t *)reader->out + (size_t)reader->count * size;
}

/* Counts the record the callback copied, and returns what the callback returns: a negative value
 * once the array is full, which stops libbpf after this record (it counts as consumed) and leaves
 * the rest in the ring. */
static int ring_took(struct ring_reader *reader)
{
    reader->count++;
    return reader->count >= reader->capacity ? -ENOSPC : 0;
}

/*
 * Empties `ring` into `records` (room for `capacity`) through its callback, which copies each record
 * to reader->out at reader->count and counts it; waits up to `timeout_ms` (0: not at all) only when
 * nothing was waiting, and takes what is there when the wait times out (the kernel side wakes the
 * reader only in batches). Returns how many were copied, 0 on timeout or EINTR, or a negative errno.
 */
static int ring_read(struct ring_buffer *ring, struct ring_reader *reader, void *records, int capacity, int timeout_ms)
{
    if ((!records && capacity > 0) || capacity < 0)
        return -EINVAL;
    if (capacity == 0)
        return 0;
    reader->out = records;
    reader->capacity = capacity;
    reader->count = 0;
    int r = ring_buffer__consume(ring);
    if (reader->count == 0 && r < 0)
        goto done;
    if (reader->count > 0 || timeout_ms == 0)
        goto done;
    r = ring_buffer__poll(ring, timeout_ms);
    if (reader->count > 0)
        goto done;
    if (r < 0 && r != -EINTR)
        goto done;
    r = ring_buffer__consume(ring);
done:
    reader->out = NULL;
    reader->capacity = 0;
    if (reader->count > 0)
        return reader->count;
    return r < 0 && r != -EINTR ? r : 0;
}

/* ---- libbpf's messages: kept (the tail) while a loader's open runs on this thread ---- */

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

/* Nothing failed (yet). `failure` may be NULL. */
static void clear_failure(struct telltale_failure *failure)
{
    if (!failure)
        return;
    failure->what[0] = 0;
    failure->code = 0;
    failure->detail[0] = 0;
}

/* Says what failed, with no errno behind it; clears the rest. `failure` may be NULL. */
static void set_error(struct telltale_failure *failure, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void set_error(struct telltale_failure *failure, const char *format, ...)
{
    if (!failure)
        return;
    va_list args;
    va_start(args, format);
    vsnprintf(failure->what, sizeof(failure->what), format, args);
    va_end(args);
    failure->code = 0;
    failure->detail[0] = 0;
}

/*
 * The reason `err` (negative or positive) gives, after what set_error said: an errno, left to the
 * caller to word; libbpf's own codes (-4000...) are not errnos, so libbpf's words for them go
 * after `what` instead.
 */
static void set_reason(struct telltale_failure *failure, int err)
{
    if (!failure)
        return;
    if (err <= -4000 && err > -4100) {
        size_t used = strlen(failure->what);
        if (used + 3 < sizeof(failure->what)) {
            memcpy(failure->what + used, ": ", 3);
            libbpf_strerror(err, failure->what + used + 2, sizeof(failure->what) - used - 2);
        }
        failure->code = 0;
        return;
    }
    failure->code = err < 0 ? -err : err;
}

/* What follows the reason (a hint, libbpf's last line). */
static void set_detail(struct telltale_failure *failure, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void set_detail(struct telltale_failure *failure, const char *format, ...)
{
    if (!failure)
        return;
    va_list args;
    va_start(args, format);
    vsnprintf(failure->detail, sizeof(failure->detail), format, args);
    va_end(args);
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

/* `permission_hint` says what an EPERM at load most likely means for this object. */
static void describe_load_failure(int err, const struct message_log *log, const char *permission_hint,
                                  struct telltale_failure *failure)
{
    char program_buffer[128];
    const char *program = failing_program(log, program_buffer, sizeof(program_buffer));
    char where[160];
    if (program)
        snprintf(where, sizeof(where), " (program '%s')", program);
    else
        where[0] = 0;
    char detail[1024];

    if (err == -EPERM) {
        set_error(failure, "BPF programs cannot be loaded");
        set_reason(failure, err);
        set_detail(failure, " (%s)%s", permission_hint, where);
        return;
    }
    const char *verifier_end = strstr(log->text, "-- END PROG LOAD LOG --");
    if (verifier_end) {
        verifier_reason(log->text, verifier_end, detail, sizeof(detail));
        set_error(failure, "the kernel's verifier rejected BPF program '%s'", program ? program : "?");
        set_reason(failure, err);
        set_detail(failure, "; verifier: %s", detail);
        return;
    }
    if (find_line(log, "failed to find kernel BTF type ID", detail, sizeof(detail))) {
        set_error(failure, "this kernel lacks a tracepoint a BPF program attaches to%s: %s", where, detail);
        return;
    }
    if (find_line(log, "failed to find BTF for extern", detail, sizeof(detail)) ||
        find_line(log, "relo #", detail, sizeof(detail))) {
        set_error(failure, "this kernel's structures do not match the BPF program%s: %s", where, detail);
        return;
    }
    tail_lines(log->text, NULL, 2, detail, sizeof(detail));
    set_error(failure, "loading the BPF programs failed%s", where);
    set_reason(failure, err);
    set_detail(failure, "%s%s", detail[0] ? "; libbpf: " : "", detail);
}

/*
 * The reason a program could not be attached, from `err` (negative errno) and libbpf's last message;
 * `permission_hint` (may be NULL) says what an EPERM most likely means for this object.
 */
static void describe_attach_failure(int err, const char *program, const struct message_log *log,
                                    const char *permission_hint, struct telltale_failure *failure)
{
    char detail[512];
    tail_lines(log->text, NULL, 1, detail, sizeof(detail));
    set_error(failure, "BPF program '%s' cannot be attached", program);
    set_reason(failure, err);
    if (err == -EPERM && permission_hint)
        set_detail(failure, " (%s)", permission_hint);
    else
        set_detail(failure, "%s%s", detail[0] ? "; libbpf: " : "", detail);
}

/* The sum over every CPU of entry `key` of a per-CPU array of counters (0 when it cannot be read). */
static uint64_t percpu_sum(const struct bpf_map *map, int cpus, uint32_t key)
{
    if (!map || cpus <= 0)
        return 0;
    uint64_t values[cpus];
    if (bpf_map__lookup_elem(map, &key, sizeof(key), values, sizeof(values), 0) != 0)
        return 0;
    uint64_t total = 0;
    for (int i = 0; i < cpus; i++)
        total += values[i];
    return total;
}

/* ---- the steps both loaders take ---- */

/* Starts keeping libbpf's messages on this thread; NULL when out of memory. */
static struct message_log *start_collecting(void)
{
    struct message_log *log = calloc(1, sizeof(*log));
    if (!log)
        return NULL;
    libbpf_set_print(collect_message);
    current_log = log;
    return log;
}

static void stop_collecting(struct message_log *log)
{
    current_log = NULL;
    free(log);
}

/* -errno after a libbpf call that failed, -EINVAL when it left errno 0. */
static int failed_call(void)
{
    return errno ? -errno : -EINVAL;
}

/*
 * Opens the BPF object `image` (an ELF image in memory) as `name` and loads it into the kernel.
 * `noun` names it in messages ("cannot open the BPF object"); `permission_hint` says what an EPERM
 * at load most likely means for it. *object is set once opened, also when the load then fails, so
 * the caller's close frees it. Returns 0 or a negative errno, with `failure` filled.
 */
static int open_and_load(const void *image, size_t size, const char *name, const char *noun,
                         const char *permission_hint, const struct message_log *log, struct bpf_object **object,
                         struct telltale_failure *failure)
{
    LIBBPF_OPTS(bpf_object_open_opts, options, .object_name = name);
    *object = bpf_object__open_mem(image, size, &options);
    if (!*object) {
        int err = failed_call();
        char detail[512];
        tail_lines(log->text, NULL, 1, detail, sizeof(detail));
        set_error(failure, "cannot open the %s", noun);
        set_reason(failure, err);
        set_detail(failure, "%s%s", detail[0] ? "; libbpf: " : "", detail);
        return as_errno(err);
    }
    int err = bpf_object__load(*object);
    if (err) {
        if (err > 0)
            err = -err;
        describe_load_failure(err, log, permission_hint, failure);
        return as_errno(err);
    }
    return 0;
}

/*
 * Finds the object's ring buffer `ring_map` and its per-CPU array of counters `counters_map`,
 * counts the possible CPUs (the counters have one slot each) and maps the ring, whose records
 * `take` copies out with `context`. `noun` names the object and `ring_noun` the ring in messages.
 * Returns 0 or a negative errno, with `failure` filled.
 */
static int map_ring(struct bpf_object *object, const char *noun, const char *ring_map, const char *counters_map,
                    const char *ring_noun, ring_buffer_sample_fn take, void *context, struct ring_buffer **ring,
                    struct bpf_map **counters, int *cpus, struct telltale_failure *failure)
{
    struct bpf_map *records = bpf_object__find_map_by_name(object, ring_map);
    *counters = bpf_object__find_map_by_name(object, counters_map);
    if (!records || !*counters) {
        set_error(failure, "the %s has no '%s' map", noun, records ? counters_map : ring_map);
        return -ENOENT;
    }
    *cpus = libbpf_num_possible_cpus();
    if (*cpus <= 0) {
        int err = *cpus < 0 ? *cpus : -EINVAL;
        set_error(failure, "cannot count the possible CPUs");
        set_reason(failure, err);
        return err;
    }
    *ring = ring_buffer__new(bpf_map__fd(records), take, context, NULL);
    if (!*ring) {
        int err = failed_call();
        set_error(failure, "cannot map %s", ring_noun);
        set_reason(failure, err);
        return err;
    }
    return 0;
}

#pragma GCC diagnostic pop

#endif /* TELLTALE_LIBBPF_MESSAGES_H */
