/*
 * telltale_failure.h — why opening or attaching BPF programs failed, in parts: what failed, the
 * errno that says why (the Swift side words it, as it words every errno), and what follows.
 */
#ifndef TELLTALE_FAILURE_H
#define TELLTALE_FAILURE_H

/*
 * Read as `what`, then ": " and the system's message for `code` when `code` is not 0, then `detail`:
 * "cannot map the BPF ring buffer" ": Cannot allocate memory" "" or
 * "BPF programs cannot be loaded" ": Operation not permitted" " (needs root or CAP_BPF+CAP_PERFMON)".
 * Both texts are NUL-terminated and cut to their size.
 */
struct telltale_failure {
    /* What failed, for a person (with libbpf's own words when its code, not an errno, is the reason). */
    char what[512];
    /* The errno that is the reason, or 0 when `what` says everything. */
    int code;
    /* What follows the reason: a hint, the program concerned, libbpf's last line; may be empty. */
    char detail[512];
};

#endif
