"""report.py WORK N C SIZE ROUNDS PF_AR PTT_AR LOADAVG OUT NOTES PASSES
PF_PROCS PTT_PROCS - the
inbound benchmark's RESULTS.md from the files run.sh left in WORK:
SIDE.R.load (ptt-smtp-send's output) and SIDE.R.times (start, end, CPU
seconds before and after, messages delivered), SIDE.R.mem (peak summed RSS and PSS, KiB).
Exits 1 without writing OUT when a round lost messages or a delivered
message lacks spf, dkim or dmarc pass."""
import datetime
import os
import re
import statistics
import sys

(work, n, c, size, rounds, pf_ar, ptt_ar, load, out, notes, passes,
 pf_procs, ptt_procs) = sys.argv[1:]
n, rounds = int(n), int(rounds)
pf_pass, pf_got, ptt_pass, ptt_got = map(int, passes.split())


def side(name):
    rows = []
    for r in range(1, rounds + 1):
        s = open(os.path.join(work, "%s.%d.load" % (name, r))).read()
        m = re.search(r"(\d+) accepted.*?([\d.]+) msg/s", s)
        lat = re.search(r"p50=([\d.]+)ms p99=([\d.]+)ms", s)
        t0, t1, c0, c1, got = open(os.path.join(work, "%s.%d.times" % (name, r))).read().split()
        t0, t1, c0, c1, got = float(t0), float(t1), float(c0), float(c1), int(got)
        rss, pss = (int(x) / 1024 for x in open(os.path.join(work, "%s.%d.mem" % (name, r))).read().split())
        rows.append(dict(acc=int(m.group(1)) if m else 0, got=got,
                         rate=float(m.group(2)) if m else 0.0,
                         p50=float(lat.group(1)) if lat else float("nan"),
                         p99=float(lat.group(2)) if lat else float("nan"),
                         e2e=got / (t1 - t0), cpu=(c1 - c0) * 1000 / max(got, 1), rss=rss, pss=pss))
    return rows


def med(rows, k):
    return statistics.median(r[k] for r in rows)


def each(rows, k, f):
    return " ".join(f % r[k] for r in rows)


def ratio(a, b):
    return a / b if b else 0


pf, pt = side("pf"), side("ptt")
rows = [
    ("accepted / delivered (per round)", each(pf, "acc", "%d") + " / " + each(pf, "got", "%d"),
     each(pt, "acc", "%d") + " / " + each(pt, "got", "%d"), ""),
    ("acceptance rate at port 25 (msg/s)", "%.1f" % med(pf, "rate"), "%.1f" % med(pt, "rate"),
     "%.2fx" % ratio(med(pt, "rate"), med(pf, "rate"))),
    ("end to end, delivered at the sink (msg/s)", "%.1f" % med(pf, "e2e"), "%.1f" % med(pt, "e2e"),
     "%.2fx" % ratio(med(pt, "e2e"), med(pf, "e2e"))),
    ("latency to 250, p50 (ms)", "%.1f" % med(pf, "p50"), "%.1f" % med(pt, "p50"),
     "%.2fx faster" % ratio(med(pf, "p50"), med(pt, "p50"))),
    ("latency to 250, p99 (ms)", "%.1f" % med(pf, "p99"), "%.1f" % med(pt, "p99"),
     "%.2fx faster" % ratio(med(pf, "p99"), med(pt, "p99"))),
    ("CPU per message (ms)", "%.2f" % med(pf, "cpu"), "%.2f" % med(pt, "cpu"),
     "%.2fx less" % ratio(med(pf, "cpu"), med(pt, "cpu"))),
    ("peak resident memory, summed RSS (MiB)", "%.1f" % max(r["rss"] for r in pf), "%.1f" % max(r["rss"] for r in pt),
     "%.2fx" % ratio(max(r["rss"] for r in pt), max(r["rss"] for r in pf))),
    ("peak resident memory, summed PSS (MiB)", "%.1f" % max(r["pss"] for r in pf), "%.1f" % max(r["pss"] for r in pt),
     "%.2fx" % ratio(max(r["pss"] for r in pt), max(r["pss"] for r in pf))),
]
text = [
    "# Inbound benchmark: ptt vs Postfix + OpenDKIM + OpenDMARC", "",
    "Run %s on this machine (%d cores, shared with other work; load average at the end %s); "
    "%d rounds, each of %d DKIM-signed messages of %s body bytes (rsa-sha256 2048, relaxed/relaxed) "
    "over %s concurrent STARTTLS sessions on port 25, Postfix's round then ptt's. "
    "Medians over the rounds (memory: the peak)."
    % (datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC"), os.cpu_count(), load,
       rounds, n, size, c),
    "", "| measure | Postfix + OpenDKIM + OpenDMARC | ptt | ptt vs Postfix |", "|---|---|---|---|"]
text += ["| %s | %s | %s | %s |" % r for r in rows]
text += [
    "", "Per round, end to end msg/s: Postfix %s; ptt %s." % (each(pf, "e2e", "%.1f"), each(pt, "e2e", "%.1f")),
    "", "Verdicts on a delivered message before the rounds (Authentication-Results, authserv-id first): "
    "Postfix `%s`; ptt `%s`." % (pf_ar, ptt_ar),
    "", "Delivered messages (rounds and warm-ups) whose receiver's Authentication-Results say spf, dkim "
    "and dmarc pass: Postfix %d of %d, ptt %d of %d." % (pf_pass, pf_got, ptt_pass, ptt_got),
    "", "CPU and memory are those of these processes and their children: Postfix side: %s; "
    "ptt side: %s (ptt-resolver runs Unbound). Not counted on either side: the load generator, "
    "ptt-sink, ptt-dns (the outside world's DNS for both) and pttd." % (pf_procs, ptt_procs),
    "", "Reproduce: `make bench` (or `ROUNDS=5 N=2000 C=16 bench/inbound/run.sh BUILDDIR`).", ""]
broken = [x for x in pf + pt if x["acc"] != n or x["got"] < n]
broken += [1] if pf_pass != pf_got or ptt_pass != ptt_got or not pf_got or not ptt_got else []
if broken:
    print("\n".join(text))
    print("bench: messages lost or not verified; %s not written" % out)
    sys.exit(1)
body = "\n".join(text)
if os.path.exists(notes):
    body += "\n" + open(notes).read()
open(out, "w").write(body)
print("\n".join(text))
