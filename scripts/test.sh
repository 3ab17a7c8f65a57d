#!/usr/bin/env bash
# The README's test command: install what the tests need, then run all of them.
# System tools come from Debian/Ubuntu packages (installed with apt when missing, as root
# or through sudo); Python packages go into .venv. Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each package is used by real tests, not mocks: the Secret Service keyring (gnome-keyring
# on its own D-Bus), git sync, the clipboard under Xvfb, KeePassXC's own CLI to open what
# we export, pass/gpg stores to import, and Chromium to render the report (with a Japanese
# font, IPA Gothic, so a screenshot of a Japanese page shows its text).
PACKAGES=(gnome-keyring dbus-daemon dbus-bin git xvfb xclip xsel keepassxc pass gnupg chromium
  fonts-ipafont-gothic)

missing=()
for package in "${PACKAGES[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if ((${#missing[@]})); then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: install these packages first: ${missing[*]}" >&2
    exit 1
  fi
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "test.sh: installing ${missing[*]}" >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# compat: the editable install is one path in a .pth file; the default mode installs an
# import hook that loads pathlib, re and urllib at every start (~30 ms on each command)
.venv/bin/python -m pip install -q -e '.[test]' --config-settings editable_mode=compat
exec .venv/bin/python -m pytest "$@"
