#!/usr/bin/env bash
# Build the macOS app dist/Interphone.app and a disk image with it (hdiutil).
#
#   bash packaging/build_macos.sh [--venv DIR] [--dist DIR] [--work DIR] [--bundle-only] [--self-test]
#
# UNTESTED ON macOS: written to mirror build_linux.sh, which is what CI runs.
# Needs Python 3.11+ (python.org or Homebrew). libopus comes from the
# opuslib-next-bundled wheel for this machine's architecture (built for macOS 11+,
# fetched with pip) unless INTERPHONE_LIBOPUS names a dylib; PortAudio comes
# with sounddevice's wheel. Both end up inside the app; users need neither.
# The app is ad-hoc signed by PyInstaller; sign and notarize it with your
# Developer ID before giving it to others (Gatekeeper blocks unsigned apps).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/find_python.sh
source "$root/scripts/find_python.sh"
cd "$root"
# shellcheck source=packaging/build_options.sh
source "$root/packaging/build_options.sh" "$@"
start=$SECONDS

# 1. The build venv: the app's dependencies plus PyInstaller, from pyproject.toml.
if [ ! -x "$venv/bin/python" ]; then
    python="$(find_python)" || { say "Python 3.11 or newer is needed"; exit 1; }
    say "creating build venv $venv"
    "$python" -m venv "$venv"
fi
say "installing the project with its packaging extra into $venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check \
    -c requirements/constraints.txt -e ".[packaging]"

# 2. libopus: the opuslib-next-bundled wheel's dylib for this architecture.
if [ -z "${INTERPHONE_LIBOPUS:-}" ]; then
    wheels="$root/build/opus-wheel"
    rm -rf "$wheels"
    "$venv/bin/python" -m pip download -q --disable-pip-version-check --no-deps \
        --only-binary=:all: --platform "macosx_11_0_$arch" -d "$wheels" "opuslib-next-bundled>=0.1,<1"
    "$venv/bin/python" - "$wheels" <<'PY'
import sys, zipfile
from pathlib import Path
folder = Path(sys.argv[1])
wheel = next(folder.glob("*.whl"))
zipfile.ZipFile(wheel).extract("opuslib_next/_native/libopus.dylib", folder)
PY
    export INTERPHONE_LIBOPUS="$wheels/opuslib_next/_native/libopus.dylib"
fi
say "libopus: $INTERPHONE_LIBOPUS"

# 3. The app bundle (the spec adds the BUNDLE step on macOS).
say "running PyInstaller"
rm -rf "$dist/Interphone" "$dist/Interphone.app" "$work/interphone"
"$venv/bin/python" -m PyInstaller --noconfirm --log-level WARN \
    --distpath "$dist" --workpath "$work" packaging/interphone.spec
app="$dist/Interphone.app"
say "app: $app ($(du -sm "$app" | cut -f1) MiB) in $((SECONDS - start)) s"

if [ "$self_test" -eq 1 ]; then
    say "self-test of the app"
    QT_QPA_PLATFORM=offscreen "$app/Contents/MacOS/Interphone" --self-test
fi
[ "$bundle_only" -eq 1 ] && exit 0

# 4. Disk image: the app and a link to /Applications to drag it onto.
staging="$work/dmg"
rm -rf "$staging"
mkdir -p "$staging"
cp -R "$app" "$staging/"
ln -s /Applications "$staging/Applications"
dmg="$dist/Interphone-$version-macos-$arch.dmg"
rm -f "$dmg"
hdiutil create -volname "Interphone $version" -srcfolder "$staging" -ov -format UDZO "$dmg" >/dev/null
say "dmg: $dmg ($(du -m "$dmg" | cut -f1) MiB)"
say "done in $((SECONDS - start)) s"
