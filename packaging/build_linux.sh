#!/usr/bin/env bash
# Build the Linux one-folder bundle dist/Interphone (with the console tools alone in
# dist/interphone-server), then a tarball, two .deb (interphone, the desktop app, and
# interphone-server, the server and the CLI; dpkg-deb, when present) and an AppImage
# (appimagetool, when on PATH).
#
#   bash packaging/build_linux.sh [--venv DIR] [--dist DIR] [--work DIR] [--bundle-only] [--self-test]
#
#   --venv DIR     build with this venv (created if missing; default build/venv-pack,
#                  `--venv .venv` reuses the development venv); the project and its
#                  `packaging` extra (PyInstaller) are installed into it
#   --dist DIR     where the bundle and packages go (default dist/)
#   --work DIR     PyInstaller's work folder and package staging (default build/pyinstaller)
#   --bundle-only  stop after the bundle (no tarball, .deb or AppImage)
#   --self-test    run the bundle's --self-test (Qt offscreen) before packaging
#
# Needs Python 3.11+, and libopus and PortAudio installed on the build machine
# (Debian: libopus0 libportaudio2); both are copied into the bundle, so the
# machines that run it need neither.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/find_python.sh
source "$root/scripts/find_python.sh"
cd "$root"
# shellcheck source=packaging/build_options.sh
source "$root/packaging/build_options.sh" "$@"
deb_arch="$(dpkg --print-architecture 2>/dev/null || echo amd64)"
start=$SECONDS

# 1. The build venv: the app's dependencies plus PyInstaller, from pyproject.toml.
# Builds running at the same time (two test runs) share it: one sets it up at a time.
mkdir -p "$root/build"
exec 9>"$root/build/venv-setup.lock"
flock 9
if [ ! -x "$venv/bin/python" ]; then
    python="$(find_python)" || { say "Python 3.11 or newer is needed"; exit 1; }
    say "creating build venv $venv"
    "$python" -m venv "$venv"
fi
stamp="$venv/.interphone-packaging"
want="$( (cat pyproject.toml requirements/constraints.txt; "$venv/bin/python" --version) | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "installing the project with its packaging extra into $venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check \
    -c requirements/constraints.txt -e ".[packaging]"
    echo "$want" >"$stamp"
fi
flock -u 9

# 2. The bundle. Native libraries come from the system (see interphone.spec).
libraries="$(/sbin/ldconfig -p)"
for lib in libopus.so.0 libportaudio.so.2; do
    if ! grep -qF $'\t'"$lib " <<<"$libraries"; then
        say "$lib is not installed; on Debian/Ubuntu: apt-get install libopus0 libportaudio2"
        exit 1
    fi
done
say "running PyInstaller"
# No --clean: it empties PyInstaller's cache in ~/.cache, which another build
# running at the same time may be using; the spec's own work folder is fresh.
rm -rf "$dist/Interphone" "$dist/interphone-server" "$work/interphone"
"$venv/bin/python" -m PyInstaller --noconfirm --log-level WARN \
    --distpath "$dist" --workpath "$work" packaging/interphone.spec
bundle="$dist/Interphone"
size="$(du -sm "$bundle" | cut -f1)"
say "bundle: $bundle (${size} MiB, $(find "$bundle" -type f | wc -l) files) in $((SECONDS - start)) s"

if [ "$self_test" -eq 1 ]; then
    say "self-test of the bundle"
    QT_QPA_PLATFORM=offscreen "$bundle/Interphone" --self-test
fi
[ "$bundle_only" -eq 1 ] && exit 0

# 3. Tarball: unpack anywhere, run Interphone/Interphone.
tarball="$dist/Interphone-$version-linux-$arch.tar.gz"
tar -C "$dist" -czf "$tarball" Interphone
say "tarball: $tarball ($(du -m "$tarball" | cut -f1) MiB)"

# Desktop entry and icon shared by the .deb and the AppImage.
desktop_entry() {
    cat <<DESKTOP
[Desktop Entry]
Type=Application
Name=Interphone
GenericName=Push-to-talk
Comment=Push-to-talk groups: hold Space to talk
Exec=$1
Icon=interphone
Terminal=false
Categories=Network;Telephony;Chat;
StartupWMClass=Interphone
DESKTOP
}

