#!/usr/bin/env bash
# Refresh the translation sources from app/ui and compile them:
#   bash resources/i18n/update.sh
# Then translate the new entries of interphone_zh_CN.ts (Qt Linguist:
# .venv/bin/pyside6-linguist) and run this again to rebuild the .qm.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="$root/.venv/bin"
cd "$root"
"$bin/pyside6-lupdate" app/ui/*.py -ts resources/i18n/interphone_zh_CN.ts -target-language zh_CN
"$bin/pyside6-lrelease" resources/i18n/interphone_zh_CN.ts -qm resources/i18n/interphone_zh_CN.qm
