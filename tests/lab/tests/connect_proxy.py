"""A tiny HTTP CONNECT proxy for the lab tests: records each tunnel request and its Proxy-Authorization header.
Names under *.azure-automation.net are sent to the emulator's address (what the lab hosts' /etc/hosts do)."""

import select
import socket
import socketserver
import threading


class _Handler(socketserver.StreamRequestHandler):
    def handle(self):
        head = []
        while True:
            line = self.rfile.readline(65536).decode("latin-1")
            if line in ("\r\n", "\n", ""):
                break
            head.append(line.rstrip("\r\n"))
        if not head or not head[0].upper().startswith("CONNECT "):
            self.wfile.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        target = head[0].split()[1]
        auth = next((h.split(":", 1)[1].strip() for h in head[1:] if h.lower().startswith("proxy-authorization:")), None)
        self.server.seen.append({"target": target, "proxy_authorization": auth})
        host, port = target.rsplit(":", 1)
        if host.endswith(".azure-automation.net"):
            host = self.server.upstream
        try:
            upstream = socket.create_connection((host, int(port)), timeout=10)
        except OSError:
            self.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()
        sockets = [self.connection, upstream]
        try:
            while True:
                readable, _, _ = select.select(sockets, [], [], 30)
                if not readable:
                    break
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (upstream if sock is self.connection else self.connection).sendall(data)
        finally:
            upstream.close()


class ConnectProxy(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, upstream):
        super().__init__((address, 0), _Handler)
        self.upstream = upstream
        self.seen = []
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self):
        return self.server_address[1]

    def close(self):
        self.shutdown()
        self.server_close()
