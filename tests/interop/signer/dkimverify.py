"""dkimverify.py FILE DNSPORT - verify every DKIM-Signature of a message
the way a receiver would: dkimpy, keys fetched over real DNS from the
server on 127.0.0.1:DNSPORT. The sink's envelope lines before the first
DKIM-Signature are dropped. Prints "SELECTORS | ALGORITHMS [results]"
(each sorted) and exits 0 when every signature verifies."""
import sys
import dkim
import dns.resolver

r = dns.resolver.Resolver(configure=False)
r.nameservers = ["127.0.0.1"]
r.port = int(sys.argv[2])


def dnsfunc(name, timeout=5):
    try:
        a = r.resolve(name.decode().rstrip("."), "TXT")
    except Exception:
        return b""
    return b"".join(b"".join(x.strings) for x in a)


raw = open(sys.argv[1], "rb").read()
msg = raw[raw.index(b"DKIM-Signature:"):]
d = dkim.DKIM(msg)
sigs = [h for h in d.headers if h[0].lower() == b"dkim-signature"]
res = [d.verify(idx=i, dnsfunc=dnsfunc) for i in range(len(sigs))]
tags = [dkim.util.parse_tag_value(h[1]) for h in sigs]
sels = sorted(t[b"s"].decode() for t in tags)
algs = sorted(t[b"a"].decode() for t in tags)
print(" ".join(sels), "|", " ".join(algs), res)
sys.exit(0 if res and all(res) else 1)
