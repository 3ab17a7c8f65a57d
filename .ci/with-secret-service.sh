#!/usr/bin/env bash
# Run CMD ARGS... inside a private D-Bus session with a real, unlocked
# gnome-keyring Secret Service (for keyring's SecretService backend).
# Usage: .ci/with-secret-service.sh CMD [ARGS...]   -> exits with CMD's status.
# Needs (Debian 12), installed by the caller, not by this script:
#   apt-get install -y --no-install-recommends gnome-keyring dbus-daemon dbus-bin
# The keyring (throwaway password) lives in a temp dir, never in $HOME, and the
# daemon uses a private control dir, so a developer's own keyring is untouched.
set -euo pipefail
[[ $# -ge 1 ]] || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }

if [[ -z "${_WSS_TMP:-}" ]]; then          # outer: make temp dir, start bus
  _WSS_TMP=$(mktemp -d); export _WSS_TMP
  trap 'rm -rf "$_WSS_TMP"' EXIT
  set +e; dbus-run-session -- "$BASH" "${BASH_SOURCE[0]}" "$@"; rc=$?; set -e
  exit "$rc"
fi

# inner: running inside dbus-run-session
mkdir -m 0700 -p "$_WSS_TMP/run" "$_WSS_TMP/data"
if [[ -z "${XDG_RUNTIME_DIR:-}" ]]; then export XDG_RUNTIME_DIR="$_WSS_TMP/run"; fi
# --unlock reads the password on stdin and creates/unlocks the "login"
# collection (which becomes the "default" alias); prints VAR=value lines.
out=$(printf %s throwaway-ci-pw | env -u GNOME_KEYRING_CONTROL \
  XDG_RUNTIME_DIR="$_WSS_TMP/run" XDG_DATA_HOME="$_WSS_TMP/data" \
  gnome-keyring-daemon --daemonize --unlock --components=secrets)
while IFS= read -r line; do
  if [[ "$line" =~ ^[A-Z_]+=.+ ]]; then export "${line?}"; fi
done <<<"$out"

# The daemon claims org.freedesktop.secrets a little after returning; wait
# (bounded) so clients never trigger D-Bus auto-activation of a second daemon.
q() { dbus-send --session --print-reply=literal "$@" 2>/dev/null; }
for _ in $(seq 100); do
  if q --dest=org.freedesktop.DBus /org/freedesktop/DBus \
       org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets | grep -q true &&
     q --dest=org.freedesktop.secrets /org/freedesktop/secrets/aliases/default \
       org.freedesktop.DBus.Properties.Get string:org.freedesktop.Secret.Collection \
       string:Locked | grep -q false; then
    ready=1; break
  fi
  sleep 0.1
done
[[ -n "${ready:-}" ]] || { echo "$0: Secret Service not ready after 10s" >&2; exit 1; }

unset _WSS_TMP
exec "$@"
