#!/usr/bin/env bash
# Installs what building, running and testing Redchat needs, or says exactly what is missing.
#   scripts/deps.sh         everything to build and run the app
#   scripts/deps.sh test    plus what the tests need (Xvfb, WebKitWebDriver, tauri-driver)
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=${1:-}
apt_packages=(libwebkit2gtk-4.1-dev build-essential file libxdo-dev libssl-dev
  libayatana-appindicator3-dev librsvg2-dev redis-server pkg-config)
if [[ $want_test == test ]]; then
  apt_packages+=(xvfb xauth webkit2gtk-driver openssl imagemagick python3-venv dbus-daemon gnome-keyring xdotool dunst appstream)
fi

missing=()
if command -v dpkg-query >/dev/null; then
  for p in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "deps: installing ${missing[*]}"
    sudo=""
    if [[ $(id -u) != 0 ]]; then
      command -v sudo >/dev/null || { echo "deps: run as root or install sudo, or install: ${missing[*]}" >&2; exit 1; }
      sudo=sudo
    fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
else
  echo "deps: not a Debian/Ubuntu system; make sure these (or your distribution's equivalents) are installed: ${apt_packages[*]}" >&2
fi

command -v cargo >/dev/null || { echo "deps: Rust is missing: install it from https://rustup.rs (needs 1.89 or later)" >&2; exit 1; }
command -v npm >/dev/null || { echo "deps: Node.js 20.19+ and npm are missing: apt-get install nodejs npm, or https://nodejs.org" >&2; exit 1; }
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
  || { echo "deps: Node.js $(node --version) is too old: Vite 8 needs 20.19 or later" >&2; exit 1; }

if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  # `npm install` honours package-lock.json. Not `npm ci`: registry mirrors that carry only
  # this platform's @tauri-apps/cli binary make the lock lack the other platforms' optional
  # packages, which `npm ci` refuses.
  echo "deps: npm install"
  npm install --no-audit --no-fund --loglevel=error
fi

if [[ $want_test == test ]] && ! command -v tauri-driver >/dev/null; then
  echo "deps: cargo install tauri-driver"
  cargo install tauri-driver --locked --quiet
fi
