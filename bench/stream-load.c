/* Load for bench/capture-rate.sh: a paced stream from this namespace to the benchmark's veth peer.
 *
 *   stream-load udp DST PPS SECONDS            PPS datagrams of 64 bytes a second over 100 ports, paced every ms
 *   stream-load tcp DST PORT MBPS SECONDS      one TCP connection sending MBPS megabytes a second, paced every ms
 *   stream-load burst DST PORT DATAGRAMS BYTES from its first instruction: DATAGRAMS datagrams of 64 bytes as
 *                                              fast as they go, then BYTES over one TCP connection
 *   stream-load sink PORT                      accepts TCP connections and discards what they send
 *
 * DST must be the benchmark's own test address (198.18.0.0/15). Prints what it sent. */
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

static long send_datagram(int s, struct sockaddr_in *to, const char *payload, size_t length) {
    for (int tries = 0; tries < 10000; tries++) {
        if (sendto(s, payload, length, 0, (struct sockaddr *)to, sizeof *to) >= 0) return 1;
        if (errno != ENOBUFS && errno != EAGAIN) { perror("sendto"); exit(1); }
        usleep(20);
    }
    return 0;
}

static int connect_to(struct sockaddr_in *to) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0 || connect(s, (struct sockaddr *)to, sizeof *to) < 0) { perror("connect"); exit(1); }
    return s;
}

static long send_all(int s, const char *buffer, long length) {
    long done = 0;
    while (done < length) {
        ssize_t n = send(s, buffer + done, (size_t)(length - done), 0);
        if (n < 0) { if (errno == EINTR) continue; perror("send"); exit(1); }
        done += n;
    }
    return done;
}

int main(int argc, char **argv) {
    static char chunk[1 << 16];
    struct sockaddr_in to = {.sin_family = AF_INET};
    if (argc >= 3 && strcmp(argv[1], "sink") != 0 && inet_pton(AF_INET, argv[2], &to.sin_addr) != 1) {
        fprintf(stderr, "stream-load: bad address\n");
        return 2;
    }
    if (argc == 7 && strcmp(argv[1], "burst") == 0) {
        long datagrams = atol(argv[4]), bytes = atol(argv[5]);
        int u = socket(AF_INET, SOCK_DGRAM, 0);
        int size = 8 << 20;
        setsockopt(u, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
        to.sin_port = htons(20000);
        long sent = 0;
        for (long i = 0; i < datagrams; i++) sent += send_datagram(u, &to, chunk, 64);
        to.sin_port = htons((uint16_t)atoi(argv[3]));
        int s = connect_to(&to);
        long streamed = 0;
        while (streamed < bytes) streamed += send_all(s, chunk, bytes - streamed < (long)sizeof chunk ? bytes - streamed : (long)sizeof chunk);
        close(s);
        printf("burst: %ld datagrams, %ld TCP bytes (%s)\n", sent, streamed, argv[6]);
        return 0;
    }
    if (argc == 5 && strcmp(argv[1], "udp") == 0) {
        long pps = atol(argv[3]), seconds = atol(argv[4]);
        int s = socket(AF_INET, SOCK_DGRAM, 0);
        int size = 8 << 20;
        setsockopt(s, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
        long sent = 0, total = pps * seconds, due = 0;
        int64_t start = now_ns();
        for (long tick = 1; due < total; tick++) {
            due = pps * tick / 1000;
            if (due > total) due = total;
            for (; sent < due; sent++) {
                to.sin_port = htons((uint16_t)(20000 + sent % 100));
                send_datagram(s, &to, chunk, 64);
            }
            sleep_until(start + tick * 1000000);
        }
        double took = (now_ns() - start) / 1e9;
        printf("sent %ld datagrams in %.2f s (%.0f/s)\n", sent, took, sent / took);
        return 0;
    }
    if (argc == 6 && strcmp(argv[1], "tcp") == 0) {
        to.sin_port = htons((uint16_t)atoi(argv[3]));
        long rate = (long)(atof(argv[4]) * 1e6), seconds = atol(argv[5]);
        int s = connect_to(&to);
        long sent = 0, total = rate * seconds;
        int64_t start = now_ns();
        for (long tick = 1; sent < total; tick++) {
            long due = (long)((double)rate * tick / 1000);
            if (due > total) due = total;
            while (sent < due) sent += send_all(s, chunk, due - sent < (long)sizeof chunk ? due - sent : (long)sizeof chunk);
            sleep_until(start + tick * 1000000);
        }
        close(s);
        double took = (now_ns() - start) / 1e9;
        printf("sent %ld bytes in %.2f s (%.1f MB/s)\n", sent, took, sent / took / 1e6);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "sink") == 0) {
        int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
        setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        struct sockaddr_in any = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
        if (bind(l, (struct sockaddr *)&any, sizeof any) < 0 || listen(l, 16) < 0) { perror("listen"); return 1; }
        for (;;) {
            int c = accept(l, NULL, NULL);
            if (c < 0) continue;
            while (recv(c, chunk, sizeof chunk, 0) > 0) {}
            close(c);
        }
    }
    fprintf(stderr, "usage: stream-load udp DST PPS SECONDS | tcp DST PORT MBPS SECONDS | burst DST PORT DATAGRAMS BYTES TAG | sink PORT\n");
    return 2;
}
