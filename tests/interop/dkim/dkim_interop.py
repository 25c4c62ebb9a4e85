"""dkim_interop.py DKIMTOOL WORKDIR - ptt's DKIM against dkimpy, both ways.

TAP output. ptt signs (rsa-sha256 2048 and ed25519-sha256, four
canonicalisation pairs) and dkimpy verifies; dkimpy signs and ptt verifies;
altered messages fail in both; dkimpy's own test messages (RFC 8463's
example, signed with Ed25519 and RSA) give the verdicts dkimpy gives.
"""
import base64
import os
import subprocess
import sys

import dkim

TOOL, WORK = sys.argv[1], sys.argv[2]
DATA = "/usr/lib/python3/dist-packages/dkim/tests/data"
n = 0
failed = 0


def ok(cond, name):
    global n, failed
    n += 1
    if not cond:
        failed += 1
    print("%sok %d - %s" % ("" if cond else "not ", n, name), flush=True)


def run(args, data=b""):
    return subprocess.run([TOOL] + args, input=data, capture_output=True,
                          check=False)


def ptt_verify(keys, msg, now=None):
    path = os.path.join(WORK, "keys.txt")
    with open(path, "w") as f:
        for name, txt in keys.items():
            f.write("%s\t%s\n" % (name.rstrip("."), txt))
    args = ["verify", path] + ([str(now)] if now else [])
    return run(args, msg).stdout.decode().strip().splitlines()


MSG = (b"From: Alice <alice@example.test>\r\n"
       b"To: bob@example.net\r\n"
       b"Subject:   spaces   and\r\n\t folding \r\n"
       b"Date: Sun, 22 Nov 2026 06:00:00 +0000\r\n"
       b"Message-ID: <1@example.test>\r\n"
       b"MIME-Version: 1.0\r\n"
       b"Content-Type: text/plain; charset=utf-8\r\n"
       b"\r\n"
       b"Hello  Bob,\r\n"
       b"trailing space here   \r\n"
       b"\r\n"
       b".leading dot\r\n"
       b"\r\n\r\n\r\n")

keys = {}
for kind, args in (("rsa", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]),
                   ("ed25519", ["-algorithm", "ED25519"])):
    path = os.path.join(WORK, kind + ".key")
    subprocess.run(["openssl", "genpkey"] + args + ["-out", path],
                   check=True, capture_output=True)
    rec = run(["record", path]).stdout.decode().strip()
    keys[kind] = (path, rec)
    ok(rec.startswith("v=DKIM1; k=%s; p=" % kind), "%s key record" % kind)

for kind, (path, rec) in keys.items():
    dns = {"sel-%s._domainkey.example.test." % kind: rec}

    def dnsfunc(name, timeout=5, dns=dns):
        return dns.get(name.decode(), "").encode()

    for canon in ("simple/simple", "relaxed/relaxed", "relaxed/simple",
                  "simple/relaxed"):
        p = run(["sign", path, "example.test", "sel-" + kind, canon], MSG)
        signed = p.stdout
        ok(p.returncode == 0 and signed.startswith(b"DKIM-Signature:"),
           "ptt signs %s %s" % (kind, canon))
        ok(dkim.verify(signed, dnsfunc=dnsfunc),
           "dkimpy verifies ptt's %s %s signature" % (kind, canon))
        ok(ptt_verify(dns, signed)[0].startswith("pass"),
           "ptt verifies its own %s %s signature" % (kind, canon))
        tampered = signed.replace(b"Hello  Bob", b"Hello  Eve")
        ok(not dkim.verify(tampered, dnsfunc=dnsfunc) and
           ptt_verify(dns, tampered)[0].startswith("fail"),
           "an altered body fails in both (%s %s)" % (kind, canon))
        added = signed.replace(b"Subject:", b"Subject: [SPAM]", 1)
        ok(not dkim.verify(added, dnsfunc=dnsfunc) and
           ptt_verify(dns, added)[0].startswith("fail"),
           "an altered Subject fails in both (%s %s)" % (kind, canon))
        second_from = b"From: mallory@evil.test\r\n" + signed
        ok(ptt_verify(dns, second_from)[0].startswith("fail"),
           "an added second From fails (oversigned) (%s %s)" % (kind, canon))

        # dkimpy signs, ptt verifies.
        hc, bc = canon.split("/")
        with open(path, "rb") as f:
            pem = f.read()
        if kind == "ed25519":
            # dkimpy takes an Ed25519 key as the base64 of its 32-byte seed,
            # the last 32 bytes of the PKCS#8 DER.
            der = subprocess.run(["openssl", "pkey", "-in", path, "-outform", "DER"],
                                 check=True, capture_output=True).stdout
            pem = base64.b64encode(der[-32:])
        sig = dkim.sign(MSG, b"sel-" + kind.encode(), b"example.test", pem,
                        canonicalize=(hc.encode(), bc.encode()),
                        signature_algorithm=(b"ed25519-sha256" if kind == "ed25519"
                                             else b"rsa-sha256"))
        res = ptt_verify(dns, sig + MSG)
        ok(res[0].startswith("pass"), "ptt verifies dkimpy's %s %s signature: %s"
           % (kind, canon, res[0]))
        res = ptt_verify(dns, sig + MSG.replace(b"Bob", b"Rob"))
        ok(res[0].startswith("fail"), "ptt fails dkimpy's signature on an altered body")

