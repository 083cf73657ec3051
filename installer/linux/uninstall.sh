#!/usr/bin/env bash
# Remove what install.sh placed: the program folder, the launcher, the menu entry and the icons
# (exactly the files in the program folder's install-manifest.txt, and the folders install.sh
# created for them when they are empty). The data folder (database, settings, logs, crash
# reports) is kept: a reinstall or upgrade finds it again. Delete it by hand if wanted.
#
#   bash ~/.local/lib/auditdesk/uninstall.sh        (as root: bash /opt/auditdesk/uninstall.sh)
set -euo pipefail
QUIET=0
if [ "${1:-}" = "--quiet" ]; then QUIET=1; fi

# AUDITDESK_INSTALL_SCOPE=user|system overrides the choice by user id (root means system).
SCOPE=${AUDITDESK_INSTALL_SCOPE:-$([ "$(id -u)" -eq 0 ] && echo system || echo user)}
if [ "$SCOPE" = system ]; then
  APP_DIR=/opt/auditdesk
else
  APP_DIR="$HOME/.local/lib/auditdesk"
fi
MANIFEST="$APP_DIR/install-manifest.txt"
if [ ! -f "$MANIFEST" ]; then
  echo "uninstall.sh: AuditDesk is not installed in $APP_DIR (no install-manifest.txt)." >&2
  exit 1
fi

dirs=()
while IFS= read -r line; do
  kind=${line%% *}
  path=${line#* }
  case "$kind" in
    file) rm -f "$path" ;;
    dir) dirs=("$path" "${dirs[@]}") ;;
  esac
done <"$MANIFEST"
rm -rf "$APP_DIR"
for dir in "${dirs[@]}"; do  # deepest first
  rmdir "$dir" 2>/dev/null || true
done

if [ "$QUIET" -eq 0 ]; then
  echo "Removed AuditDesk from $APP_DIR and its menu entry, icons and launcher."
  echo "Your data folder was kept: ${XDG_DATA_HOME:-$HOME/.local/share}/AuditDesk" \
    "(or the folder AUDITDESK_HOME names)."
fi
