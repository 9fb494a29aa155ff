#!/usr/bin/env python3
"""The names lab: real programs resolve and connect while `telltale capture` watches.

A network namespace (tt-names-ns) holds the stand-in internet host 198.18.20.2 with a small DNS
server, a TLS server (openssl s_server), a plain TCP/HTTP server. From the machine's own namespace
`dig`, `curl`, `openssl s_client`, a Python socket client and an aioquic QUIC client are the
observed programs. Prints telltale's NDJSON flows on standard output. Needs root.
Usage: names-lab.py TELLTALE_BINARY
"""
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

NS, HOST_IF, PEER_IF = "tt-names-ns", "tt-names-h", "tt-names-p"
HOST_IP, PEER_IP = "198.18.20.1", "198.18.20.2"
ZONE = {"raw.tt.test": PEER_IP, "plain.tt.test": PEER_IP, "tls.tt.test": PEER_IP, "quic.tt.test": PEER_IP,
        "alpha.tt.test": PEER_IP, "beta.tt.test": PEER_IP}

# A program that resolves NAME itself (one DNS query over UDP), then connects to the answer from
# source port PORT and keeps the connection a moment: two of them resolve different names to the
# same address, and each flow must carry its own program's name.
RESOLVE_AND_CONNECT = r'''
import socket, struct, sys, time
name, port, server = sys.argv[1], int(sys.argv[2]), sys.argv[3]
q = struct.pack("!HHHHHH", port & 0xffff, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0" + struct.pack("!HH", 1, 1)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(2); u.sendto(q, (server, 53))
data, _ = u.recvfrom(512)
address = socket.inet_ntoa(data[-4:])
time.sleep(0.1)
c = socket.socket(); c.bind(("0.0.0.0", port)); c.settimeout(3); c.connect((address, 9000))
c.sendall(b"\x00opaque"); c.recv(100); time.sleep(0.2); c.close()
'''

DNS_SERVER = r'''
import socket, struct, sys
zone = dict(a.split("=") for a in sys.argv[2:])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 53))
while True:
    data, peer = s.recvfrom(4096)
    if len(data) < 12: continue
    qid, flags, qd = struct.unpack("!HHH", data[:6])
    i, labels = 12, []
    while i < len(data) and data[i]:
        labels.append(data[i+1:i+1+data[i]].decode("ascii", "replace")); i += 1 + data[i]
    question = data[12:i+5]
    qtype = struct.unpack("!H", data[i+1:i+3])[0] if i + 3 <= len(data) else 0
    name = ".".join(labels).lower()
    answers = b""
    count = 0
    if name in zone and qtype == 1:
        answers = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + socket.inet_aton(zone[name]); count = 1
    rcode = 0 if name in zone else 3
    s.sendto(struct.pack("!HHHHHH", qid, 0x8180 | rcode, 1, count, 0, 0) + question + answers, peer)
'''

SERVE = r'''
import socket, sys, threading
def serve(port, reply):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[1], port)); s.listen(16)
    while True:
        c, _ = s.accept()
        try:
            c.settimeout(2); c.recv(4096); c.sendall(reply)
        except OSError: pass
        c.close()
threading.Thread(target=serve, args=(9000, b"hello\n"), daemon=True).start()
serve(8080, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
'''

def run(*args, check=True, **kw):
    return subprocess.run(list(args), check=check, capture_output=True, text=True, **kw)

def ns(*args):
    return ["ip", "netns", "exec", NS] + list(args)

def cleanup():
    run("ip", "link", "del", HOST_IF, check=False)
    run("ip", "netns", "del", NS, check=False)

