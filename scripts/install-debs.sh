#!/usr/bin/env bash
# Debian packages the tests, the demo and the benchmarks (bench/) need. Idempotent: a no-op
# when all are present.
set -euo pipefail
packages=(
  postfix postfix-sqlite postfix-pgsql libmilter-dev gcc python3-dev sqlite3 swaks
  postgresql chromium fonts-ipafont-gothic ca-certificates
  rspamd spamassassin spamd spamc spamass-milter clamav-daemon clamav-milter
  dovecot-core dovecot-pop3d dovecot-imapd dovecot-sqlite dovecot-pgsql postsrsd systemd
)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
$SUDO apt-get update -q
# The tests and the demo start private instances on their own ports, never the packages'
# default ones.
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
