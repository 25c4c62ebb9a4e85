#!/usr/bin/env bash
# Installs every Debian 12 package ptt needs to build, test and run its demo.
# Idempotent: only what is missing is installed. As root it uses apt-get;
# otherwise it names the missing packages and exits 1.
set -eu

BUILD="gcc make pkg-config meson ninja-build libssl-dev libevent-dev
 libunbound-dev libldns-dev libgit2-dev libseccomp-dev libpsl-dev libidn2-dev
 libsodium-dev libcurl4-openssl-dev libjansson-dev openssl git"
RUN="unbound dns-root-data ca-certificates"
TEST="clang libclang-rt-14-dev postfix swaks libnet-ssleay-perl
 libauthen-sasl-perl libio-socket-ssl-perl sasl2-bin libsasl2-modules python3
 python3-aiosmtpd iproute2 procps knot knot-dnsutils bind9-dnsutils unbound
 python3-spf python3-yaml python3-dnspython python3-dkim python3-authres
 opendkim-tools opendkim opendmarc libmail-dmarc-perl openssh-server pebble
 ldnsutils dns-root-data spamassassin spamd spamc chromium nodejs curl"

want="$BUILD $RUN $TEST" tests=yes
case "${1:-all}" in
  build) want="$BUILD" tests=no ;;
  run) want="$BUILD $RUN" tests=no ;;
  all) ;;
  *) echo "usage: $0 [build|run|all]" >&2; exit 2 ;;
esac

# The browser test's playwright-core (npm registry), pinned by
# tests/browser/package-lock.json; it drives Debian's chromium.
npm_browser() {
  local dir; dir=$(cd "$(dirname "$0")/.." && pwd)/tests/browser
  if [ "$tests" = yes ] && [ ! -d "$dir/node_modules/playwright-core" ] &&
      command -v npm >/dev/null; then
    (cd "$dir" && npm ci --no-audit --no-fund >/dev/null) ||
      echo "deps: npm ci in $dir failed (the browser test needs it)" >&2
  fi
}

missing=""
for p in $want; do
  s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$s" = installed ] || missing="$missing $p"
done
# Debian's nodejs comes without npm (its own package); NodeSource's has it.
[ "$tests" = yes ] && ! command -v npm >/dev/null && missing="$missing npm"
[ -z "$missing" ] && { npm_browser; exit 0; }

if [ "$(id -u)" != 0 ]; then
  echo "ptt needs these Debian packages:$missing" >&2
  echo "install them with: sudo apt-get install$missing" >&2
  exit 1
fi

echo "deps: installing$missing"
# Packages such as postfix must not start system services on install.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
fi
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends $missing >/dev/null
npm_browser
