#!/usr/bin/env bash
# Can a thread pool with an owner match fio psync at all? BlockLoop's pool engine, fio psync, and the same
# workloads done in C by plain threads and by pools of the simplest shapes (linux-aio/bench/pool-shapes.c), side by
# side in one run (docs/engine-benchmarks.md, "The pool's shape in C").
#
# Every cell is 4 KiB random O_DIRECT reads or writes at queue depth 1 or 32 on the two loop devices of
# engines-vs-fio.sh (sparse: CPU-bound; full: device-bound). Each round runs EngineDriver once for the pool engine
# (fio psync, then the engine, per cell; a fresh JVM, warmed up first), then every C shape per cell:
#   psync             QD threads in a pread/pwrite loop: fio psync's shape in C (the check that C matches fio);
#   pool              QEMU's and BlockLoop's shape without any spinning: the owner queues under a mutex and signals a
#                     condition variable, the worker publishes to a done list and writes an eventfd, the owner
#                     sleeps in ppoll;
#   pool-owner-spins  the owner never sleeps (it spins on the done list);
#   pool-all-spin     nobody sleeps but in the I/O (QD 1 only: 32 spinning workers starve two CPUs).
# Prints the mean IOPS of each over the rounds, its ratio to fio psync's mean, and its CPU time per I/O (user +
# system of the process, all its threads; fio's is not measured).
#
# Usage: linux-aio/bench/pool-shapes-vs-fio.sh [--rounds N (3)] [--seconds S (1)] [--dir DIR (/var/tmp)]
# Needs: root (losetup, blkdiscard), fio, gcc, a JDK 25 (bin/find-jdk). Time: about a minute per round.
set -euo pipefail

root=$(CDPATH= cd -- "$(dirname -- "$0")/../.." && pwd)
workdir=/var/tmp
rounds=3
seconds=1
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds|--seconds|--dir)
      [ $# -ge 2 ] || { echo "pool-shapes-vs-fio: $1 needs a value (see --help)" >&2; exit 2; }
      case "$1" in --rounds) rounds=$2 ;; --seconds) seconds=$2 ;; --dir) workdir=$2 ;; esac
      shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "pool-shapes-vs-fio: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

die() { printf 'pool-shapes-vs-fio: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root for losetup and blkdiscard."
command -v fio >/dev/null || die "fio is not installed (apt-get install fio)."
command -v gcc >/dev/null || die "gcc is not installed (apt-get install gcc)."
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive whole number, not '$rounds'."
[[ $seconds =~ ^[0-9]+(\.[0-9]+)?$ ]] && awk -v s="$seconds" 'BEGIN { exit !(s > 0) }' ||
  die "--seconds must be a positive number, not '$seconds'."
. "$root/bin/bench-loop-devices"
bench_work_dir "$workdir" || die "$bench_work_dir_error"
workdir=$bench_work_dir_abs

. "$root/bin/find-jdk"
JAVA_HOME=$(blockloop_find_jdk); export JAVA_HOME

echo "==> building linux-aio (tests compiled, not run) and pool-shapes.c"
. "$root/bin/engine-driver-classpath"
engine_driver_classpath "$root" pool-shapes-vs-fio
cp=$engine_driver_cp

bench_loop_devices "$workdir" yes yes
trap 'exit 130' INT TERM
tool="$bench_work/pool-shapes"
gcc -O2 -Wall -pthread -o "$tool" linux-aio/bench/pool-shapes.c || die "pool-shapes.c did not compile"
echo "==> sparse: $sparse_dev   full: $full_dev   kernel $(uname -r)   $(fio --version)   $(nproc) CPUs" \
  "  load $(cut -d' ' -f1-3 /proc/loadavg)"

# One line per measurement: round device rw qd what IOPS [CPU µs per I/O]
results="$bench_work/results"
start=$(date +%s)
for round in $(seq "$rounds"); do
  "$JAVA_HOME/bin/java" -XX:+UseParallelGC --enable-native-access=ALL-UNNAMED \
    --add-exports java.base/jdk.internal.foreign=ALL-UNNAMED -cp "$cp" \
    io.blockloop.engine.bench.EngineDriver --sparse "$sparse_dev" --full "$full_dev" --engines threads \
    --rounds 1 --seconds "$seconds" >"$bench_work/driver.out"
  # The table after the "===" line: device rw qd engine engineIOPS fioIOPS ... us/req (the last column)
  awk -v r="$round" '/^===/ {t = 1; next} t && ($1 == "sparse" || $1 == "full") {
      rw = $2 == "randread" ? "read" : "write"
      print r, $1, rw, $3, "fio-psync", $6; print r, $1, rw, $3, "blockloop-pool", $5, $NF }' \
    "$bench_work/driver.out" >>"$results"
  for device in sparse full; do
    dev=$sparse_dev; [ "$device" = full ] && dev=$full_dev
    for rw in read write; do
      for qd in 1 32; do
        shapes="psync pool pool-owner-spins"; [ "$qd" = 1 ] && shapes="$shapes pool-all-spin"
        for shape in $shapes; do
          [ "$device" = sparse ] && blkdiscard "$dev"
          out=$("$tool" "$dev" "$shape" "$qd" "$seconds" "$rw")
          # "SHAPE qd QD RW: N IOPS, C us of CPU per I/O"
          echo "$out" | awk -v r="$round" -v d="$device" -v rw="$rw" -v qd="$qd" -v s="c-$shape" \
            '{print r, d, rw, qd, s, $5, $7}' >>"$results"
        done
      done
    done
  done
  echo "==> round $round of $rounds done"
done

echo
echo "=== 4 KiB random O_DIRECT I/O on loop devices, $rounds rounds of $seconds s: mean IOPS, their ratio to fio"
echo "=== psync's, and the CPU time (user + system, the process's threads) per I/O"
awk '
  { key = $2 " " $3 " " $4; sum[key, $5] += $6; n[key, $5]++; if (NF > 6) cpu[key, $5] += $7
    if (!(key in seen)) { seen[key] = 1; order[++cells] = key } }
  END {
    split("blockloop-pool c-psync c-pool c-pool-owner-spins c-pool-all-spin", what, " ")
    split("BlockLoop pool|C threads|C pool|C, owner spins|C, all spin", title, "|")
    printf "%-14s %9s", "device rw qd", "fio psync"
    for (w = 1; w <= 5; w++) printf " %18s", title[w]
    printf "\n"
    for (c = 1; c <= cells; c++) {
      key = order[c]; fio = sum[key, "fio-psync"] / n[key, "fio-psync"]
      printf "%-14s %9.0f", key, fio
      for (w = 1; w <= 5; w++) {
        k = what[w]
        if (!n[key, k]) { printf " %18s", "-"; continue }
        m = sum[key, k] / n[key, k]
        printf " %18s", sprintf("%.0f %.2fx %.1fus", m, m / fio, cpu[key, k] / n[key, k])
      }
      printf "\n"
    }
  }' "$results"
echo "==> measured in $(( $(date +%s) - start )) s; load afterwards $(cut -d' ' -f1-3 /proc/loadavg)"