# 4. Two Debian packages, from this one PyInstaller run:
#   interphone-server  the console tools alone (dist/interphone-server: interphone-server,
#                      interphone-cli and only what they load, no Qt, no PortAudio) in
#                      /opt/interphone-server, both on PATH, with the server's systemd unit
#                      and /etc/interphone/directory.toml. For a headless host: it pulls in
#                      no X, GL, Wayland or sound library.
#   interphone         the desktop app: the full bundle in /opt/interphone, less the two
#                      console executables, with its menu entry and icon.
# The desktop package keeps its own copy of the runtime the two share (Python, libopus,
# lxml...) rather than depending on interphone-server: each installs alone (a desktop
# needs no server and its unit, a server no desktop), and no file belongs to both, which
# dpkg refuses: everything of the desktop's lives under /opt/interphone or in its own
# menu and icon paths, the commands on PATH, the unit and the directory belong to
# interphone-server alone. The runtime they share (Python, numpy, cryptography, lxml:
# ~100 MiB) is then on disk twice when both are installed; a third package for it would
# save that at the price of a third file to install by hand. interphone-server takes over, with Replaces/Breaks, the
# files that an interphone .deb older than this version held (commands, unit, directory).
# interphone-server also depends on procps: the unit reloads with /bin/kill, which a
# minimal system (a container image, debootstrap's minbase) does not have.
# Depends carry minimum versions (packaging/debian/versioned_depends.sh): a libc6 older
# than the build machine's would install, then fail on a missing GLIBC_x.y symbol.
# interphone-server has maintainer scripts (packaging/debian/interphone-server.*: the
# unit's daemon-reload, stop on removal, restart on upgrade, clean-up on purge). The
# desktop package needs none: dpkg triggers of hicolor-icon-theme and desktop-file-utils
# refresh the icon cache and the menu's database when its files come and go.
elf_files() {
    find "$1" -type f | while read -r file; do
        head -c 4 "$file" | cmp -s - <(printf '\177ELF') && echo "$file"
    done
}
if command -v dpkg-deb >/dev/null; then
    console="$dist/interphone-server"
    for tool in interphone-server interphone-cli; do
        [ -x "$console/$tool" ] || { say "$console/$tool is missing"; exit 1; }
    done
    # The server package's dependencies are what its ELF files load from the system
    # (ldd, with the bundle's own folder first, as the bootloader sets it up), named by
    # the packages that own those files. A library of a display or sound stack among them
    # is a regression, not something to depend on.
    needed="$(elf_files "$console" | LD_LIBRARY_PATH="$console/_internal" xargs -r -n1 ldd 2>/dev/null \
        | awk '$2 == "=>" {print $1, $3}' | grep -v " $console/" | sort -u)"
    if grep -E '^(libX|libxcb|libGL|libEGL|libOpenGL|libwayland|libQt|libasound|libjack|libportaudio)' \
        <<<"$needed"; then
        say "the console tools load a display or sound library (above)"
        exit 1
    fi
    if grep -F ' not' <<<"$needed"; then
        say "the console tools need a library that is neither bundled nor installed (above)"
        exit 1
    fi
    server_depends="$(cut -d' ' -f2 <<<"$needed" | while read -r file; do
        dpkg -S "$file" 2>/dev/null || dpkg -S "$(readlink -f "$file")" 2>/dev/null \
            || { say "no package owns $file" && echo "?: $file"; }
    done | cut -d: -f1 | sort -u | paste -sd, - | sed 's/,/, /g')"
    if [ -z "$server_depends" ] || grep -qF '?' <<<"$server_depends"; then
        say "cannot name the packages the console tools load from: $server_depends"
        exit 1
    fi
    say "interphone-server loads from the system: $(cut -d' ' -f1 <<<"$needed" | paste -sd' ' -)"

    spkg="$work/deb/interphone-server"
    rm -rf "$spkg"
    mkdir -p "$spkg/DEBIAN" "$spkg/opt/interphone" "$spkg/usr/bin" "$spkg/lib/systemd/system" \
        "$spkg/etc/interphone" "$spkg/usr/share/doc/interphone-server"
    cp -a "$console" "$spkg/opt/interphone-server"
    ln -s /opt/interphone-server/interphone-server "$spkg/usr/bin/interphone-server"
    ln -s /opt/interphone-server/interphone-cli "$spkg/usr/bin/interphone-cli"
    # Where the single .deb had them: `systemctl edit` drop-ins written then (deploy.md)
    # name /opt/interphone/interphone-server in their ExecStart.
    ln -s /opt/interphone-server/interphone-server "$spkg/opt/interphone/interphone-server"
    ln -s /opt/interphone-server/interphone-cli "$spkg/opt/interphone/interphone-cli"
    # The server as a systemd service, installed disabled (no user to create: the unit's
    # DynamicUser= makes its user at each start), with an example directory (a conffile:
    # upgrades keep the operator's edits; root-only, it holds tokens).
    cp packaging/systemd/interphone-server.service "$spkg/lib/systemd/system/"
    install -m 0600 app/server/example.toml "$spkg/etc/interphone/directory.toml"
    echo /etc/interphone/directory.toml >"$spkg/DEBIAN/conffiles"
    for script in postinst prerm postrm; do
        install -m 0755 "packaging/debian/interphone-server.$script" "$spkg/DEBIAN/$script"
    done
    [ -f docs/deploy.md ] && cp docs/deploy.md "$spkg/usr/share/doc/interphone-server/"
    # shellcheck disable=SC2046  # file names from PyInstaller, without blanks
    server_depends="$(bash packaging/debian/versioned_depends.sh \
        -l "$spkg/opt/interphone-server/_internal" "$server_depends" \
        $(elf_files "$spkg/opt/interphone-server"))"
    say "interphone-server depends on: $server_depends"
    cat >"$spkg/DEBIAN/control" <<CONTROL
