#!/usr/bin/env bash
# A/B of `blockloop bench` variants in one cell, each against fio in the same round: how a change or an option was
# judged before it was kept (README.md, docs/qd1-reads-on-loop-devices.md). Where bench-vs-fio-qemu.sh measures
# every cell once per round, this measures one cell many times, with every variant in every round.
#
# Usage: blockcore/bench/variants-vs-fio.sh [--rounds N] [--device sparse|full] [--engine io_uring|native|threads]
#        [--rw randread|randwrite|read|write] [--qd QD] [--bs SIZE] [--seconds S] [--dir DIR] NAME=ARGS...
#   NAME=ARGS    a variant: `blockloop bench` options added to the cell's own, as one shell word ("epoll=--fdmon
#                epoll", "nopoll=--poll-max-ns 0", "base=" for none). Two forms are not bench options: -J<option> passes
#                <option> to the JVM ("-J-Dkey=value"), --jar=PATH runs another build ("before=--jar=/tmp/old.jar").
#   --rounds N   rounds [8]; each round runs fio, then every variant, in an order that rotates by one each round
#   --device     sparse (256 MiB sparse file: CPU-bound) or full (1 GiB written file: device-bound) [full]
#   --engine E   the engine under test and fio's match: io_uring, native (fio libaio), threads (fio psync with
#                numjobs=QD) [native]
#   --rw, --qd   the cell [randread, 1]; read and write are sequential; --seconds S fio's measured seconds per run
#                [2]; blockloop makes 2 x S x fio's IOPS requests, after its default warm-up
#   --bs SIZE    bytes per request, a multiple of 4096 up to 1M (64k) [4096]
#   --dir DIR    work directory for the backing file [/var/tmp]; must not be tmpfs
# Prints one line per round (IOPS, ratio to that round's fio, CPU per request, the share of the main thread's CPU
# spent busy-polling), then per variant the mean IOPS, the mean of its per-round ratios with the 95 % confidence
# interval, the lowest and highest ratio, and the mean CPU per request. The sparse device is discarded before every
# run of every tool.
# Needs: root (losetup, blkdiscard), fio, a JDK 25 (bin/find-jdk).
set -euo pipefail

root=$(CDPATH= cd -- "$(dirname -- "$0")/../.." && pwd)
rounds=8
device=full
engine=native
rw=randread
qd=1
seconds=2
bs=4096
workdir=/var/tmp
variants=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds|--device|--engine|--rw|--qd|--bs|--seconds|--dir)
      [ $# -ge 2 ] || { printf 'variants-vs-fio: %s needs a value (see --help)\n' "$1" >&2; exit 2; } ;;&
    --rounds) rounds=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    --engine) engine=$2; shift 2 ;;
    --rw) rw=$2; shift 2 ;;
    --qd) qd=$2; shift 2 ;;
    --bs) bs=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --dir) workdir=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) printf 'variants-vs-fio: unknown option %s (see --help)\n' "$1" >&2; exit 2 ;;
    *=*) variants+=("$1"); shift ;;
    *) printf 'variants-vs-fio: a variant is NAME=ARGS, not %s (see --help)\n' "$1" >&2; exit 2 ;;
  esac
done

die() { printf 'variants-vs-fio: %s\n' "$*" >&2; exit 1; }
usage() { printf 'variants-vs-fio: %s (see --help)\n' "$*" >&2; exit 2; }
[ ${#variants[@]} -gt 0 ] || usage "no variant given"
case "$device" in sparse|full) ;; *) usage "--device is sparse or full, not $device" ;; esac
case "$engine" in io_uring|native|threads) ;; *) usage "--engine is io_uring, native or threads, not $engine" ;; esac
case "$rw" in
  randread|read) write=() ;;
  randwrite|write) write=(-w) ;;
  *) usage "--rw is randread, randwrite, read or write, not $rw" ;;
esac
. "$root/bin/bench-fio" # bench_fio_engine, bench_fio_iops, bench_request_bytes, bench_random_rw
bs=$(bench_request_bytes "$bs" 2>&1) || usage "--bs $bs" # on failure, bs holds the reason
random=()
if bench_random_rw "$rw"; then random=(--random); fi
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || usage "--rounds must be a positive number, not $rounds"
[[ "$qd" =~ ^[1-9][0-9]*$ ]] || usage "--qd must be a positive number, not $qd"
[[ "$seconds" =~ ^[0-9]+(\.[0-9]+)?$ ]] || usage "--seconds must be a number of seconds, not $seconds"
for variant in "${variants[@]}"; do
  for word in ${variant#*=}; do # before anything is set up, not once per round
    case "$word" in
      --jar=*) [ -f "${word#--jar=}" ] || usage "variant '${variant%%=*}': no such jar: ${word#--jar=}" ;;
    esac
  done
done
[ "$(id -u)" -eq 0 ] || die "needs root for losetup and blkdiscard."
command -v fio >/dev/null || die "fio is not installed (apt-get install fio)."
. "$root/bin/bench-loop-devices"
bench_work_dir "$workdir" || die "$bench_work_dir_error"
workdir=$bench_work_dir_abs

