"""fsyncprobe.py DIR [N] - how slow durable writes are on DIR's disk right
now: N times (default 100) write a 5 KiB file, fsync it, rename it, fsync
the directory (what ptt's queue does per message), and print the medians
as "file_ms dir_ms". The bench runs it before and after the loads: on a
shared machine the disk, more than the CPU, decides ratios that involve
fsync."""
import os
import statistics
import sys
import time

d = os.path.join(sys.argv[1], "fsyncprobe")
n = int(sys.argv[2]) if len(sys.argv) > 2 else 100
os.makedirs(d, exist_ok=True)
dfd = os.open(d, os.O_RDONLY)
data = os.urandom(5120)
tf, td = [], []
for i in range(n):
    p = os.path.join(d, "t%d" % i)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, data)
    t = time.monotonic()
    os.fsync(fd)
    tf.append(time.monotonic() - t)
    os.close(fd)
    os.rename(p, os.path.join(d, "f%d" % i))
    t = time.monotonic()
    os.fsync(dfd)
    td.append(time.monotonic() - t)
for i in range(n):
    os.unlink(os.path.join(d, "f%d" % i))
os.close(dfd)
os.rmdir(d)
print("%.2f %.2f" % (statistics.median(tf) * 1000, statistics.median(td) * 1000))
