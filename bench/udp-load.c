/* UDP load for bench/daemon-cost.sh, run inside the benchmark's network namespace.
 *
 *   udp-load rate DST PPS SECONDS FLOWS   PPS datagrams a second for SECONDS, cycling over FLOWS
 *                                         destination ports (one source socket), paced every millisecond
 *   udp-load flows DST COUNT PPS [HOLD]   one datagram from each of COUNT distinct (source port,
 *                                         destination port) pairs, paced at PPS, then keeps its sockets
 *                                         open for HOLD seconds (default 0), so the flows stay open:
 *                                         a datagram flow ends when the process owning its socket exits
 *
 * DST must be an address of the benchmark's own namespace link (198.18.0.0/15). Prints what it sent. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pacing.h"

static int open_socket(uint16_t port) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (s < 0) { perror("socket"); exit(1); }
    int size = 4 << 20;
    setsockopt(s, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    struct sockaddr_in local = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY)};
    if (bind(s, (struct sockaddr *)&local, sizeof local) < 0) { perror("bind"); exit(1); }
    return s;
}

/* Sends, retrying briefly when the socket buffer is full; returns 1 when sent. */
static int send_one(int s, struct sockaddr_in *to, const char *payload, size_t length) {
    for (int tries = 0; tries < 1000; tries++) {
        if (sendto(s, payload, length, 0, (struct sockaddr *)to, sizeof *to) >= 0) return 1;
        if (errno != ENOBUFS && errno != EAGAIN) { perror("sendto"); exit(1); }
        usleep(100);
    }
    return 0;
}

int main(int argc, char **argv) {
    char payload[200];
    memset(payload, 'x', sizeof payload);
    struct sockaddr_in to = {.sin_family = AF_INET};
    if (argc >= 3 && inet_pton(AF_INET, argv[2], &to.sin_addr) != 1) { fprintf(stderr, "udp-load: bad address\n"); return 2; }
    if (argc == 6 && strcmp(argv[1], "rate") == 0) {
        long pps = atol(argv[3]), seconds = atol(argv[4]), flows = atol(argv[5]);
        if (pps <= 0 || seconds <= 0 || flows <= 0 || flows > 60000) { fprintf(stderr, "udp-load: bad numbers\n"); return 2; }
        int s = open_socket(40000);
        long sent = 0, total = pps * seconds;
        int64_t start = now_ns();
        for (long tick = 1; sent < total; tick++) {
            long due = pps * tick / 1000; /* packets due after `tick` milliseconds */
            if (due > total) due = total;
            for (; sent < due; sent++) {
                to.sin_port = htons((uint16_t)(20000 + sent % flows));
                send_one(s, &to, payload, sizeof payload);
            }
            sleep_until(start + tick * 1000000);
        }
        double took = (now_ns() - start) / 1e9;
        printf("sent %ld datagrams over %ld flows in %.2f s (%.0f/s)\n", sent, flows, took, sent / took);
        return 0;
    }
    if ((argc == 5 || argc == 6) && strcmp(argv[1], "flows") == 0) {
        long count = atol(argv[3]), pps = atol(argv[4]), hold = argc == 6 ? atol(argv[5]) : 0;
        if (count <= 0 || pps <= 0 || hold < 0) { fprintf(stderr, "udp-load: bad numbers\n"); return 2; }
        /* Source ports 30000.. (one socket each) times destination ports 20000..29999. */
        long per_socket = 10000, sockets = (count + per_socket - 1) / per_socket;
        if (sockets > 30000) { fprintf(stderr, "udp-load: too many flows\n"); return 2; }
        int *fds = calloc((size_t)sockets, sizeof *fds);
        if (!fds) return 1;
        for (long i = 0; i < sockets; i++) fds[i] = open_socket((uint16_t)(30000 + i));
        long sent = 0, lost = 0;
        int64_t start = now_ns();
        for (long tick = 1; sent < count; tick++) {
            long due = pps * tick / 1000;
            if (due > count) due = count;
            for (; sent < due; sent++) {
                to.sin_port = htons((uint16_t)(20000 + sent % per_socket));
                if (!send_one(fds[sent / per_socket], &to, payload, sizeof payload)) lost++;
            }
            sleep_until(start + tick * 1000000);
        }
        double took = (now_ns() - start) / 1e9;
        printf("sent one datagram on each of %ld distinct port pairs in %.2f s (%ld not sent)\n", sent - lost, took, lost);
        fflush(stdout);
        if (hold > 0) sleep_until(now_ns() + hold * 1000000000LL);
        return 0;
    }
    fprintf(stderr, "usage: udp-load rate DST PPS SECONDS FLOWS | udp-load flows DST COUNT PPS [HOLD]\n");
    return 2;
}
