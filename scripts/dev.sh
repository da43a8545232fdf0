#!/usr/bin/env bash
# One entry point for a fresh machine: set up what is missing, then run.
#   bash scripts/dev.sh demo     set up, then start the loopback demo
#   bash scripts/dev.sh test     set up, then run ruff, mypy and the whole test suite
#   bash scripts/dev.sh setup    set up only
#   bash scripts/dev.sh check    Linux: print the system packages set-up would install
# Idempotent: system libraries are installed only when missing, the virtual
# environment (.venv) is refreshed only when pyproject.toml or the pinned versions in
# requirements/constraints.txt (scripts/lock.sh) changed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="$root/.venv"
say() { printf '[interphone] %s\n' "$*" >&2; }

# shellcheck source=scripts/find_python.sh
source "$root/scripts/find_python.sh"

# Shared libraries the stack loads at run time, and the Debian package of each.
linux_libraries() {
    cat <<'LIBS'
libopus.so.0 libopus0
libportaudio.so.2 libportaudio2
libEGL.so.1 libegl1
libGL.so.1 libgl1
libxkbcommon.so.0 libxkbcommon0
libfontconfig.so.1 libfontconfig1
libdbus-1.so.3 libdbus-1-3
libxcb-cursor.so.0 libxcb-cursor0
libxcb-icccm.so.4 libxcb-icccm4
libxcb-keysyms.so.1 libxcb-keysyms1
libxcb-image.so.0 libxcb-image0
libxcb-randr.so.0 libxcb-randr0
libxcb-render-util.so.0 libxcb-render-util0
libxcb-shape.so.0 libxcb-shape0
libxcb-xkb.so.1 libxcb-xkb1
libxkbcommon-x11.so.0 libxkbcommon-x11-0
LIBS
}

# The Debian packages this machine lacks (one line, blank when none): the stack's
# libraries, the programs the tests drive, and what building the venv needs.
missing_linux_packages() {
    local missing=() lib pkg libraries
    # Read once, not piped into `grep -q`: grep's early exit could kill ldconfig with
    # SIGPIPE, which pipefail takes for "not installed" (and apt-get ran again).
    libraries="$(/sbin/ldconfig -p 2>/dev/null)"
    while read -r lib pkg; do
        if ! grep -qE "^[[:space:]]*${lib//./\\.} " <<<"$libraries"; then
            missing+=("$pkg")
        fi
    done < <(linux_libraries)
    # Programs the global talk key tests drive (a virtual X server, synthetic input).
    command -v Xvfb >/dev/null 2>&1 || missing+=(xvfb)
    command -v xdotool >/dev/null 2>&1 || missing+=(xdotool)
    # The tests of the Redis store (several server nodes) start their own redis-server.
    command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
    # The desktop notifications' tests talk to a real notification daemon on a private
    # session bus (so do the global key's portal tests).
    command -v dunst >/dev/null 2>&1 || missing+=(dunst)
    command -v dbus-daemon >/dev/null 2>&1 || missing+=(dbus-daemon)
    # The speech benchmarks' smoke tests make their speech with espeak-ng.
    command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
    # The packaging tests check the .deb's dependencies and menu entry with Debian's tools.
    command -v dpkg-shlibdeps >/dev/null 2>&1 || missing+=(dpkg-dev)
    command -v desktop-file-validate >/dev/null 2>&1 || missing+=(desktop-file-utils)
    # /bin/kill, which the server's systemd unit reloads with (`kill` alone is a builtin).
    [ -x /bin/kill ] || missing+=(procps)
    # Debian's python3 comes without venv's pip (ensurepip) and headers; the pesq
    # scorer of the dev extra is built from source with a C compiler.
    local python version
    if python="$(find_python)"; then
        version="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
        if ! "$venv/bin/python" -m pip --version >/dev/null 2>&1 &&
            ! "$python" -c 'import ensurepip, venv' >/dev/null 2>&1; then
            missing+=("python$version-venv")
        fi
        [ -e "$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')/Python.h" ] ||
            missing+=("python$version-dev")
    fi
    command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
    echo "${missing[*]}"
}

setup_system_libraries() {
    case "$(uname -s)" in
    Linux)
        local missing=()
        read -r -a missing <<<"$(missing_linux_packages)"
        [ ${#missing[@]} -eq 0 ] && return 0
        local sudo=""
        [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && sudo="sudo"
        if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" -eq 0 ] || [ -n "$sudo" ]; }; then
            say "installing system packages: ${missing[*]}"
            $sudo apt-get update -qq >/dev/null
            DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
                "${missing[@]}" >/dev/null
        else
            say "missing system packages; install these Debian/Ubuntu packages (or your"
            say "distribution's equivalents) and run again: ${missing[*]}"
            exit 1
        fi
        ;;
    Darwin)
        if ! { [ -e /opt/homebrew/lib/libopus.dylib ] || [ -e /usr/local/lib/libopus.dylib ]; } ||
            ! { [ -e /opt/homebrew/lib/libportaudio.dylib ] || [ -e /usr/local/lib/libportaudio.dylib ]; }; then
            if command -v brew >/dev/null 2>&1; then
                say "installing opus and portaudio with Homebrew"
                brew install opus portaudio
            else
                say "install Homebrew, then: brew install opus portaudio"
                exit 1
            fi
        fi
        if ! command -v redis-server >/dev/null 2>&1; then
            if command -v brew >/dev/null 2>&1; then
                say "installing redis (the Redis store's tests) with Homebrew"
                brew install redis
            else
                say "install Homebrew, then: brew install redis"
                exit 1
            fi
        fi
        ;;
    *)
        say "on this system install libopus and PortAudio yourself (the Windows wheels bundle PortAudio)"
        ;;
    esac
}

setup_venv() {
    local python stamp want
    if [ -x "$venv/bin/python" ] && ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
        say "$venv has no pip (an interrupted set-up?): making it again"
        rm -rf "$venv"
    fi
    if [ ! -x "$venv/bin/python" ]; then
        python="$(find_python)" || { say "Python 3.11 or newer is needed"; exit 1; }
        say "creating $venv with $python"
        "$python" -m venv "$venv" || { rm -rf "$venv"; exit 1; }
    fi
    stamp="$venv/.interphone-installed"
    want="$( (cat pyproject.toml requirements/constraints.txt; "$venv/bin/python" --version) |
        sha256sum | cut -d' ' -f1)"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        say "installing the project and its dev tools into .venv"
        "$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
        "$venv/bin/python" -m pip install -q --disable-pip-version-check \
            -c requirements/constraints.txt -e ".[dev]"
        echo "$want" >"$stamp"
    fi
}

setup() {
    setup_system_libraries
    setup_venv
}

command="${1:-demo}"
shift || true
case "$command" in
setup)
    setup
    ;;
check)
    # What set-up would install on this Linux machine; silent (and 0) when nothing.
    [ "$(uname -s)" = Linux ] || { say "check: only on Linux"; exit 2; }
    missing="$(missing_linux_packages)"
    [ -z "$missing" ] || { echo "$missing"; exit 1; }
    ;;
demo)
    setup
    exec "$venv/bin/python" -m app --demo "$@"
    ;;
test)
    setup
    export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
    "$venv/bin/ruff" check .
    "$venv/bin/mypy"
    exec "$venv/bin/python" -m pytest "$@"
    ;;
*)
    say "usage: bash scripts/dev.sh [demo|test|setup|check] [args...]"
    exit 2
    ;;
esac
