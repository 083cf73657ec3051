#!/usr/bin/env bash
# Install AuditDesk from its bundle: for this user into ~/.local, or (run as root) for everyone
# into /opt/auditdesk with the launcher, menu entry and icons under /usr/local.
#
#   bash install.sh                         # the bundle folder this script is in
#   bash install.sh AuditDesk-0.1.0-linux-x86_64.tar.gz
#   bash install.sh path/to/AuditDesk       # an unpacked bundle folder
#
# Upgrading is the same command with the new bundle: the old program files are removed first
# (exactly those listed in the old install's manifest); the data folder (database, settings,
# logs) is never touched, and the database migrates to the new schema at the next start.
# Every file placed outside the program folder is listed in <program folder>/install-manifest.txt,
# which uninstall.sh reads to remove exactly that.
set -euo pipefail

# AUDITDESK_INSTALL_SCOPE=user|system overrides the choice by user id (root means system).
SCOPE=${AUDITDESK_INSTALL_SCOPE:-$([ "$(id -u)" -eq 0 ] && echo system || echo user)}
if [ "$SCOPE" = system ]; then
  APP_DIR=/opt/auditdesk
  BIN_DIR=/usr/local/bin
  SHARE_DIR=/usr/local/share
else
  APP_DIR="$HOME/.local/lib/auditdesk"
  BIN_DIR="$HOME/.local/bin"
  SHARE_DIR="${XDG_DATA_HOME:-$HOME/.local/share}"
fi
MANIFEST="$APP_DIR/install-manifest.txt"

SRC=${1:-$(cd "$(dirname "$0")" && pwd)}
TMP=""
LIST=""
cleanup() { rm -rf ${TMP:+"$TMP"} ${LIST:+"$LIST"}; }
trap cleanup EXIT
if [ -f "$SRC" ]; then
  case "$SRC" in
    *.tar.gz | *.tgz) ;;
    *) echo "install.sh: $SRC is not a .tar.gz bundle or a bundle folder" >&2; exit 2 ;;
  esac
  TMP=$(mktemp -d)
  tar -xzf "$SRC" -C "$TMP"
  SRC="$TMP/AuditDesk"
fi
if [ ! -x "$SRC/auditdesk" ] || [ ! -d "$SRC/share/applications" ]; then
  echo "install.sh: $SRC is not an AuditDesk bundle (it needs the auditdesk executable and" \
    "share/applications/); build one with: bash installer/build" >&2
  exit 2
fi

if [ "$(cd "$SRC" && pwd -P)" = "$(cd "$APP_DIR" 2>/dev/null && pwd -P)" ]; then
  echo "install.sh: $SRC is the installed copy; run the install.sh of the new bundle" \
    "instead (bash install.sh AuditDesk-<version>-linux-<arch>.tar.gz)." >&2
  exit 2
fi
if [ -f "$MANIFEST" ]; then
  echo "Removing the installed version first (the data folder is kept)."
  AUDITDESK_INSTALL_SCOPE=$SCOPE bash "$SRC/uninstall.sh" --quiet
elif [ -e "$APP_DIR" ]; then
  echo "install.sh: $APP_DIR exists but was not made by install.sh (no install-manifest.txt);" \
    "move it away first." >&2
  exit 2
fi

# The manifest is written outside the program folder until the end. Directories this install
# creates are recorded too, so uninstall leaves no empty ones behind.
LIST=$(mktemp)
record_dirs() {
  local dir=$1 missing=()
  while [ ! -d "$dir" ]; do missing=("$dir" "${missing[@]}"); dir=$(dirname "$dir"); done
  for dir in "${missing[@]}"; do mkdir "$dir"; echo "dir $dir" >>"$LIST"; done
}
place() {  # place SOURCE DEST
  record_dirs "$(dirname "$2")"
  install -m 644 "$1" "$2"
  echo "file $2" >>"$LIST"
}

record_dirs "$(dirname "$APP_DIR")"
cp -a "$SRC" "$APP_DIR"
rm -f "$APP_DIR/portable.txt"  # an installed copy keeps its data in the user's data folder

record_dirs "$BIN_DIR"
ln -sfn "$APP_DIR/auditdesk" "$BIN_DIR/auditdesk"
echo "file $BIN_DIR/auditdesk" >>"$LIST"

DESKTOP_TMP=$(mktemp)
sed -e "s|^Exec=.*|Exec=\"$APP_DIR/auditdesk\" gui|" -e "/^Exec=/a TryExec=$APP_DIR/auditdesk" \
  "$SRC/share/applications/auditdesk.desktop" >"$DESKTOP_TMP"
place "$DESKTOP_TMP" "$SHARE_DIR/applications/auditdesk.desktop"
rm -f "$DESKTOP_TMP"
while IFS= read -r icon; do
  place "$SRC/share/icons/$icon" "$SHARE_DIR/icons/$icon"
done < <(cd "$SRC/share/icons" && find . -type f | sed 's|^\./||' | sort)

install -m 644 "$LIST" "$MANIFEST"
echo "Installed AuditDesk in $APP_DIR"
echo "  command: $BIN_DIR/auditdesk   menu entry: $SHARE_DIR/applications/auditdesk.desktop"
echo "  check it: $BIN_DIR/auditdesk --selftest   remove it: bash $APP_DIR/uninstall.sh"
