#!/usr/bin/env python3
"""Load and latency probes for bench/http-server.sh, over plain sockets on loopback.

  http_load.py rps PORT PATH CLIENTS SECONDS   requests/s, a new connection per request, CLIENTS threads
  http_load.py first-token PORT[,PORT…] RUNS   median ms to the first content of a streamed chat completion,
                                               and to its end, per port; the ports take turns, run by run
  http_load.py stream PORT PATH RUNS           median ms to read a whole event stream, and its events
Each prints one line of figures; the request loops are bounded in count and time."""
import json, socket, statistics, sys, threading, time


def exchange(port, request, until_first=None):
    """Sends `request`, reads to the close; with until_first, returns once that marker arrives."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    start = time.perf_counter()
    s.sendall(request)
    data, first = b"", None
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
        if until_first and first is None and until_first(data):
            first = time.perf_counter() - start
    s.close()
    return data, first, time.perf_counter() - start


def rps(port, path, clients, seconds):
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode()
    counts, errors = [0] * clients, [0] * clients
    stop = time.perf_counter() + seconds

    def client(i):
        while time.perf_counter() < stop:
            try:
                data, _, _ = exchange(port, request)
                if data.startswith(b"HTTP/1.1 200"):
                    counts[i] += 1
                else:
                    errors[i] += 1
            except OSError:
                errors[i] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    print(f"{sum(counts) / elapsed:.0f} {sum(errors)}")


def first_token(ports, runs):
    body = json.dumps({"model": "tiny", "max_tokens": 16, "temperature": 0, "stream": True,
                       "messages": [{"role": "user", "content": "Say hello."}]}).encode()
    # The first event carries the role alone; the first token is the first non-empty content.
    has_token = lambda data: any(b'"content":"' in line and b'"content":""' not in line
                                 for line in data.split(b"\n\n") if line.startswith(b"data: {"))
    firsts, totals = {p: [] for p in ports}, {p: [] for p in ports}
    for run in range(runs):
        # Turns, in an order reversed every run, so that load from elsewhere on the machine and
        # the place in the turn fall on every server alike.
        for port in (ports if run % 2 == 0 else ports[::-1]):
            # A pause first: libllama's worker threads spin a while after a generation, and the
            # other server's request must not run against them.
            time.sleep(0.3)
            request = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                       f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body
            data, first, total = exchange(port, request, has_token)
            if first is not None and data.rstrip().endswith(b"data: [DONE]"):
                firsts[port].append(first * 1000)
                totals[port].append(total * 1000)
    for port in ports:
        if firsts[port]:
            print(f"{statistics.median(firsts[port]):.1f} {statistics.median(totals[port]):.1f} {len(firsts[port])}")
        else:
            print("nan nan 0")


def stream(port, path, runs):
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode()
    times, events = [], 0
    for _ in range(runs):
        data, _, total = exchange(port, request)
        events = data.count(b"data: ")
        times.append(total * 1000)
    print(f"{statistics.median(times):.1f} {events}")


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "first-token":
        first_token([int(p) for p in sys.argv[2].split(",")], int(sys.argv[3]))
        sys.exit(0)
    port = int(sys.argv[2])
    if mode == "rps":
        rps(port, sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
    elif mode == "stream":
        stream(port, sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit(__doc__)
