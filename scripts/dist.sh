#!/usr/bin/env bash
# Release build: one .tar.gz per target (the binary, LICENSE, README.md), its .sha256, and the krew
# manifest krew/bkdoctor.yaml rendered from krew/.krew.yaml with the sha256 of those archives. The
# release workflow (.github/workflows/release.yml) runs this same script on each runner.
#
#   scripts/dist.sh                              build the host target, archive it, write the manifest
#   scripts/dist.sh --target T --no-manifest     one CI runner's share: the archive and its .sha256
#   scripts/dist.sh --manifest-only --sha256 dist/a.tar.gz.sha256 ...   the manifest from what CI collected
#
# Options:
#   --target TRIPLE   build this target (repeatable; default: the host's). CARGO=cross works too.
#   --binary PATH     package this binary instead of building (one target; default the host's)
#   --sha256 FILE     also list this archive (its `sha256sum` line) in the manifest; repeatable
#   --out DIR         where archives go (default: dist)
#   --manifest FILE   where the manifest goes (default: krew/bkdoctor.yaml)
#   --url-base URL    where the archives will be downloaded from (default: the template's URL)
#   --no-manifest | --manifest-only | --require-all (every platform of the template, as a release needs)
#   --expect-tag TAG  fail unless TAG is v<version in Cargo.toml> (a tag that disagrees is a mistake)
#
# A platform with no archive is left out of the manifest (a warning says which), so that a local
# build still gives a manifest for `kubectl krew install --manifest=... --archive=...`.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
name=kubectl-bkdoctor
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)
tag="v$version"

targets=() sha_inputs=() binary="" out="$root/dist" manifest="$root/krew/bkdoctor.yaml"
url_base="" build=1 write_manifest=1 require_all=0 expect_tag=""
while [ $# -gt 0 ]; do
  case "$1" in
    --target) targets+=("$2"); shift 2 ;;
    --binary) binary=$2; shift 2 ;;
    --sha256) sha_inputs+=("$2"); shift 2 ;;
    --out) out=$2; shift 2 ;;
    --manifest) manifest=$2; shift 2 ;;
    --url-base) url_base=${2%/}; shift 2 ;;
    --no-manifest) write_manifest=0; shift ;;
    --manifest-only) build=0; shift ;;
    --require-all) require_all=1; shift ;;
    --expect-tag) expect_tag=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    *) echo "dist.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [ -n "$expect_tag" ] && [ "$expect_tag" != "$tag" ]; then
  echo "dist.sh: tag $expect_tag does not match Cargo.toml version $version (expected $tag)" >&2
  exit 1
fi

sha256_of() {
  if command -v sha256sum >/dev/null; then sha256sum "$1" | cut -d' ' -f1
  else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

# krew selects by os/arch; a linux archive may be static (musl, what releases ship) or glibc (what a
# developer machine builds).
platform_of() {
  case "$1" in
    x86_64-unknown-linux-*) echo linux/amd64 ;;
    aarch64-unknown-linux-*) echo linux/arm64 ;;
    x86_64-apple-darwin) echo darwin/amd64 ;;
    aarch64-apple-darwin) echo darwin/arm64 ;;
    *) echo unknown ;;
  esac
}

