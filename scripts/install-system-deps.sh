#!/bin/sh
# Installs the Debian packages: Chromium for the browser tests, WordNet (antonyms) for the support judge,
# PostgreSQL for the tests of a shared conversations database (they initdb and start their own server
# on a free port as the postgres user; the package's own cluster on 5432 is not used).
set -eu
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium wordnet-base postgresql >/dev/null
# Debian keeps initdb/postgres in /usr/lib/postgresql/<version>/bin, out of PATH; the tests look there.
POSTGRES=$(ls -d /usr/lib/postgresql/*/bin/postgres | tail -n 1)
echo "installed: $(chromium --version), WordNet in /usr/share/wordnet, $($POSTGRES --version) in $(dirname "$POSTGRES")"