Package: interphone-server
Version: $version
Architecture: $deb_arch
Maintainer: Interphone developers <interphone@localhost>
Installed-Size: $(du -sk "$spkg" | cut -f1)
Depends: $server_depends, procps
Replaces: interphone (<< $version)
Breaks: interphone (<< $version)
Section: net
Priority: optional
Description: Push-to-talk server and command-line client
 interphone-server (a systemd unit, disabled by default) and interphone-cli,
 without the desktop app: no display or sound libraries needed. Bundles its
 own Python and libopus.
CONTROL
    sdeb="$dist/interphone-server_${version}_${deb_arch}.deb"
    dpkg-deb --root-owner-group -Zgzip --build "$spkg" "$sdeb" >/dev/null
    say "deb: $sdeb ($(du -m "$sdeb" | cut -f1) MiB)"

    pkg="$work/deb/interphone"
    rm -rf "$pkg"
    mkdir -p "$pkg/DEBIAN" "$pkg/opt" "$pkg/usr/bin" "$pkg/usr/share/applications" \
        "$pkg/usr/share/icons/hicolor/256x256/apps"
    cp -a "$bundle" "$pkg/opt/interphone"
    rm "$pkg/opt/interphone/interphone-server" "$pkg/opt/interphone/interphone-cli"
    ln -s /opt/interphone/Interphone "$pkg/usr/bin/interphone"
    desktop_entry interphone >"$pkg/usr/share/applications/interphone.desktop"
    cp packaging/icons/interphone.png "$pkg/usr/share/icons/hicolor/256x256/apps/interphone.png"
    # Qt's xcb and Wayland platforms need these from the system, and the libraries the
    # spec leaves out of the bundle (FROM_THE_SYSTEM: libstdc++, fontconfig, freetype,
    # ALSA); libopus and PortAudio are bundled. A CJK font is only recommended: without one the app runs in English
    # (app/ui/i18n.py), so an English-only machine need not install one. Only libc6 gets
    # a minimum version (--glibc-only): dpkg-shlibdeps fails on the build machine over
    # any Qt plugin whose library is not installed there.
    desktop_depends="libc6, libstdc++6, libgcc-s1, libgl1, libegl1, libfontconfig1, libfreetype6, libxkbcommon0, libxkbcommon-x11-0, libdbus-1-3, libxcb-cursor0, libxcb-icccm4, libxcb-keysyms1, libxcb-image0, libxcb-randr0, libxcb-render-util0, libxcb-shape0, libxcb-xkb1, libwayland-client0, libwayland-cursor0, libwayland-egl1, libasound2"
    # shellcheck disable=SC2046
    desktop_depends="$(bash packaging/debian/versioned_depends.sh --glibc-only "$desktop_depends" \
        $(elf_files "$pkg/opt/interphone"))"
    cat >"$pkg/DEBIAN/control" <<CONTROL
Package: interphone
Version: $version
Architecture: $deb_arch
Maintainer: Interphone developers <interphone@localhost>
Installed-Size: $(du -sk "$pkg" | cut -f1)
Depends: $desktop_depends
Recommends: fonts-noto-cjk | fonts-wqy-microhei | fonts-arphic-uming
Suggests: interphone-server
Section: sound
Priority: optional
Description: Push-to-talk desktop client
 Talk groups, one-to-one calls and a loopback demo; hold Space to talk.
 The server and the command-line client are in interphone-server.
 Bundles its own Python, Qt, libopus and PortAudio.
CONTROL
    deb="$dist/interphone_${version}_${deb_arch}.deb"
    dpkg-deb --root-owner-group -Zgzip --build "$pkg" "$deb" >/dev/null
    say "deb: $deb ($(du -m "$deb" | cut -f1) MiB)"
else
    say "dpkg-deb not found: no .deb"
fi

# 5. AppImage, only when appimagetool is installed (it is not packaged by Debian).
if command -v appimagetool >/dev/null; then
    appdir="$work/Interphone.AppDir"
    rm -rf "$appdir"
    mkdir -p "$appdir/usr"
    cp -a "$bundle" "$appdir/usr/lib-interphone"
    cat >"$appdir/AppRun" <<'APPRUN'
#!/bin/sh
here="$(dirname "$(readlink -f "$0")")"
exec "$here/usr/lib-interphone/Interphone" "$@"
APPRUN
    chmod +x "$appdir/AppRun"
    desktop_entry Interphone >"$appdir/interphone.desktop"
    cp packaging/icons/interphone.png "$appdir/interphone.png"
    ARCH="$arch" appimagetool --no-appstream "$appdir" "$dist/Interphone-$version-$arch.AppImage" >/dev/null
    say "AppImage: $dist/Interphone-$version-$arch.AppImage"
else
    say "appimagetool not on PATH: no AppImage"
fi
say "done in $((SECONDS - start)) s"
