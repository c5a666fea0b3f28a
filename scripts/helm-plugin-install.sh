#!/bin/sh
# Helm's install and update hook for the bkdoctor plugin (plugin.yaml): puts the kubectl-bkdoctor
# binary for this machine at $HELM_PLUGIN_DIR/bin/kubectl-bkdoctor, where platformCommand runs it.
#
# Where the binary comes from, the first that is set:
#   BKDOCTOR_BINARY=/path/to/kubectl-bkdoctor     a binary already on this machine (air-gapped
#                                                 installs, or a local `cargo build --release`)
#   BKDOCTOR_ARCHIVE=/path/or/URL/of/kubectl-bkdoctor-vX.Y.Z-TARGET.tar.gz
#                                                 a release archive copied in (checked against the
#                                                 .sha256 next to it when there is one)
#   BKDOCTOR_RELEASE_URL=https://mirror/dir       a mirror holding the release archives and .sha256s
#   (nothing)                                     the GitHub release of this plugin's version
# BKDOCTOR_TARGET overrides the detected target triple (e.g. x86_64-unknown-linux-gnu).
# Downloads are always checked against their published sha256.
set -eu

name=kubectl-bkdoctor
dir=${HELM_PLUGIN_DIR:?this script is run by helm plugin install}
repo_url=https://github.com/bkdoctor/kubectl-bkdoctor

die() { echo "bkdoctor install: $*" >&2; exit 1; }

install_binary() {
  mkdir -p "$dir/bin"
  cp "$1" "$dir/bin/$name.tmp"
  chmod 0755 "$dir/bin/$name.tmp"
  mv "$dir/bin/$name.tmp" "$dir/bin/$name"
  "$dir/bin/$name" --version >/dev/null 2>&1 || die "$dir/bin/$name does not run on this machine"
  echo "installed $("$dir/bin/$name" --version) at $dir/bin/$name"
}

if [ -n "${BKDOCTOR_BINARY:-}" ]; then
  [ -f "$BKDOCTOR_BINARY" ] || die "BKDOCTOR_BINARY=$BKDOCTOR_BINARY: no such file"
  install_binary "$BKDOCTOR_BINARY"
  exit 0
fi

version=$(sed -n 's/^version:[[:space:]]*//p' "$dir/plugin.yaml" | head -n 1)
[ -n "$version" ] || die "no version in $dir/plugin.yaml"
tag="v${version#v}"

if [ -n "${BKDOCTOR_TARGET:-}" ]; then
  target=$BKDOCTOR_TARGET
else
  case "$(uname -m)" in
    x86_64|amd64) cpu=x86_64 ;;
    aarch64|arm64) cpu=aarch64 ;;
    *) die "no release build for CPU $(uname -m); build from source and set BKDOCTOR_BINARY" ;;
  esac
  case "$(uname -s)" in
    Linux) target=$cpu-unknown-linux-musl ;;   # static: runs on any distribution
    Darwin) target=$cpu-apple-darwin ;;
    *) die "no release build for $(uname -s); build from source and set BKDOCTOR_BINARY" ;;
  esac
fi
archive_name="$name-$tag-$target.tar.gz"

fetch() { # source dest
  case "$1" in
    http://*|https://*|file://*)
      if command -v curl >/dev/null 2>&1; then curl -fsSL --retry 3 -o "$2" "$1"
      elif command -v wget >/dev/null 2>&1; then wget -q -O "$2" "$1"
      else die "neither curl nor wget to download $1; set BKDOCTOR_ARCHIVE or BKDOCTOR_BINARY"; fi ;;
    *) cp "$1" "$2" ;;
  esac
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
  else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ -n "${BKDOCTOR_ARCHIVE:-}" ]; then
  source=$BKDOCTOR_ARCHIVE
  need_sha=0
else
  source="${BKDOCTOR_RELEASE_URL:-$repo_url/releases/download/$tag}"
  source="${source%/}/$archive_name"
  need_sha=1
fi

echo "fetching $source"
fetch "$source" "$tmp/archive.tar.gz" || die "cannot fetch $source"
if fetch "$source.sha256" "$tmp/archive.sha256" 2>/dev/null; then
  want=$(cut -d' ' -f1 <"$tmp/archive.sha256" | tr 'A-F' 'a-f')
  got=$(sha256_of "$tmp/archive.tar.gz")
  [ "$want" = "$got" ] || die "sha256 mismatch for $source: expected $want, got $got"
elif [ "$need_sha" = 1 ]; then
  die "cannot fetch $source.sha256 to check the download"
fi

tar -xzf "$tmp/archive.tar.gz" -C "$tmp" "$name" || die "$source has no $name in it"
install_binary "$tmp/$name"
