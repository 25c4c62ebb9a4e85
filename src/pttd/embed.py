# embed.py IN OUT NAME - write IN as a C string constant NAME into OUT
# (pttd's status page is built in: no files to install or find).
import sys
data = open(sys.argv[1], "rb").read()
with open(sys.argv[2], "w") as f:
    f.write("/* generated from %s by embed.py */\n" % sys.argv[1].split("/")[-1])
    f.write("static const char %s[] =\n" % sys.argv[3])
    for i in range(0, len(data), 60):
        chunk = data[i:i + 60]
        f.write('    "' + "".join("\\x%02x" % b for b in chunk) + '"\n')
    f.write(";\n")