# l= : dkimpy signs part of the body; ptt refuses to call it a pass.
path, rec = keys["rsa"]
dns = {"sel-rsa._domainkey.example.test.": rec}
with open(path, "rb") as f:
    pem = f.read()
sig = dkim.sign(MSG, b"sel-rsa", b"example.test", pem, length=True)
res = ptt_verify(dns, sig + MSG)
ok(res[0].startswith("pass"), "l= covering the whole body passes")
res = ptt_verify(dns, sig + MSG + b"Buy now: http://evil.test/\r\n")
ok(res[0].startswith("policy"), "content appended past l= is not a pass: %s" % res[0])

# Keys: revoked, missing, wrong type, too small; rsa-sha1.
sig = dkim.sign(MSG, b"sel-rsa", b"example.test", pem)
res = ptt_verify({"sel-rsa._domainkey.example.test": "v=DKIM1; k=rsa; p="}, sig + MSG)
ok(res[0].startswith("permerror") and "revoked" in res[0], "revoked key: %s" % res[0])
res = ptt_verify({}, sig + MSG)
ok(res[0].startswith("permerror"), "missing key record: %s" % res[0])
res = ptt_verify({"sel-rsa._domainkey.example.test": keys["ed25519"][1]}, sig + MSG)
ok(res[0].startswith("permerror"), "key of the wrong type: %s" % res[0])
small = os.path.join(WORK, "small.key")
subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                "rsa_keygen_bits:768", "-out", small], check=True,
               capture_output=True)
with open(small, "rb") as f:
    spem = f.read()
srec = run(["record", small]).stdout.decode().strip()
sig = dkim.sign(MSG, b"small", b"example.test", spem)
res = ptt_verify({"small._domainkey.example.test": srec}, sig + MSG)
ok(res[0].startswith("fail") and "1024" in res[0], "RSA under 1024 bits fails: %s" % res[0])
sig = dkim.sign(MSG, b"sel-rsa", b"example.test", pem, signature_algorithm=b"rsa-sha1")
res = ptt_verify(dns, sig + MSG)
ok(res[0].startswith("fail") and "sha1" in res[0], "rsa-sha1 fails: %s" % res[0])
res = ptt_verify(dns, b"DKIM-Signature: v=1; a=rsa-sha256; d=example.test\r\n" + MSG)
ok(res[0].startswith("permerror"), "a signature missing tags is a permerror")
ok(ptt_verify(dns, MSG)[0] == "none", "no signature: none")

# Expiry.
p = run(["sign", path, "example.test", "sel-rsa", "relaxed/relaxed", "1000000000"], MSG)
res = ptt_verify(dns, p.stdout)
ok(res[0].startswith("fail") and "expired" in res[0], "an expired signature fails: %s" % res[0])
res = ptt_verify(dns, p.stdout, now=1000000100)
ok(res[0].startswith("pass"), "the same signature passes before x=")

# dkimpy's own test data: RFC 8463's example message, Ed25519 and RSA.
with open(os.path.join(DATA, "test.txt")) as f:
    testkey = f.read().strip()
rfc_keys = {
    "brisbane._domainkey.football.example.com":
        "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
    "test._domainkey.football.example.com": testkey,
}


def rfc_dns(name, timeout=5):
    return rfc_keys.get(name.decode().rstrip("."), "").encode()


for fname in ("rfc6376.signed.msg", "rfc6376.signed.rsa.msg"):
    with open(os.path.join(DATA, fname), "rb") as f:
        m = f.read()
    theirs = dkim.DKIM(m)
    verdicts = [theirs.verify(idx=i, dnsfunc=rfc_dns)
                for i in range(len(theirs.present() and
                                   [h for h in dkim.DKIM(m).headers
                                    if h[0].lower() == b"dkim-signature"] or []))]
    ours = [l.startswith("pass") for l in ptt_verify(rfc_keys, m)]
    ok(ours == verdicts and all(ours), "%s: ptt %s, dkimpy %s" % (fname, ours, verdicts))
    bad = m.replace(b"Is dinner ready?", b"Is dinner ready!")
    theirs = dkim.DKIM(bad)
    ours = [l.startswith("pass") for l in ptt_verify(rfc_keys, bad)]
    ok(not any(ours) and not theirs.verify(dnsfunc=rfc_dns),
       "%s altered: both fail" % fname)

print("1..%d" % n)
sys.exit(1 if failed else 0)