def setup():
    cleanup()
    run("ip", "netns", "add", NS)
    run("ip", "link", "add", HOST_IF, "type", "veth", "peer", "name", PEER_IF)
    run("ip", "link", "set", PEER_IF, "netns", NS)
    run("ip", "addr", "add", HOST_IP + "/30", "dev", HOST_IF)
    run("ip", "link", "set", HOST_IF, "up")
    run(*ns("ip", "addr", "add", PEER_IP + "/30", "dev", PEER_IF))
    run(*ns("ip", "link", "set", PEER_IF, "up"))
    run(*ns("ip", "link", "set", "lo", "up"))
    for cmd in (["ethtool", "-K", HOST_IF], ns("ethtool", "-K", PEER_IF)):
        run(*(cmd + ["tso", "off", "gso", "off", "gro", "off"]), check=False)

def main():
    telltale = sys.argv[1]
    procs = []
    work = tempfile.mkdtemp(prefix="tt-names-")
    try:
        setup()
        key, cert = os.path.join(work, "key.pem"), os.path.join(work, "cert.pem")
        run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
            "-days", "1", "-subj", "/CN=tls.tt.test")
        procs.append(subprocess.Popen(ns("python3", "-c", DNS_SERVER, PEER_IP) + ["%s=%s" % kv for kv in ZONE.items()]))
        procs.append(subprocess.Popen(ns("python3", "-c", SERVE, PEER_IP)))
        procs.append(subprocess.Popen(ns("openssl", "s_server", "-accept", PEER_IP + ":4433", "-key", key, "-cert", cert, "-quiet", "-naccept", "1"),
                                      stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(0.5)  # let the servers bind before the capture starts
        capture = subprocess.Popen([telltale, "capture", "-i", HOST_IF, "--format", "ndjson"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # telltale says when it captures; wait for that line (bounded).
        deadline = time.time() + 20
        while time.time() < deadline:
            line = capture.stderr.readline()
            if "capturing on" in line or not line:
                break
        time.sleep(0.5)

        # 1. dig resolves raw.tt.test; a Python client connects to the answer without any name in its bytes.
        answer = run("dig", "+short", "+time=2", "+tries=1", "@" + PEER_IP, "raw.tt.test").stdout.split()
        address = answer[0] if answer else PEER_IP
        c = socket.create_connection((address, 9000), timeout=3)
        c.sendall(b"\x00\x01binary\x02")
        c.recv(100)
        c.close()
        # 2. curl over plain HTTP: the Host header names it.
        run("curl", "-s", "-m", "5", "--resolve", "plain.tt.test:8080:" + PEER_IP, "http://plain.tt.test:8080/", check=False)
        # 3. openssl s_client: the ClientHello's SNI names it.
        run("openssl", "s_client", "-connect", PEER_IP + ":4433", "-servername", "tls.tt.test", input="", check=False, timeout=10)
        # 4. aioquic: a QUIC v1 Initial with SNI quic.tt.test (no server needed: the Initial is what is read).
        quic = r'''
import asyncio, ssl
from aioquic.asyncio import connect
from aioquic.quic.configuration import QuicConfiguration
async def main():
    cfg = QuicConfiguration(is_client=True, alpn_protocols=["h3"], server_name="quic.tt.test")
    cfg.verify_mode = ssl.CERT_NONE
    try:
        async with connect("%s", 4434, configuration=cfg, wait_connected=True) as c:
            pass
    except Exception:
        pass
try:
    asyncio.run(asyncio.wait_for(main(), 1.5))
except Exception:
    pass
''' % PEER_IP
        run("python3", "-c", quic, check=False, timeout=20)
        # 5. Two programs resolve different names to one address: each flow carries its own program's name.
        run("python3", "-c", RESOLVE_AND_CONNECT, "alpha.tt.test", "41001", PEER_IP, check=False, timeout=20)
        run("python3", "-c", RESOLVE_AND_CONNECT, "beta.tt.test", "41002", PEER_IP, check=False, timeout=20)
        time.sleep(0.5)
        capture.send_signal(signal.SIGINT)
        out, err = capture.communicate(timeout=20)
        sys.stdout.write(out)
        sys.stderr.write(err)
    finally:
        for p in procs:
            p.kill()
            p.wait()
        cleanup()

if __name__ == "__main__":
    main()
