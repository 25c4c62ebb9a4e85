# badtls.py ADDR PORT DIR - a pretend MX that offers STARTTLS and then
# breaks the handshake (answers 220 and sends bytes that are not TLS), but
# accepts mail in plaintext from a client that does not ask for STARTTLS.
# Each message is written to DIR (temp file, then rename). Loopback only.
import asyncio
import os
import sys

addr, port, outdir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
count = 0


async def handle(r, w):
    global count
    w.write(b"220 mx.badtls.test ESMTP\r\n")
    await w.drain()
    sender, rcpts = None, []
    while True:
        line = await r.readline()
        if not line:
            break
        cmd = line.decode('latin1').rstrip('\r\n')
        up = cmd.upper()
        if up.startswith('EHLO'):
            w.write(b"250-mx.badtls.test\r\n250-8BITMIME\r\n250 STARTTLS\r\n")
        elif up.startswith('HELO'):
            w.write(b"250 mx.badtls.test\r\n")
        elif up == 'STARTTLS':
            w.write(b"220 2.0.0 Ready to start TLS\r\n")
            await w.drain()
            # Wait for the ClientHello: bytes glued to the 220 would be
            # (rightly) refused as a STARTTLS injection, not a TLS failure.
            await r.read(1)
            w.write(b"this is not a TLS ServerHello\r\n" * 8)
            await w.drain()
            w.close()
            return
        elif up.startswith('MAIL FROM:'):
            sender, rcpts = cmd[10:].split(' ')[0], []
            w.write(b"250 2.1.0 ok\r\n")
        elif up.startswith('RCPT TO:'):
            rcpts.append(cmd[8:].split(' ')[0])
            w.write(b"250 2.1.5 ok\r\n")
        elif up == 'DATA':
            w.write(b"354 go ahead\r\n")
            await w.drain()
            data = b''
            while True:
                chunk = await r.readline()
                if not chunk:
                    return
                if chunk == b'.\r\n':
                    break
                data += chunk
            count += 1
            tmp = os.path.join(outdir, '.tmp%d' % count)
            with open(tmp, 'wb') as f:
                f.write(b'X-Mail-From: ' + sender.encode() + b'\r\n')
                for rc in rcpts:
                    f.write(b'X-Rcpt-To: ' + rc.encode() + b'\r\n')
                f.write(data)
            os.rename(tmp, os.path.join(outdir, '%d.eml' % count))
            w.write(b"250 2.0.0 stored\r\n")
        elif up == 'QUIT':
            w.write(b"221 2.0.0 bye\r\n")
            await w.drain()
            break
        elif up in ('RSET', 'NOOP'):
            w.write(b"250 2.0.0 ok\r\n")
        else:
            w.write(b"502 5.5.1 not implemented\r\n")
        await w.drain()
    w.close()


async def main():
    server = await asyncio.start_server(handle, addr, port)
    async with server:
        await server.serve_forever()

asyncio.run(main())
