#!/usr/bin/env bash
# BlockLoop I/O engines vs fio, side by side in one run (see linux-aio/README.md, "Benchmark").
#
# Sets up two loop devices (direct I/O on) in a work directory on a real file system:
#   sparse: 256 MiB over a sparse file (reads of holes never reach the disk: CPU-bound). It is discarded
#           (blkdiscard: holes punched) before every run, fio's and ours, so every run starts from the same
#           all-hole state; kept small because punching the holes left by a run of 4 KiB random writes over
#           1 GiB takes ~4 s, over 256 MiB ~0.3 s.
#   full:   1 GiB over a fully written file (device-bound)
# then runs io.blockloop.engine.bench.EngineDriver, which measures every cell
#   {sparse, full} x {randread, randwrite} x {qd 1, qd 32} x {io_uring, linux-aio, threads}
# with fio first (ioengine io_uring / libaio / psync with numjobs = qd) and the BlockLoop engine second,
# and prints one table with both IOPS and the ratio.
#
# Usage: linux-aio/bench/engines-vs-fio.sh [--dir DIR] [DRIVER ARGS...]
#   --dir DIR   work directory for the backing files (default /var/tmp; must not be tmpfs)
#   driver arguments (defaults in brackets): --rounds N [3] alternating fio/engine rounds per cell,
#   --seconds S [1] measured per run, --ramp S [0.25] per run, --engines io_uring,linux-aio,threads,
#   --rw randread,randwrite, --qd 1,32, --pin-owner (the engines' owner thread pinned to the CPU it starts on);
#   the driver's default engines also include io_uring-deferred (io_uring set up as fio sets up its own ring)
# Needs: root (losetup, blkdiscard), fio, a JDK 25 (bin/find-jdk).
# Time: 24 cells x 3 rounds x 2 runs x ~1.5 s + build and setup ~ 4.5 minutes.
set -euo pipefail

root=$(CDPATH= cd -- "$(dirname -- "$0")/../.." && pwd)
workdir=/var/tmp
driver_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --dir)
      [ $# -ge 2 ] || { echo 'engines-vs-fio: --dir needs a value (see --help)' >&2; exit 2; }
      workdir=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) driver_args+=("$1"); shift ;;
  esac
done

die() { printf 'engines-vs-fio: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root for losetup and blkdiscard."
command -v fio >/dev/null || die "fio is not installed (apt-get install fio)."
. "$root/bin/bench-loop-devices"
bench_work_dir "$workdir" || die "$bench_work_dir_error"
workdir=$bench_work_dir_abs

. "$root/bin/find-jdk"
JAVA_HOME=$(blockloop_find_jdk); export JAVA_HOME

echo "==> building linux-aio (tests compiled, not run)"
. "$root/bin/engine-driver-classpath"
engine_driver_classpath "$root" engines-vs-fio
cp=$engine_driver_cp

echo "==> backing files in $workdir: sparse (256 MiB, truncate) and full (1 GiB, written with dd)"
bench_loop_devices "$workdir" yes yes
# A TERM or INT waits for the running cell, so the loop devices are detached (the EXIT trap) only after the driver
# ended: killed at once, the script left the driver running its next cells on freed device numbers.
trap 'exit 130' INT TERM
echo "==> sparse: $sparse_dev   full: $full_dev   kernel $(uname -r)   $(fio --version)   $(nproc) CPUs   load $(cut -d' ' -f1-3 /proc/loadavg)"

start=$(date +%s)
"$JAVA_HOME/bin/java" -XX:+UseParallelGC --enable-native-access=ALL-UNNAMED \
  --add-exports java.base/jdk.internal.foreign=ALL-UNNAMED -cp "$cp" \
  io.blockloop.engine.bench.EngineDriver --sparse "$sparse_dev" --full "$full_dev" \
  "${driver_args[@]+"${driver_args[@]}"}"
echo "==> measured in $(( $(date +%s) - start )) s; load afterwards $(cut -d' ' -f1-3 /proc/loadavg)"