. "$root/bin/find-jdk"
JAVA_HOME=$(blockloop_find_jdk); export JAVA_HOME
. "$root/bin/round-ratios"
jar="$root/blockcore/target/blockloop.jar"
echo "==> building $jar"
(cd "$root" && ./mvnw -q -B -pl blockcore -am package -DskipTests) >/dev/null || die "the build failed"

bench_loop_devices "$workdir" "$([ "$device" = sparse ] && echo yes || echo no)" \
  "$([ "$device" = full ] && echo yes || echo no)"
dev=$sparse_dev
[ "$device" = full ] && dev=$full_dev
trap 'exit 130' INT TERM
discard() { [ "$device" = sparse ] && blkdiscard "$dev"; return 0; }

json_field() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p"; }

# run_variant ARGS COUNT -> "IOPS CPU_US_PER_REQUEST SPIN_PERCENT" (the share of the main thread's CPU that busy
# polling spent spinning; "-" from a jar that does not report it)
run_variant() {
  local jvm=() bench=() use_jar=$jar word json
  for word in $1; do
    case "$word" in
      -J*) jvm+=("${word#-J}") ;;
      --jar=*) use_jar=${word#--jar=} ;;
      *) bench+=("$word") ;;
    esac
  done
  [ -f "$use_jar" ] || die "no such jar: $use_jar"
  discard
  json=$("$JAVA_HOME/bin/java" "${jvm[@]}" -jar "$use_jar" bench --json "${random[@]}" -f raw -t none -i "$engine" \
    -d "$qd" -s "$bs" -c "$2" "${write[@]}" "${bench[@]}" "$dev") || die "variant '$1': blockloop bench failed"
  [ -n "$(json_field iops <<<"$json")" ] || die "variant '$1': blockloop bench printed no IOPS"
  local spin main
  spin=$(json_field spin_seconds <<<"$json")
  main=$(json_field cpu_main_thread_seconds <<<"$json")
  spin=$(awk -v s="$spin" -v m="$main" 'BEGIN { if (s == "" || m <= 0) print "-"; else printf "%.0f", 100 * s / m }')
  echo "$(json_field iops <<<"$json") $(json_field cpu_us_per_request <<<"$json") $spin"
}

echo "==> $(date -u '+%Y-%m-%d %H:%M UTC'); $device device $dev; $rw QD $qd, $bs bytes;" \
  "$engine against fio $(bench_fio_engine "$engine");" \
  "$rounds rounds; load $(cut -d' ' -f1-3 /proc/loadavg)"
# A first untimed run, so the page cache holds the jar and the first round is like the rest.
"$JAVA_HOME/bin/java" -jar "$jar" bench --json -c 1000 --warmup 0 -d 8 "$dev" >/dev/null
n=${#variants[@]}
declare -a iops_sum cpu_sum ratios
for ((v = 0; v < n; v++)); do iops_sum[v]=0; cpu_sum[v]=0; ratios[v]=; done
for ((r = 0; r < rounds; r++)); do
  discard
  f=$(bench_fio_iops "$dev" "$rw" "$engine" "$qd" "$seconds" "$bs")
  count=$(awk -v i="$f" -v s="$seconds" 'BEGIN { c = int(i * s * 2); if (c < 1000) c = 1000; print c }')
  line=$(printf 'round %2d  fio %8.0f' "$r" "$f")
  for ((k = 0; k < n; k++)); do
    v=$(((r + k) % n))
    # Assigned first: a die inside "<<<$(...)" ended only the subshell, and the variant read 0 IOPS, exit status 0.
    out=$(run_variant "${variants[v]#*=}" "$count")
    read -r iops cpu spin <<<"$out"
    ratio=$(awk -v b="$iops" -v f="$f" 'BEGIN { printf "%.4f", (f > 0 ? b / f : 0) }')
    iops_sum[v]=$(awk -v a="${iops_sum[v]}" -v b="$iops" 'BEGIN { printf "%.3f", a + b }')
    cpu_sum[v]=$(awk -v a="${cpu_sum[v]}" -v b="$cpu" 'BEGIN { printf "%.3f", a + b }')
    ratios[v]="${ratios[v]} $ratio"
    line="$line  $(printf '| %s %8.0f %5.3fx %5.1f us spin %s%%' "${variants[v]%%=*}" "$iops" "$ratio" "$cpu" "$spin")"
  done
  echo "$line"
done
echo
printf '%-12s %10s %13s %11s %8s\n' variant IOPS 'each mean' 'each round' 'us/req'
for ((v = 0; v < n; v++)); do
  awk -v name="${variants[v]%%=*}" -v s="${iops_sum[v]}" -v c="${cpu_sum[v]}" -v k="$rounds" -v r="${ratios[v]}" \
    'BEGIN { printf "%-12s %10.0f %13s %11s %8.1f\n", name, s / k, mean_ci(r), spread(r), c / k }'"$awk_round_ratios"
done
echo "==> load afterwards $(cut -d' ' -f1-3 /proc/loadavg)"
