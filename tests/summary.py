"""summary.py TESTLOG.json - count TAP test points across meson's test log.

Prints the failing points, then one last line `N passed, N failed, N skipped`.
Exit status 1 when anything failed.
"""
import json
import re
import sys

OK = re.compile(r"^ok\b")
NOT_OK = re.compile(r"^not ok\b")
SKIP = re.compile(r"#\s*skip", re.I)


def main(path):
    passed = failed = skipped = 0
    bad = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            t = json.loads(line)
            out = t.get("stdout") or ""
            p = fl = s = 0
            for l in out.splitlines():
                if NOT_OK.match(l):
                    fl += 1
                    bad.append("%s: %s" % (t["name"], l))
                elif OK.match(l):
                    if SKIP.search(l):
                        s += 1
                    else:
                        p += 1
            result = t.get("result")
            if result in ("OK", "EXPECTEDFAIL"):
                if p + fl + s == 0:
                    p = 1
            elif result == "SKIP":
                if p + fl + s == 0:
                    s = 1
            else:
                # Crashed, timed out, bailed out or exited non-zero.
                fl += 1
                bad.append("%s: %s (exit %s)" % (t["name"], result,
                                                t.get("returncode")))
            passed += p
            failed += fl
            skipped += s
    for b in bad:
        print("FAILED " + b)
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
