"""pttmail.py - helpers for the interop tests' Python checks (inbound, outbound).

dnsfunc(port): a dkimpy DNS callback that asks ptt-dns on 127.0.0.1:port
(TXT only, "" when there is no answer). unsink(path): a file written by
ptt-sink without its X-Ptt-Sink- envelope lines, as the MX received it.
"""
import dns.resolver


def dnsfunc(port):
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = ["127.0.0.1"]
    r.port = int(port)

    def f(name, timeout=5):
        try:
            a = r.resolve(name.decode().rstrip("."), "TXT")
        except Exception:
            return b""
        return b"".join(b"".join(x.strings) for x in a)
    return f


def unsink(path):
    lines = open(path, "rb").read().split(b"\r\n")
    while lines and lines[0].startswith(b"X-Ptt-Sink-"):
        lines.pop(0)
    return b"\r\n".join(lines)
