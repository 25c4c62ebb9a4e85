#!/usr/bin/python3
"""raw.py - Python peers for ptt-sink: smtplib with STARTTLS and SMTP_SSL
verifying the test CA, BDAT/CHUNKING over a raw socket, SMTP smuggling
variants, and the STARTTLS plaintext-injection test. Prints TAP lines
without a plan; the calling shell script adds the plan.

usage: raw.py PORT TLSPORT CAFILE OUTDIR
"""
import os
import smtplib
import socket
import ssl
import sys
import time

PORT, TLSPORT, CA, OUT = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
n = 0
failed = 0


def ok(cond, name):
    global n, failed
    n += 1
    if not cond:
        failed += 1
    print(("ok" if cond else "not ok") + " %d - %s" % (n, name), flush=True)


def files():
    return sorted(f for f in os.listdir(OUT) if f.endswith('.eml'))


def grep_files(s):
    return [f for f in files() if s.encode() in open(os.path.join(OUT, f), 'rb').read()]


class Raw:
    def __init__(self, port=PORT):
        self.s = socket.create_connection(('127.0.0.1', port), timeout=10)
        self.buf = b''

    def send(self, data):
        self.s.sendall(data)

    def reply(self):
        """One complete (possibly multi-line) reply: (code, text)."""
        while True:
            lines = self.buf.split(b'\r\n')
            for i, l in enumerate(lines[:-1]):
                if len(l) >= 4 and l[3:4] == b' ':
                    rep = b'\r\n'.join(lines[:i + 1])
                    self.buf = b'\r\n'.join(lines[i + 1:])
                    return int(l[:3]), rep.decode('utf-8', 'replace')
            d = self.s.recv(65536)
            if not d:
                raise EOFError('closed; have %r' % self.buf)
            self.buf += d

    def cmd(self, line):
        self.send(line + b'\r\n')
        return self.reply()

    def close(self):
        self.s.close()


ctx = ssl.create_default_context(cafile=CA)

# smtplib with STARTTLS, verified
try:
    with smtplib.SMTP('127.0.0.1', PORT, timeout=10) as c:
        c.ehlo('py.example.test')
        ok(c.has_extn('starttls') and c.has_extn('pipelining') and c.has_extn('chunking'),
           'EHLO offers STARTTLS, PIPELINING, CHUNKING')
        c.starttls(context=ctx)
        c.ehlo('py.example.test')
        ok(not c.has_extn('starttls'), 'no STARTTLS after TLS')
        r = c.sendmail('py@example.test', ['py-starttls@example.test'],
                       b'Subject: smtplib starttls\r\n\r\nhello\r\n.dot line\r\n')
        ok(r == {}, 'smtplib STARTTLS delivery (CA verified)')
except Exception as e:
    ok(False, 'smtplib STARTTLS: %r' % e)
f = grep_files('py-starttls@example.test')
ok(len(f) == 1 and b'\r\n.dot line\r\n' in open(os.path.join(OUT, f[0]), 'rb').read(),
   'dot line stored un-stuffed')

# SMTP_SSL (implicit TLS), verified
try:
    with smtplib.SMTP_SSL('127.0.0.1', TLSPORT, context=ctx, timeout=10) as c:
        r = c.sendmail('py@example.test', ['py-ssl@example.test'], b'Subject: ssl\r\n\r\nhi\r\n')
        ok(r == {}, 'smtplib SMTP_SSL delivery (CA verified)')
except Exception as e:
    ok(False, 'smtplib SMTP_SSL: %r' % e)
f = grep_files('py-ssl@example.test')
ok(len(f) == 1 and b'X-Ptt-Sink-Tls: version=TLSv1.3' in open(os.path.join(OUT, f[0]), 'rb').read(),
   'implicit TLS recorded')

# a wrong CA is refused by the client (the server cert really is checked)
try:
    bad = ssl.create_default_context()
    with smtplib.SMTP_SSL('127.0.0.1', TLSPORT, context=bad, timeout=10) as c:
        c.noop()
    ok(False, 'verification against the system store must fail')
except ssl.SSLError:
    ok(True, 'verification against another CA fails')

# SMTPUTF8 through smtplib
try:
    with smtplib.SMTP('127.0.0.1', PORT, timeout=10) as c:
        c.ehlo('py.example.test')
        r = c.sendmail('jörg@example.test', ['empfänger@example.test'],
                       'Subject: utf8\r\n\r\nGrüße\r\n'.encode(), mail_options=['SMTPUTF8'])
        ok(r == {}, 'SMTPUTF8 delivery')
except Exception as e:
    ok(False, 'SMTPUTF8: %r' % e)

