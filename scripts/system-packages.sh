#!/usr/bin/env bash
# The Debian packages archsearch's data, examples and tests use, installed when missing
# (as root; otherwise it prints the apt-get command to run):
#   dataset-fashion-mnist  Fashion-MNIST's IDX files, read in place (training, examples)
#   fortunes               fortune cookies by topic: the `fortunes` text dataset (transformers)
#   chromium               the browser the dashboard's tests drive through Playwright
# PostgreSQL for the store tests comes from scripts/postgres-for-tests.sh.
set -euo pipefail
missing=()
[ -d /usr/share/datasets/fashion-mnist ] || missing+=(dataset-fashion-mnist)
[ -f /usr/share/games/fortunes/computers ] || missing+=(fortunes)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "archsearch: missing Debian packages; run: sudo apt-get install ${missing[*]}" >&2
    exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