target_of_archive() { # kubectl-bkdoctor-v0.1.0-x86_64-unknown-linux-musl.tar.gz -> the triple
  local f=${1##*/}
  f=${f#"$name-$tag-"}
  echo "${f%.tar.gz}"
}

# Parallel arrays rather than an associative one: macOS runners have bash 3.2.
archive_files=() archive_hashes=()

make_archive() { # target binary
  local target=$1 bin=$2 stage archive hash epoch
  archive="$name-$tag-$target.tar.gz"
  stage=$(mktemp -d)
  cp "$bin" "$stage/$name"
  chmod 0755 "$stage/$name"
  cp "$root/LICENSE" "$root/README.md" "$stage/"
  mkdir -p "$out"
  # Same inputs, same bytes: sorted names, fixed owner and mtime, no gzip timestamp. BSD tar (macOS)
  # lacks these flags and gives a valid if not reproducible archive.
  epoch=$(git -C "$root" log -1 --format=%ct 2>/dev/null || echo 0)
  if tar --version 2>/dev/null | grep -q 'GNU tar'; then
    tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" \
      -cf - "$name" LICENSE README.md | gzip -n >"$out/$archive"
  else
    tar -C "$stage" -cf - "$name" LICENSE README.md | gzip -n >"$out/$archive"
  fi
  rm -rf "$stage"
  hash=$(sha256_of "$out/$archive")
  printf '%s  %s\n' "$hash" "$archive" >"$out/$archive.sha256"
  archive_files+=("$archive") archive_hashes+=("$hash")
  echo "$out/$archive $hash"
}

if [ "$build" = 1 ]; then
  host=$(rustc -vV | sed -n 's/^host: //p')
  [ ${#targets[@]} -gt 0 ] || targets=("$host")
  if [ -n "$binary" ] && [ ${#targets[@]} -ne 1 ]; then
    echo "dist.sh: --binary packages one target" >&2; exit 2
  fi
  for t in "${targets[@]}"; do
    if [ "$(platform_of "$t")" = unknown ]; then
      echo "dist.sh: $t is not a platform the krew manifest lists" >&2; exit 2
    fi
    if [ -n "$binary" ]; then
      make_archive "$t" "$binary"
    else
      # build.rs reads git itself; this covers builders without git (cross's containers).
      BKDOCTOR_GIT_COMMIT=${BKDOCTOR_GIT_COMMIT:-$(git -C "$root" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)} \
        ${CARGO:-cargo} build --release --locked --target "$t" --manifest-path "$root/Cargo.toml"
      make_archive "$t" "${CARGO_TARGET_DIR:-$root/target}/$t/release/$name"
    fi
  done
fi

for f in ${sha_inputs[@]+"${sha_inputs[@]}"}; do
  read -r hash file <"$f" || true
  file=${file#\*}                    # `sha256sum -b` marks binary mode with '*'
  [ -n "${file:-}" ] || file=$(basename "${f%.sha256}")
  hash=$(echo "$hash" | tr 'A-F' 'a-f')
  if ! [[ $hash =~ ^[a-f0-9]{64}$ ]]; then
    echo "dist.sh: $f does not hold a sha256" >&2; exit 1
  fi
  # An archive next to its .sha256 must match it: a stale or truncated download must not be published.
  if [ -f "$(dirname "$f")/$file" ] && [ "$(sha256_of "$(dirname "$f")/$file")" != "$hash" ]; then
    echo "dist.sh: $(dirname "$f")/$file does not match $f" >&2; exit 1
  fi
  archive_files+=("$file") archive_hashes+=("$hash")
done

[ "$write_manifest" = 1 ] || exit 0

# The archive for a platform: the one the template names, else another build for the same os/arch.
find_archive() { # wanted-file -> "index" or nothing
  local want=$1 plat i
  plat=$(platform_of "$(target_of_archive "$want")")
  for i in ${archive_files[@]+"${!archive_files[@]}"}; do
    [ "${archive_files[$i]}" = "$want" ] && { echo "$i"; return; }
  done
  for i in ${archive_files[@]+"${!archive_files[@]}"}; do
    [ "$(platform_of "$(target_of_archive "${archive_files[$i]}")")" = "$plat" ] && { echo "$i"; return; }
  done
  return 0
}

template="$root/krew/.krew.yaml"
rendered=$(mktemp)
missing=()
block=() block_ok=1 in_platforms=0
flush_block() {
  if [ ${#block[@]} -gt 0 ] && [ "$block_ok" = 1 ]; then printf '%s\n' "${block[@]}" >>"$rendered"; fi
  block=() block_ok=1
}
{
  echo "# Generated by scripts/dist.sh from krew/.krew.yaml and the archives it lists; do not edit."
} >"$rendered"
started=0
while IFS= read -r line || [ -n "$line" ]; do
  # The template's own leading comment is about the template.
  if [ "$started" = 0 ] && [[ $line == \#* ]]; then continue; fi
  started=1
  line=${line//\{\{ .TagName \}\}/$tag}
  if [ "$in_platforms" = 0 ]; then
    echo "$line" >>"$rendered"
    [[ $line =~ ^[[:space:]]*platforms:[[:space:]]*$ ]] && in_platforms=1
    continue
  fi
  if [[ $line =~ ^[[:space:]]*-[[:space:]] ]]; then flush_block; fi
  if [[ $line =~ ^([[:space:]]*)\{\{addURIAndSha\ \"([^\"]+)\"\ \.TagName\ \}\}[[:space:]]*$ ]]; then
    indent=${BASH_REMATCH[1]} url=${BASH_REMATCH[2]}
    want=${url##*/}
    i=$(find_archive "$want")
    if [ -z "$i" ]; then
      missing+=("$(platform_of "$(target_of_archive "$want")") ($want)")
      block_ok=0
      continue
    fi
    file=${archive_files[$i]}
    if [ "$file" != "$want" ]; then
      echo "dist.sh: note: $(platform_of "$(target_of_archive "$want")") uses $file; releases ship $want" >&2
    fi
    base=${url_base:-${url%/*}}
    # Quoted: a hash of digits and one "e" would otherwise read as a YAML number.
    block+=("${indent}uri: $base/$file" "${indent}sha256: \"${archive_hashes[$i]}\"")
    continue
  fi
  block+=("$line")
done <"$template"
flush_block

if [ ${#missing[@]} -gt 0 ]; then
  for m in "${missing[@]}"; do echo "dist.sh: no archive for ${m}: left out of the manifest" >&2; done
  if [ "$require_all" = 1 ]; then rm -f "$rendered"; exit 1; fi
fi
if ! grep -q 'sha256:' "$rendered"; then
  echo "dist.sh: no archive at all: no manifest written" >&2; rm -f "$rendered"; exit 1
fi
mkdir -p "$(dirname "$manifest")"
chmod 0644 "$rendered"   # mktemp makes it private; a manifest is for publishing
mv "$rendered" "$manifest"
echo "$manifest"
