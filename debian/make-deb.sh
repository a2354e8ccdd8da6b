#!/usr/bin/env bash
# Builds the Debian packages of ceo (what `make deb` runs).
#
#   debian/make-deb.sh                 all steps; .debs in bin/deb/
#   debian/make-deb.sh all OUTDIR      all steps; .debs in OUTDIR
#   debian/make-deb.sh prepare         build dependencies, go check, module cache
#   debian/make-deb.sh stage DIR       copy the source tree to DIR/src
#   debian/make-deb.sh build DIR OUTDIR
#                                      dpkg-buildpackage in DIR/src (offline),
#                                      then move the results to OUTDIR
#
# "all" is: install missing build dependencies (debian/install-build-deps.sh),
# fill the Go module cache (go mod download: the only step that may use the
# network), stage a copy of the tree (tracked and untracked, not ignored,
# files) under bin/deb-build, and build there (the copy is removed after a
# successful build). dpkg-buildpackage itself runs
# with GOPROXY=off (debian/rules), so it needs no network.
#
# The ceo package (the front end) is built only when its main package
# exists (./ceo/cmd/ceo); until then the build profile pkg.ceo.noceo leaves
# it out, with a message. Set GO to choose the go command.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
export GO

say() { echo "make-deb: $*" >&2; }
die() { say "$*"; exit 1; }

check_go() {
  [ -x "$GO" ] || command -v "$GO" >/dev/null || die "no go command: install Go (go.mod's version or newer) and put it on PATH, or set GO"
  # GOTOOLCHAIN=local: an older go fails here with "go.mod requires go >= ..."
  # instead of fetching a toolchain.
  (cd "$root" && GOPROXY=off GOTOOLCHAIN=local "$GO" list -m >/dev/null) ||
    die "$("$GO" version) cannot build this module (go.mod: $(grep -m1 '^go ' "$root/go.mod"))"
}

# Fills the module cache for an offline build (a no-op when it is full).
download_modules() {
  say "go mod download (module cache: $(cd "$root" && "$GO" env GOMODCACHE))"
  (cd "$root" && GOTOOLCHAIN=local GOFLAGS=-mod=readonly "$GO" mod download)
}

# Lists the files of the tree, NUL-separated, relative to $root: with git,
# tracked and untracked files that .gitignore does not exclude; without
# git, everything but bin/, .git and .realm. Debhelper's own leftovers of
# an in-tree build are never copied.
list_sources() {
  if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$root" ls-files -z -co --exclude-standard
  else
    (cd "$root" && find . -mindepth 1 \( -path ./.git -o -path ./bin -o -path ./.realm \) -prune \
      -o \( -type f -o -type l \) -printf '%P\0')
  fi | while IFS= read -r -d '' f; do
    case "$f" in
      debian/.debhelper/* | debian/build/* | debian/tmp/* | debian/files | \
      debian/ceo/* | debian/ceo-common/* | debian/ceo-clients/* | debian/ceo-daemon/* | \
      debian/*.substvars | debian/*.debhelper.log | debian/debhelper-build-stamp) continue ;;
    esac
    [ -e "$root/$f" ] || [ -L "$root/$f" ] || continue # tracked, deleted in the work tree
    printf '%s\0' "$f"
  done
}

stage() {
  local dir=$1
  rm -rf "$dir"
  mkdir -p "$dir/src"
  list_sources | (cd "$root" && tar --null -T - -cf -) | tar -xf - -C "$dir/src"
  say "staged $(find "$dir/src" -type f | wc -l) files in $dir/src"
}

build() {
  local dir=$1 out=$2 profiles=() version
  [ -f "$dir/src/debian/changelog" ] || die "$dir/src is not a staged tree (run stage first)"
  if ! (cd "$dir/src" && GOPROXY=off GOTOOLCHAIN=local debian/find-main.sh ceo >/dev/null); then
    say "./ceo/cmd/ceo does not exist yet: skipping the ceo (front end) binary package" \
      "(build profile pkg.ceo.noceo); it is built automatically once the front end's main package exists"
    profiles=(-Ppkg.ceo.noceo)
  fi
  version=$(cd "$dir/src" && dpkg-parsechangelog -SVersion)
  say "dpkg-buildpackage ceo $version in $dir/src"
  rm -f "$dir"/*.deb "$dir"/*.ddeb "$dir"/*.changes "$dir"/*.buildinfo
  (cd "$dir/src" && dpkg-buildpackage -b -us -uc "${profiles[@]}")
  mkdir -p "$out"
  rm -f "$out"/*.deb "$out"/*.ddeb "$out"/*.changes "$out"/*.buildinfo
  mv "$dir"/*.deb "$out"/
  mv "$dir"/*.ddeb "$dir"/*.changes "$dir"/*.buildinfo "$out"/ 2>/dev/null || true
  say "packages in $out:"
  (cd "$out" && ls -1 ./*.deb) | sed 's|^\./|  |' >&2
}

cmd=${1:-all}
case "$cmd" in
  all)
    out=${2:-$root/bin/deb}
    bash "$root/debian/install-build-deps.sh"
    check_go
    download_modules
    stage "$root/bin/deb-build"
    build "$root/bin/deb-build" "$out"
    rm -rf "$root/bin/deb-build" # kept only when the build fails
    ;;
  prepare)
    bash "$root/debian/install-build-deps.sh"
    check_go
    download_modules
    ;;
  stage)
    [ $# -eq 2 ] || die "usage: $0 stage DIR"
    stage "$2"
    ;;
  build)
    [ $# -eq 3 ] || die "usage: $0 build DIR OUTDIR"
    check_go
    build "$2" "$3"
    ;;
  *)
    die "usage: $0 [all [OUTDIR] | prepare | stage DIR | build DIR OUTDIR]"
    ;;
esac
