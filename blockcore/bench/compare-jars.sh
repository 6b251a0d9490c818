#!/bin/bash
# Runs `blockloop bench` from two builds side by side, alternating, and prints the median IOPS of each and their
# ratio: how the graph lock's cost was measured (before = commit 1cda89a with the bench command copied in,
# after = the commit that added the lock). The null driver shows the block layer's own cost per request; the
# loop device shows whether that cost is visible next to real I/O.
#
# usage: blockcore/bench/compare-jars.sh BEFORE.jar AFTER.jar [ROUNDS]   (root: attaches a loop device)
set -euo pipefail
before=$1 after=$2 rounds=${3:-5}
here=$(CDPATH= cd -- "$(dirname -- "$0")/../.." && pwd)
. "$here/bin/find-jdk"
java="$(blockloop_find_jdk)/bin/java"
img=$(mktemp /var/tmp/compare-jars.XXXXXX)
truncate -s 1G "$img"
dev=$(losetup -f --show --direct-io=on "$img")
trap 'losetup -d "$dev"; rm -f "$img"' EXIT
iops() { "$java" -jar "$1" bench --json "${@:2}" 2>/dev/null | sed -n 's/.*"iops": *\([0-9.]*\).*/\1/p'; }
run() { # label, bench args...
  local label=$1; shift
  local b=() a=()
  for _ in $(seq "$rounds"); do b+=("$(iops "$before" "$@")"); a+=("$(iops "$after" "$@")"); done
  python3 - "$label" "${b[*]}" "${a[*]}" <<'PY'
import statistics, sys
label, b, a = sys.argv[1], [float(x) for x in sys.argv[2].split()], [float(x) for x in sys.argv[3].split()]
mb, ma = statistics.median(b), statistics.median(a)
print(f"{label:34s} before {mb:12,.0f}  after {ma:12,.0f}  after/before {ma/mb:.3f}  (before {min(b):,.0f}-{max(b):,.0f}, after {min(a):,.0f}-{max(a):,.0f})")
PY
}
run "null QD1"  -f null -c 2000000 -d 1 1G
run "null QD32" -f null -c 2000000 -d 32 1G
run "loop io_uring randread QD1"  --random -i io_uring -c 200000 -d 1 "$dev"
run "loop io_uring randread QD32" --random -i io_uring -c 200000 -d 32 "$dev"
