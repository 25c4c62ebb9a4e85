"""proctime.py PID... - CPU seconds (user+system, including reaped
children) and resident memory (KiB) of the given processes and all their
living descendants, as "cpu rss"."""
import os
import sys

HZ = os.sysconf("SC_CLK_TCK")


def children():
    kids = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                st = f.read()
        except OSError:
            continue
        ppid = int(st[st.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(p))
    return kids


def tree(roots):
    kids, seen, todo = children(), set(), list(roots)
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        todo.extend(kids.get(p, []))
    return seen


cpu = 0.0
rss = 0
for p in tree(int(a) for a in sys.argv[1:]):
    try:
        with open("/proc/%d/stat" % p) as f:
            st = f.read()
        fields = st[st.rindex(")") + 2:].split()
        # utime stime cutime cstime are fields 14-17 (1-based) of stat
        cpu += sum(int(x) for x in fields[11:15]) / HZ
        with open("/proc/%d/status" % p) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1])
    except (OSError, ValueError):
        continue
print("%.2f %d" % (cpu, rss))
