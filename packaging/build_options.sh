# What build_linux.sh and build_macos.sh share, sourced by both from the repository's
# root with their arguments: the options and their defaults, `say`, the version and
# the machine's architecture.
#
#   [--venv DIR] [--dist DIR] [--work DIR] [--bundle-only] [--self-test]
#
# A relative DIR is taken from the repository's root.
# shellcheck shell=bash
venv="$root/build/venv-pack"
dist="$root/dist"
work="$root/build/pyinstaller"
bundle_only=0
self_test=0
# An absolute path: GNU realpath -m where there is one (macOS's realpath has no -m).
abspath() {
    if realpath -m / >/dev/null 2>&1; then
        realpath -m "$1"
    else
        case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac
    fi
}
while [ $# -gt 0 ]; do
    case "$1" in
    --venv) venv="$(abspath "$2")"; shift 2 ;;
    --dist) dist="$(abspath "$2")"; shift 2 ;;
    --work) work="$(abspath "$2")"; shift 2 ;;
    --bundle-only) bundle_only=1; shift ;;
    --self-test) self_test=1; shift ;;
    *) echo "usage: $0 [--venv DIR] [--dist DIR] [--work DIR] [--bundle-only] [--self-test]" >&2; exit 2 ;;
    esac
done
say() { printf '[package] %s\n' "$*" >&2; }

version="$(sed -n 's/^__version__ = "\(.*\)"/\1/p' app/__init__.py)"
arch="$(uname -m)"  # x86_64, aarch64 (Linux), arm64 (macOS)
