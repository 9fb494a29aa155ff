/* The observed program of bench/event-cost.sh: a tight loop of socket calls whose cost the kernel's
 * socket events add to.
 *
 *   socket-loop udp COUNT PORT    COUNT 10-byte sendto() calls on one unconnected UDP socket to 127.0.0.1:PORT
 *   socket-loop tcp COUNT         COUNT rounds of socket/connect/send 10 bytes/close to a listener of its own
 *                                 on 127.0.0.1 (a thread accepts and closes)
 *
 * Prints "wall_ns cpu_ns count": the loop's wall time and the CPU time (user + system) this process spent. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int64_t cpu_ns(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return ((int64_t)u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000000000
        + ((int64_t)u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1000;
}

static int listener;

static void *acceptor(void *unused) {
    (void)unused;
    char buffer[64];
    for (;;) {
        int c = accept(listener, NULL, NULL);
        if (c < 0) continue;
        (void)recv(c, buffer, sizeof buffer, 0);
        close(c);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: socket-loop udp COUNT PORT | socket-loop tcp COUNT\n");
        return 2;
    }
    long count = atol(argv[2]);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    char payload[10] = "0123456789";
    int64_t wall0, cpu0;
    if (strcmp(argv[1], "udp") == 0 && argc == 4) {
        to.sin_port = htons((uint16_t)atoi(argv[3]));
        int s = socket(AF_INET, SOCK_DGRAM, 0);
        wall0 = now_ns(), cpu0 = cpu_ns();
        for (long i = 0; i < count; i++) {
            if (sendto(s, payload, sizeof payload, 0, (struct sockaddr *)&to, sizeof to) < 0) { perror("sendto"); return 1; }
        }
    } else if (strcmp(argv[1], "tcp") == 0) {
        listener = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        socklen_t length = sizeof to;
        if (bind(listener, (struct sockaddr *)&to, sizeof to) < 0 || listen(listener, 1024) < 0
            || getsockname(listener, (struct sockaddr *)&to, &length) < 0) { perror("listen"); return 1; }
        pthread_t thread;
        pthread_create(&thread, NULL, acceptor, NULL);
        wall0 = now_ns(), cpu0 = cpu_ns();
        for (long i = 0; i < count; i++) {
            int s = socket(AF_INET, SOCK_STREAM, 0);
            struct linger l = {1, 0};  /* reset at close: no TIME_WAIT pile-up over thousands of rounds */
            setsockopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof l);
            if (connect(s, (struct sockaddr *)&to, sizeof to) < 0) { perror("connect"); return 1; }
            if (send(s, payload, sizeof payload, 0) < 0) { perror("send"); return 1; }
            close(s);
        }
    } else {
        fprintf(stderr, "usage: socket-loop udp COUNT PORT | socket-loop tcp COUNT\n");
        return 2;
    }
    printf("%lld %lld %ld\n", (long long)(now_ns() - wall0), (long long)(cpu_ns() - cpu0), count);
    return 0;
}
