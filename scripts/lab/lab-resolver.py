# The labs' resolver, on UDP port 53 of LISTEN: every A query gets HOST, other types an empty
# answer; each name asked is printed with its query type.
# Usage: python3 lab-resolver.py LISTEN HOST
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((sys.argv[1], 53))
while True:
    q, peer = s.recvfrom(512)
    i, labels = 12, []
    while i < len(q) and q[i]:
        labels.append(q[i + 1:i + 1 + q[i]].decode('ascii', 'replace')); i += 1 + q[i]
    if i + 5 > len(q): continue
    qtype = struct.unpack('!H', q[i + 1:i + 3])[0]
    print('.'.join(labels), qtype, flush=True)
    a = b'\xc0\x0c' + struct.pack('!HHIH', 1, 1, 60, 4) + socket.inet_aton(sys.argv[2]) if qtype == 1 else b''
    s.sendto(q[:2] + b'\x81\x80' + q[4:6] + struct.pack('!HHH', 1 if a else 0, 0, 0) + q[12:i + 5] + a, peer)
