/*
 * telltale_widths.h — the fixed-width integers of the records shared with the BPF programs
 * (telltale_bpf_event.h, telltale_tls_event.h): <stdint.h>'s, or on the BPF target, which has no
 * libc headers, the compiler's.
 */
#ifndef TELLTALE_WIDTHS_H
#define TELLTALE_WIDTHS_H

#ifdef __bpf__
typedef __UINT8_TYPE__ uint8_t;
typedef __UINT16_TYPE__ uint16_t;
typedef __UINT32_TYPE__ uint32_t;
typedef __UINT64_TYPE__ uint64_t;
#else
#include <stdint.h>
#endif

#endif
