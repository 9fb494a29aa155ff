# The labs' stand-in internet: HTTP on 80 and HTTPS on 443 of ADDRESS (self-signed with CERT and
# KEY), answering every request with `{}` and printing each as "METHOD HOST PATH".
# Usage: python3 stand-in-web.py ADDRESS CERT KEY
import http.server, ssl, sys, threading
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def answer(self):
        n = int(self.headers.get('Content-Length') or 0)
        if n: self.rfile.read(n)
        print(self.command, self.headers.get('Host'), self.path, flush=True)
        body = b'{}'
        self.send_response(200); self.send_header('Content-Length', str(len(body))); self.end_headers()
        if self.command != 'HEAD': self.wfile.write(body)
    do_GET = do_POST = do_HEAD = do_PUT = answer
    def log_message(self, *a): pass
plain = http.server.ThreadingHTTPServer((sys.argv[1], 80), H)
tls = http.server.ThreadingHTTPServer((sys.argv[1], 443), H)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); context.load_cert_chain(sys.argv[2], sys.argv[3])
tls.socket = context.wrap_socket(tls.socket, server_side=True)
threading.Thread(target=plain.serve_forever, daemon=True).start()
tls.serve_forever()
