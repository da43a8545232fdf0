#!/usr/bin/env bash
# Give the packages a .deb depends on the minimum versions its ELF files need of them.
#
#   bash packaging/debian/versioned_depends.sh [--glibc-only] [-l DIR]... "PKG, PKG..." FILE...
#
# Prints the comma-separated list PKG... again, each with the relation the Debian way finds
# for it: dpkg-shlibdeps (package dpkg-dev) over the ELF files FILE (-l: folders of the
# package's private libraries), from the symbols each file uses and the packages' symbols
# files. Without dpkg-shlibdeps (it is not part of a fresh Debian), or with --glibc-only:
# libc6 (>= the highest GLIBC_x.y symbol version the files need, read by objdump from
# binutils, which PyInstaller needs anyway), the other packages without a version. The
# files should lie in the package's staging tree (a folder with DEBIAN/ above them): there
# dpkg-shlibdeps takes a library found in a private folder for one of the package's own.
set -euo pipefail

say() { printf '[package] %s\n' "$*" >&2; }

glibc_only=0
libdirs=()
while [ $# -gt 0 ]; do
    case "$1" in
    --glibc-only) glibc_only=1; shift ;;
    -l) libdirs+=("-l$(realpath "$2")"); shift 2 ;;
    *) break ;;
    esac
done
[ $# -ge 2 ] || { say "usage: $0 [--glibc-only] [-l DIR]... 'PKG, PKG...' FILE..."; exit 2; }
packages="$1"
shift
files=()
for file; do files+=("$(realpath "$file")"); done

relations=""
if [ "$glibc_only" -eq 0 ] && command -v dpkg-shlibdeps >/dev/null; then
    # dpkg-shlibdeps insists on a source package's debian/control, of which it reads nothing
    # that matters here.
    scratch="$(mktemp -d)"
    trap 'rm -rf "$scratch"' EXIT
    mkdir "$scratch/debian"
    printf 'Source: interphone\n\nPackage: interphone\nArchitecture: any\n' >"$scratch/debian/control"
    if output="$(cd "$scratch" && dpkg-shlibdeps -O "${libdirs[@]}" "${files[@]}" 2>"$scratch/errors")"; then
        relations="${output#shlibs:Depends=}"
    else
        say "dpkg-shlibdeps failed, so only libc6 gets a minimum version:"
        grep -v 'useless dependency' "$scratch/errors" | head -5 >&2 || true
    fi
fi
if [ -z "$relations" ]; then
    glibc="$(for file in "${files[@]}"; do objdump -p "$file"; done \
        | grep -oE '\bGLIBC_[0-9]+(\.[0-9]+)+\b' | sed 's/^GLIBC_//' | sort -uV | tail -n1)"
    [ -n "$glibc" ] && relations="libc6 (>= $glibc)"
fi

# Each package of the list with its relation from $relations, if there is one.
tr ',' '\n' <<<"$packages" | sed 's/^ *//; s/ *$//' | grep -v '^$' | while read -r name; do
    tr ',' '\n' <<<"$relations" | sed 's/^ *//' \
        | awk -v name="$name" '$1 == name {print; found = 1; exit} END {if (!found) print name}'
done | paste -sd, - | sed 's/,/, /g'
