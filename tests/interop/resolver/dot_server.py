#!/usr/bin/python3
# dot_server.py - a scripted DNS over TLS server (RFC 7858) for dot_reuse.sh:
# it shows how src/lib/dns/dot.c shares connections.
#   dot_server.py CERT KEY PORT MODE LOG
# MODE reverse: reads the queries pipelined on a connection (until 50 ms
#   pass without one), answers each batch in reverse order (RFC 7766
#   6.2.1.1 out of order) with A 192.0.2.J for hJ.* (else 192.0.2.1),
#   keeps the connection open;
# MODE close: the same, then closes the connection after each batch, as a
#   resolver reaching its idle limit would;
# MODE once: answers the first batch, then closes the connection when the
#   next batch comes, unanswered (queries in flight on a connection that
#   worked);
# MODE mute: accepts the TLS connection and closes it unanswered.
# One line per accepted connection and per answered batch goes to LOG.
import socket, ssl, struct, sys, threading
import dns.message, dns.rrset

cert, key, port, mode, logf = sys.argv[1:6]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
lock = threading.Lock()

def log(line):
    with lock, open(logf, "a") as f:
        f.write(line + "\n")

def read_exact(c, n):
    b = b""
    while len(b) < n:
        d = c.recv(n - len(b))
        if not d:
            return None
        b += d
    return b

def serve(raw):
    try:
        c = ctx.wrap_socket(raw, server_side=True)
    except Exception:
        return
    log("connection")
    if mode == "mute":
        c.close()
        return
    batches = 0
    while True:
        batch = []
        c.settimeout(None)
        while True:
            h = read_exact(c, 2) if not batch else None
            if batch:
                c.settimeout(0.05)
                try:
                    h = read_exact(c, 2)
                except (socket.timeout, TimeoutError):
                    break
            if h is None:
                c.close()
                return
            q = dns.message.from_wire(read_exact(c, struct.unpack("!H", h)[0]))
            batch.append(q)
        c.settimeout(None)
        batches += 1
        if mode == "once" and batches > 1:
            log("dropped %d" % len(batch))
            c.close()
            return
        for q in reversed(batch):
            r = dns.message.make_response(q)
            first = q.question[0].name.labels[0].decode()
            j = int(first[1:]) % 256 if first[:1] == "h" and first[1:].isdigit() else 1
            r.answer.append(dns.rrset.from_text(q.question[0].name, 60, "IN", "A", "192.0.2.%d" % j))
            w = r.to_wire()
            c.sendall(struct.pack("!H", len(w)) + w)
        log("batch %d" % len(batch))
        if mode == "close":
            c.close()
            return

s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(port)))
s.listen(16)
log("listening")
while True:
    raw, _ = s.accept()
    threading.Thread(target=serve, args=(raw,), daemon=True).start()
