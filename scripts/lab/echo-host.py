# A test host on ADDRESS: a TCP server on port 7000 that answers each request with 200 bytes and
# closes, and a UDP echo on port 7001.
# Usage: python3 echo-host.py ADDRESS
import socket, sys, threading
address = sys.argv[1]
def tcp():
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((address, 7000)); s.listen(128)
    while True:
        c, _ = s.accept()
        try: c.recv(200); c.sendall(b't' * 200)
        except OSError: pass
        c.close()
threading.Thread(target=tcp, daemon=True).start()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind((address, 7001))
while True:
    d, a = u.recvfrom(2000); u.sendto(d, a)
