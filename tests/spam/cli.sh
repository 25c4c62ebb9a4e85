#!/usr/bin/env bash
# cli.sh PTT PTT_SPAM - `ptt spam train` on maildirs (cur/ and new/) and
# plain directories, `ptt spam classify` on files, directories and
# maildirs (PATH<TAB>spam|ham<TAB>SCORE), training twice gives the same
# bytes, and ptt-spam is the same program. Small synthetic mail: no corpus.
set -u
PTT=$1 PTTSPAM=$2
W=$(mktemp -d "${TMPDIR:-/tmp}/ptt-spam-cli.XXXXXX")
trap 'rm -rf "$W"' EXIT
n=0 failed=0
ok() { n=$((n + 1)); if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi; }

mkdir -p "$W/ham/cur" "$W/ham/new" "$W/ham/tmp" "$W/spam"
for i in $(seq 1 40); do
	d=$W/ham/cur; [ $((i % 2)) = 0 ] && d=$W/ham/new
	printf 'From: colleague%d@example.org\nTo: me@example.test\nSubject: Re: meeting notes %d\nIn-Reply-To: <m%d@example.org>\n\nHi, attached are the notes from the build meeting, see the patch review\nand the release schedule for week %d. Thanks, Sam\n' \
		$i $i $i $i > "$d/$i.host:2,S"
	printf 'From: winner%d@cheap-pills.example\nTo: me@example.test\nSubject: FREE money now!!! $%d\nContent-Type: text/html\n\n<html><b>Click here</b> to claim your FREE prize of $%d,000 <a href="http://cheap-pills.example/buy">buy now</a> viagra casino</html>\n' \
		$i $i $i > "$W/spam/$i.eml"
done
printf 'garbage left by a crashed delivery' > "$W/ham/tmp/partial"

"$PTT" spam train --ham "$W/ham" --spam "$W/spam" -o "$W/a.model" --bits 16 --average 2 > "$W/train.out" 2>&1
ok $? "ptt spam train on a maildir and a directory: $(grep -m1 'ham,' "$W/train.out")"
ok $(grep -q '40 ham, 40 spam' "$W/train.out"; echo $?) "cur/ and new/ read, tmp/ not"
"$PTTSPAM" train --ham "$W/ham" --spam "$W/spam" -o "$W/b.model" --bits 16 --average 2 > /dev/null 2>&1
ok $(cmp -s "$W/a.model" "$W/b.model"; echo $?) "trained twice (ptt spam, ptt-spam): byte-identical models"

cp "$W/ham/cur/1.host:2,S" "$W/h.eml"
cp "$W/spam/1.eml" "$W/s.eml"
out=$("$PTT" spam classify -m "$W/a.model" "$W/h.eml" "$W/s.eml")
ok $? "ptt spam classify FILE FILE"
ok $(echo "$out" | awk -F'\t' -v h="$W/h.eml" -v s="$W/s.eml" \
	'NF == 3 && (($1 == h && $2 == "ham") || ($1 == s && $2 == "spam")) && $3 >= 0 && $3 <= 1 { k++ } END { exit k != 2 }'; echo $?) \
	"one PATH<TAB>spam|ham<TAB>SCORE line each, right verdicts: $(echo "$out" | sed "s|$W/||g" | tr '\n\t' '; ')"
out=$("$PTT" spam classify -m "$W/a.model" "$W/ham" "$W/spam")
ok $([ "$(echo "$out" | grep -c '	ham	')" = 40 ] && [ "$(echo "$out" | grep -c '	spam	')" = 40 ]; echo $?) \
	"classify a maildir and a directory: 40 ham, 40 spam lines"
"$PTT" spam classify -m "$W/a.model" "$W/nonexistent" > /dev/null 2>&1
ok $([ $? -ne 0 ]; echo $?) "a missing file is an error"
printf 'not a model' > "$W/bad.model"
"$PTT" spam classify -m "$W/bad.model" "$W/h.eml" > /dev/null 2> "$W/err"
ok $([ $? -ne 0 ] && grep -q 'bad model' "$W/err"; echo $?) "a bad model is refused: $(head -1 "$W/err")"
# Without -o, train replaces the model the services and classify read
# (here $PTT_SPAM_MODEL), as `ptt spam train --ham DIR --spam DIR` does.
PTT_SPAM_MODEL="$W/default.model" "$PTT" spam train --ham "$W/ham" --spam "$W/spam" --bits 16 --average 2 > /dev/null 2>&1
ok $(cmp -s "$W/a.model" "$W/default.model"; echo $?) "train without -o writes the default model"
out=$(PTT_SPAM_MODEL="$W/default.model" "$PTT" spam classify "$W/s.eml")
ok $(echo "$out" | grep -q '	spam	'; echo $?) "and classify without -m reads it"
echo "1..$n"
[ $failed = 0 ]
