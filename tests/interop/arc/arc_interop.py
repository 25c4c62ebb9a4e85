"""arc_interop.py ARCTOOL WORKDIR - ptt's ARC (RFC 8617) against dkimpy's.

TAP output. ptt seals chains of one and two instances (rsa-sha256) and
dkimpy's arc_verify accepts them; dkimpy seals and ptt validates; chains
that mix both verify in both; a tampered body or a broken seal fails in
both; ptt's cv=fail seal ends the chain for both; dkimpy's own ARC test
vectors give dkimpy's verdicts; the oldest-pass is reported. dkimpy does
not do Ed25519 for ARC (its ARC_HASH_ALGORITHMS is rsa-sha256 only), so
ptt's Ed25519 seals are checked by ptt alone and dkimpy's refusal noted.
"""
import os
import re
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


DNS = {}


def dnsfunc(name, timeout=5):
    return DNS.get(name.decode().rstrip("."), "").encode()


def key(kind, sel, dom):
    path = os.path.join(WORK, "%s-%s.key" % (sel, dom))
    args = (["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]
            if kind == "rsa" else ["-algorithm", "ED25519"])
    subprocess.run(["openssl", "genpkey"] + args + ["-out", path],
                   check=True, capture_output=True)
    der = subprocess.run(["openssl", "pkey", "-in", path, "-pubout",
                          "-outform", "DER"], check=True,
                         capture_output=True).stdout
    import base64
    if kind == "ed25519":
        der = der[-32:]
    DNS["%s._domainkey.%s" % (sel, dom)] = "v=DKIM1; k=%s; p=%s" % (
        kind, base64.b64encode(der).decode())
    return path


def ptt_seal(msg, path, dom, sel, srv, cv, t=None):
    p = subprocess.run([TOOL, "seal", path, dom, sel, srv, cv] +
                       ([str(t)] if t else []), input=msg, capture_output=True)
    return p.returncode, p.stdout, p.stderr.decode()


def ptt_verify(msg, ip="192.0.2.7"):
    path = os.path.join(WORK, "keys.txt")
    with open(path, "w") as f:
        for name, txt in DNS.items():
            f.write("%s\t%s\n" % (name, txt))
    out = subprocess.run([TOOL, "verify", path, ip], input=msg,
                         capture_output=True).stdout.decode().splitlines()
    return (out + ["", ""])[:2]


def dk_verify(msg):
    cv, res, reason = dkim.arc_verify(msg, dnsfunc=dnsfunc)
    return cv, reason


def add_ar(msg, srv, results):
    return ("Authentication-Results: %s; %s\r\n" % (srv, results)).encode() + msg


MSG = (b"Received: from mail.example.org by mx.example.test; Sun, 22 Nov 2026 06:00:00 +0000\r\n"
       b"From: Alice <alice@example.org>\r\n"
       b"To: bob@example.test\r\n"
       b"Subject:   an ARC   test\r\n\t folded\r\n"
       b"Date: Sun, 22 Nov 2026 06:00:00 +0000\r\n"
       b"Message-ID: <arc1@example.org>\r\n"
       b"MIME-Version: 1.0\r\n"
       b"Content-Type: text/plain\r\n"
       b"\r\n"
       b"Hello  Bob,\r\n"
       b"trailing space   \r\n"
       b"\r\n\r\n")

k1 = key("rsa", "arc1", "example.test")
k2 = key("rsa", "arc2", "lists.example.net")
k3 = key("rsa", "arc3", "third.example")
ke = key("ed25519", "arced", "example.test")

# 1. ptt seals instance 1 (cv=none).
m1 = add_ar(MSG, "mx.example.test",
            "spf=pass smtp.mailfrom=example.org; dkim=none; dmarc=none header.from=example.org; arc=none")
rc, s1, err = ptt_seal(m1, k1, "example.test", "arc1", "mx.example.test", "none")
ok(rc == 0 and s1.startswith(b"ARC-Seal: i=1; cv=none;"), "ptt seals instance 1 %s" % err)
ok(b"ARC-Authentication-Results: i=1; mx.example.test;" in s1,
   "the AAR copies our Authentication-Results")
cv, why = dk_verify(s1)
ok(cv == dkim.CV_Pass, "dkimpy verifies ptt's chain of 1: %s %s" % (cv, why))
st, ar = ptt_verify(s1)
ok(st.startswith("pass"), "ptt verifies its own chain of 1: " + st)
ok(re.match(r"arc=pass \(i=1 d=example\.test; aar: mx\.example\.test; spf=pass.*\) "
            r"header\.oldest-pass=0 smtp\.remote-ip=192\.0\.2\.7$", ar) is not None,
   "AR result: " + ar)
try:
    import authres
    h = authres.AuthenticationResultsHeader.parse(
        "Authentication-Results: ptt.example; " + ar)
    ok(h.results[0].method == "arc" and h.results[0].result == "pass",
       "python3-authres parses the arc= result")
except ImportError:
    ok(True, "python3-authres not installed # SKIP")

# 2. A second hop (ptt again, another domain) seals instance 2 (cv=pass).
m2 = add_ar(s1, "lists.example.net", "arc=pass header.oldest-pass=0 smtp.remote-ip=192.0.2.7")
rc, s2, err = ptt_seal(m2, k2, "lists.example.net", "arc2", "lists.example.net", "pass")
ok(rc == 0 and s2.startswith(b"ARC-Seal: i=2; cv=pass;"), "ptt seals instance 2 " + err)
cv, why = dk_verify(s2)
ok(cv == dkim.CV_Pass, "dkimpy verifies ptt's chain of 2: %s %s" % (cv, why))
st, ar = ptt_verify(s2)
ok(st.startswith("pass") and "oldest-pass=0" in st, "ptt verifies the chain of 2: " + st)

# 3. Tampering: the body, then the seal's chain.
bad = s2.replace(b"Hello  Bob", b"Hello  Rob")
ok(dk_verify(bad)[0] == dkim.CV_Fail, "dkimpy fails a tampered body")
st, _ = ptt_verify(bad)
ok(st.startswith("fail") and "body hash" in st, "ptt fails a tampered body: " + st)
bad = s2.replace(b"spf=pass smtp.mailfrom=example.org", b"spf=pass smtp.mailfrom=evil.example", 1)
ok(bad != s2, "(the instance 1 AAR was altered)")
ok(dk_verify(bad)[0] == dkim.CV_Fail, "dkimpy fails an altered AAR (broken seal)")
st, _ = ptt_verify(bad)
ok(st.startswith("fail") and "ARC-Seal" in st, "ptt fails an altered AAR: " + st)
bad = re.sub(rb"(ARC-Seal: i=1; cv=none; a=rsa-sha256;(?:.|\r\n)*?b=\s*)([A-Za-z0-9])",
             lambda m: m.group(1) + (b"B" if m.group(2) != b"B" else b"C"), s2, count=1)
ok(bad != s2 and dk_verify(bad)[0] == dkim.CV_Fail, "dkimpy fails a broken seal signature")
st, _ = ptt_verify(bad)
ok(st.startswith("fail"), "ptt fails a broken seal signature: " + st)
bad = s2.replace(b"ARC-Seal: i=1; cv=none", b"ARC-Seal: i=1; cv=pass")
st, _ = ptt_verify(bad)
ok(st.startswith("fail") and "cv=none" in st, "ptt fails cv=pass on instance 1: " + st)
bad = re.sub(rb"ARC-Message-Signature: i=1;(?:.|\r\n)*?\r\n(?=[^ \t])", b"", s2, count=1)
st, _ = ptt_verify(bad)
ok(st.startswith("fail") and "contiguous" in st, "ptt fails a set without its AMS: " + st)
ok(dk_verify(bad)[0] == dkim.CV_Fail, "dkimpy too")

# 4. dkimpy seals, ptt verifies; then ptt seals on top, dkimpy verifies.
with open(k2, "rb") as f:
    pem2 = f.read()
with open(k1, "rb") as f:
    pem1 = f.read()
d1 = b"".join(dkim.arc_sign(m1, b"arc1", b"example.test", pem1, b"mx.example.test")) + m1
st, _ = ptt_verify(d1)
ok(st.startswith("pass"), "ptt verifies dkimpy's chain of 1: " + st)
dm2 = add_ar(d1, "lists.example.net", "arc=pass")
d2 = b"".join(dkim.arc_sign(dm2, b"arc2", b"lists.example.net", pem2, b"lists.example.net")) + dm2
ok(dk_verify(d2)[0] == dkim.CV_Pass, "dkimpy verifies its own chain of 2")
st, _ = ptt_verify(d2)
ok(st.startswith("pass"), "ptt verifies dkimpy's chain of 2: " + st)
st, _ = ptt_verify(d2.replace(b"trailing space", b"trailing spade"))
ok(st.startswith("fail"), "ptt fails dkimpy's chain with a tampered body: " + st)
m3 = add_ar(d2, "third.example", "arc=pass")
rc, s3, err = ptt_seal(m3, k3, "third.example", "arc3", "third.example", "pass")
ok(rc == 0 and dk_verify(s3)[0] == dkim.CV_Pass,
   "ptt's instance 3 on dkimpy's chain of 2 verifies with dkimpy " + err)
st, _ = ptt_verify(s3)
ok(st.startswith("pass"), "and with ptt: " + st)
# dkimpy on top of ptt's chain.
m3 = add_ar(s2, "third.example", "arc=pass")
with open(k3, "rb") as f:
    pem3 = f.read()
d3 = b"".join(dkim.arc_sign(m3, b"arc3", b"third.example", pem3, b"third.example")) + m3
st, _ = ptt_verify(d3)
ok(dk_verify(d3)[0] == dkim.CV_Pass and st.startswith("pass"),
   "dkimpy's instance 3 on ptt's chain of 2 verifies in both: " + st)

# 5. oldest-pass: the list changed the body after instance 1 and sealed.
mod = s1.replace(b"Hello  Bob", b"[list] Hello  Bob")
m2 = add_ar(mod, "lists.example.net", "arc=pass")
rc, s2m, err = ptt_seal(m2, k2, "lists.example.net", "arc2", "lists.example.net", "pass")
st, ar = ptt_verify(s2m)
ok(st.startswith("pass") and "oldest-pass=2" in st, "modified after instance 1: pass, oldest-pass=2: " + st)
ok("header.oldest-pass=2" in ar, "reported in the AR result")
ok(dk_verify(s2m)[0] == dkim.CV_Pass, "dkimpy agrees the chain passes")

# 6. A broken arriving chain: ptt seals cv=fail, covering its own set only.
bad = s1.replace(b"Hello  Bob", b"Hello  Rob")
st, _ = ptt_verify(bad)
m2 = add_ar(bad, "lists.example.net", "arc=fail")
rc, sf, err = ptt_seal(m2, k2, "lists.example.net", "arc2", "lists.example.net", "fail")
ok(rc == 0 and sf.startswith(b"ARC-Seal: i=2; cv=fail;"), "ptt seals a failed chain with cv=fail " + err)
cv, why = dk_verify(sf)
ok(cv in (None, dkim.CV_Fail), "dkimpy: the chain is ended: %s %s" % (cv, why))
st, _ = ptt_verify(sf)
ok(st.startswith("fail") and "cv=fail" in st, "ptt: " + st)
rc, _, err = ptt_seal(m2, k2, "lists.example.net", "arc2", "lists.example.net", "none")
ok(rc != 0, "cv=none on a message with a chain is refused: " + err.strip())

# 7. Ed25519 seals: ptt verifies them; dkimpy has no Ed25519 for ARC.
rc, se, err = ptt_seal(m1, ke, "example.test", "arced", "mx.example.test", "none")
ok(rc == 0 and b"a=ed25519-sha256" in se, "ptt seals with Ed25519 " + err)
st, _ = ptt_verify(se)
ok(st.startswith("pass"), "ptt verifies the Ed25519 seal: " + st)
ok(dk_verify(se)[0] == dkim.CV_Fail, "dkimpy refuses ARC with ed25519-sha256 (as documented)")

# 8. dkimpy's own ARC test data (tests/test_arc.py) with its verdicts.
with open(os.path.join(DATA, "test.message"), "rb") as f:
    tmsg = f.read()
with open(os.path.join(DATA, "test.txt")) as f:
    DNS["test._domainkey.example.com"] = f.read().replace("\n", "")
with open(os.path.join(DATA, "test.private"), "rb") as f:
    tkey = f.read()
sig = dkim.arc_sign(tmsg, b"test", b"example.com", tkey, b"lists.example.org",
                    timestamp="12345")
v1 = b"".join(sig) + tmsg
ok(dk_verify(v1)[0] == dkim.CV_Pass, "dkimpy passes its test_signs_and_verifies vector")
st, _ = ptt_verify(v1)
ok(st.startswith("pass"), "ptt passes it too: " + st)
h_in_as = (b'ARC-Seal: i=1; cv=none; a=rsa-sha256; d=example.com; s=test; t=12345;\r\n h=message-id : date : from : to : subject : from;\r\n b=mIurIuLl0/wAxWhA4DBS1wsUE15IBnmJ7o3sH15hIuesdD4smz1cCLXVhRtxQE\r\n rVtVLv4OgNCgdFsB5zbSOUao2bSSYP6y0BGyCWvr+hU4tai5axIc1Kfwbtv/0Mqg\r\n waiGJPreOAAeZOJ4vPfdaAbSXlN5MI4PHW89U82FSIBKI=\r\n' +
           b''.join(sig[1:]) + tmsg)
ok(dk_verify(h_in_as)[0] == dkim.CV_Fail, "dkimpy fails its test_fails_h_in_as vector")
st, _ = ptt_verify(h_in_as)
ok(st.startswith("fail") and "h=" in st, "ptt fails it too: " + st)
tpath = os.path.join(WORK, "test.private")
with open(tpath, "wb") as f:
    f.write(tkey)
rc, sp, err = ptt_seal(tmsg, tpath, "example.com", "test", "lists.example.org", "none")
ok(rc == 0 and dk_verify(sp)[0] == dkim.CV_Pass,
   "ptt seals dkimpy's test.message with its 1024-bit test key; dkimpy passes it " + err)
ok(b"ARC-Authentication-Results: i=1; lists.example.org;\r\n\tarc=none;" in sp,
   "the AAR carries lists.example.org's results")

# 9. No chain at all.
st, ar = ptt_verify(MSG)
ok(st.startswith("none") and ar.startswith("arc=none"), "no chain: " + ar)

print("1..%d" % n)
sys.exit(1 if failed else 0)
