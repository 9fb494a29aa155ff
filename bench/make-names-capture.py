#!/usr/bin/env python3
"""Writes a pcap rich in DNS lookups and TLS handshakes, for the name-extraction benchmark.

Each connection: a DNS query and its answer (A record, a CNAME), a TCP handshake, a TLS ClientHello
with SNI, then `data` segments each way and the close. Usage: make-names-capture.py OUT.pcap [CONNECTIONS]
"""
import struct
import sys

out = sys.argv[1]
connections = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
data_segments = 8

def ip4(a):
    return bytes(int(x) for x in a.split("."))

def ether_ipv4(src, dst, proto, payload):
    total = 20 + len(payload)
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 1, 0x4000, 64, proto, 0, ip4(src), ip4(dst))
    return b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00" + header + payload

def udp(src, dst, sp, dp, payload):
    return ether_ipv4(src, dst, 17, struct.pack("!HHHH", sp, dp, 8 + len(payload), 0) + payload)

def tcp(src, dst, sp, dp, flags, seq, ack, payload=b""):
    return ether_ipv4(src, dst, 6, struct.pack("!HHIIBBHHH", sp, dp, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload)

def name(n):
    return b"".join(bytes([len(l)]) + l.encode() for l in n.split(".")) + b"\x00"

def dns_query(i, host):
    return struct.pack("!HHHHHH", i & 0xffff, 0x0100, 1, 0, 0, 0) + name(host) + struct.pack("!HH", 1, 1)

def dns_answer(i, host, addr):
    body = struct.pack("!HHHHHH", i & 0xffff, 0x8180, 1, 2, 0, 0) + name(host) + struct.pack("!HH", 1, 1)
    cname = name("edge%d.cdn.example" % (i % 97))
    body += b"\xc0\x0c" + struct.pack("!HHIH", 5, 1, 60, len(cname)) + cname
    body += b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + ip4(addr)
    return body

def client_hello(host):
    sni = host.encode()
    ext = struct.pack("!HHHBH", 0, len(sni) + 5, len(sni) + 3, 0, len(sni)) + sni
    ext += struct.pack("!HHB", 0x2b, 3, 2) + b"\x03\x04"
    ext += struct.pack("!HH", 0x15, 400) + bytes(400)
    body = b"\x03\x03" + bytes(32) + b"\x20" + bytes(32) + b"\x00\x04\x13\x01\x13\x02\x01\x00" + struct.pack("!H", len(ext)) + ext
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs

with open(out, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b23c4d, 2, 4, 0, 0, 262144, 1))
    t = 1_700_000_000 * 10**9
    def write(frame):
        global t
        t += 20_000
        f.write(struct.pack("<IIII", t // 10**9, t % 10**9, len(frame), len(frame)) + frame)
    client, resolver = "10.0.0.2", "10.0.0.1"
    for i in range(connections):
        host = "host%d.example%d.com" % (i, i % 13)
        server = "198.18.%d.%d" % ((i >> 8) & 0xff, i & 0xff)
        qport = 20000 + i % 40000
        write(udp(client, resolver, qport, 53, dns_query(i, host)))
        write(udp(resolver, client, 53, qport, dns_answer(i, host, server)))
        sp = 30000 + i % 30000
        write(tcp(client, server, sp, 443, 0x02, 1000, 0))
        write(tcp(server, client, 443, sp, 0x12, 5000, 1001))
        write(tcp(client, server, sp, 443, 0x10, 1001, 5001))
        hello = client_hello(host)
        write(tcp(client, server, sp, 443, 0x18, 1001, 5001, hello))
        seq_c, seq_s = 1001 + len(hello), 5001
        for _ in range(data_segments):
            write(tcp(server, client, 443, sp, 0x18, seq_s, seq_c, bytes(1200)))
            seq_s += 1200
            write(tcp(client, server, sp, 443, 0x10, seq_c, seq_s, bytes(100)))
            seq_c += 100
        write(tcp(client, server, sp, 443, 0x11, seq_c, seq_s))
        write(tcp(server, client, 443, sp, 0x11, seq_s, seq_c + 1))