# BDAT over a raw socket
r = Raw()
r.reply()
r.cmd(b'EHLO raw.example.test')
r.send(b'MAIL FROM:<bdat@example.test> BODY=8BITMIME\r\nRCPT TO:<bdat-rcpt@example.test>\r\n'
       b'BDAT 20\r\nSubject: bdat\r\n\r\nhel')
codes = [r.reply()[0] for _ in range(3)]
ok(codes == [250, 250, 250], 'pipelined MAIL RCPT BDAT: %s' % codes)
r.send(b'BDAT 5 LAST\r\nlo\r\n\xc3')
c, t = r.reply()
# the chunk ends in a byte that is not CR or LF: accepted as it is
ok(c == 250, 'BDAT LAST accepted: %d %s' % (c, t))
r.send(b'MAIL FROM:<bdat2@example.test>\r\nRCPT TO:<bdat2-rcpt@example.test>\r\nBDAT 12 LAST\r\nbare\nLF\r\n.\r\n')
codes = [r.reply()[0] for _ in range(3)]
ok(codes == [250, 250, 554], 'BDAT with a bare LF refused: %s' % codes)
r.send(b'MAIL FROM:<bdat3@example.test>\r\nRCPT TO:<bdat3-rcpt@example.test>\r\nBDAT 0 LAST\r\n')
codes = [r.reply()[0] for _ in range(3)]
ok(codes == [250, 250, 250], 'BDAT 0 LAST: %s' % codes)
r.cmd(b'QUIT')
r.close()
f = grep_files('bdat-rcpt@example.test')
ok(len(f) == 1 and open(os.path.join(OUT, f[0]), 'rb').read().endswith(b'Subject: bdat\r\n\r\nhello\r\n\xc3'),
   'BDAT message assembled from chunks')
ok(grep_files('bdat2-rcpt@example.test') == [], 'refused BDAT message not stored')

# SMTP smuggling: none of these may end the message or produce a second one
variants = [b'\n.\n', b'\r.\r', b'\n.\r\n', b'\r\n.\n', b'\r\n.\r', b'\r.\r\n', b'\n.\r', b'\r\n.\r\r\n']
for i, v in enumerate(variants):
    before = len(files())
    r = Raw()
    r.reply()
    r.cmd(b'EHLO smuggler.example.test')
    r.send(b'MAIL FROM:<s@example.test>\r\nRCPT TO:<victim%d@example.test>\r\nDATA\r\n' % i)
    codes = [r.reply()[0] for _ in range(3)]
    r.send(b'Subject: outer\r\n\r\nx' + v +
           b'MAIL FROM:<evil@example.test>\r\nRCPT TO:<smuggled%d@example.test>\r\nDATA\r\n'
           b'Subject: smuggled\r\n\r\nevil\r\n' % i)
    time.sleep(0.05)
    r.send(b'.\r\nNOOP\r\n')
    c1 = r.reply()
    c2 = r.reply()
    r.cmd(b'QUIT')
    r.close()
    ok(codes == [250, 250, 354] and c1[0] == 554 and '5.6.0' in c1[1] and c2[0] == 250,
       'smuggling %r refused as a whole (%s %s), session in sync' % (v, c1[1], c2[0]))
    ok(len(files()) == before and not grep_files('smuggled%d@' % i),
       'smuggling %r: no message stored at all' % v)

# command-line bare LF / bare CR
r = Raw()
r.reply()
c = r.cmd(b'EHLO x\nMAIL FROM:<a@b>')
ok(c[0] == 500 and '5.5.2' in c[1], 'bare LF in a command: %s' % c[1])
r.close()

# STARTTLS injection (CVE-2011-0411): RSET pipelined in the same packet
r = Raw()
r.reply()
r.cmd(b'EHLO inject.example.test')
r.send(b'STARTTLS\r\nRSET\r\n')
c = r.reply()
ok(c[0] == 220, 'STARTTLS: 220')
tls = ctx.wrap_socket(r.s, server_hostname='127.0.0.1')
tls.settimeout(10)
tls.sendall(b'HELP\r\n')  # 214: a 250 first would be the RSET's
data = b''
while not data.endswith(b'\r\n'):
    d = tls.recv(4096)
    if not d:
        break
    data += d
lines = data.split(b'\r\n')
ok(lines[0].startswith(b'214') and len([l for l in lines if l]) == 1,
   'the RSET pipelined before the handshake was not answered: %r' % data)
tls.sendall(b'MAIL FROM:<a@b.example>\r\n')
data = tls.recv(4096)
ok(data.startswith(b'503'), 'HELO forgotten after STARTTLS: %r' % data)
tls.close()

sys.exit(1 if failed else 0)
