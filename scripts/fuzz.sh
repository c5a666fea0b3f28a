#!/usr/bin/env bash
# Runs the fuzz targets (not part of CI). Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
# Seeds in fuzz/seeds/<target> are copied into the working corpus fuzz/corpus/<target> first.
# A crash is saved under fuzz/artifacts/<target>/: turn it into a regression test before fixing it.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${1:-60}; shift || true
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(helm_decode snapshot_file)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
# cargo-fuzz needs nightly features; the machine's one toolchain is stable, which can act as nightly.
if ! rustc --version | grep -q nightly; then export RUSTC_BOOTSTRAP=1; fi
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  cp -n seeds/"$t"/* "corpus/$t/" 2>/dev/null || true
  cargo fuzz run "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 -max_len=262144
done
