#!/bin/sh
# Installs the Debian packages: Chromium for the browser tests, WordNet (antonyms) for the support judge.
set -eu
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium wordnet-base >/dev/null
echo "installed: $(chromium --version), WordNet in /usr/share/wordnet"
