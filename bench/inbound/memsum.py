"""memsum.py PID... - resident memory (KiB) of the given processes and all
their living descendants, as "rss pss". Summed RSS counts every shared page
(libraries, the text of Postfix's forked servers) once per process; PSS
splits each shared page among the processes that map it, so its sum is
what the set of processes really occupies."""
import glob
import sys

todo, seen = [int(a) for a in sys.argv[1:]], set()
rss = pss = 0
while todo:
    p = todo.pop()
    if p in seen:
        continue
    seen.add(p)
    try:
        for t in glob.glob("/proc/%d/task/*/children" % p):
            with open(t) as f:
                todo += [int(x) for x in f.read().split()]
        with open("/proc/%d/smaps_rollup" % p) as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
    except (OSError, ValueError):
        continue
print("%d %d" % (rss, pss))
