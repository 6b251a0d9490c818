#!/usr/bin/env bash
# blockloop bench vs fio vs qemu-img bench, side by side in one run, on the same loop devices (README.md,
# "Benchmarks"). The whole stack is measured: the blockloop command line, its main loop, coroutines, the block
# layer (raw over file, O_DIRECT) and the engine; linux-aio/bench/engines-vs-fio.sh measures the engines alone.
#
# Sets up two loop devices (direct I/O on) in a work directory on a real file system, as engines-vs-fio.sh does:
#   sparse: 256 MiB over a sparse file (reads of holes never reach the disk: CPU-bound); discarded (blkdiscard:
#           every block a hole again) before every run, fio's, qemu-img's and blockloop's alike
#   full:   1 GiB over a fully written file (device-bound)
# and measures, for every cell {full, sparse} x {randread, randwrite} x QD {1, 32} x engine {io_uring, native,
# threads}, one run each of
#   fio        --direct=1 --bs=4k --rw=randread|randwrite --ioengine=io_uring|libaio|psync, --iodepth=QD
#              (psync: --numjobs=QD --thread, QD threads of one request each: fio's nearest to a thread pool),
#              time based: SECONDS after a 0.25 s ramp
#   qemu-img   bench -f raw -t none -i ENGINE -d QD -s 4096 [-w] -c N, where N = fio's IOPS x SECONDS. qemu-img
#              bench has no random mode: it runs a strided walk instead, step 7919 blocks (a prime: the walk
#              visits every 4 KiB block once per pass, far apart; -S 32436224)
#   blockloop  bench --json --random -f raw -t none -i ENGINE -d QD -s 4096 [-w] -c N (the same N), after its
#              default warm-up (not measured: at depth max(QD, 32) until the JIT compiler is quiet, 0.5-5 s,
#              then at QD, if lower, until it is quiet again, 0.3-2 s)
# (--bs and --rw below change the request size and the walk for all three), then the null driver against qemu-img's
# null-co ({read, write} x QD {1, 32}):
#   qemu-img bench --image-opts driver=null-co,size=1G,read-zeroes=on   vs   blockloop bench -f null 1G
# (both zero the read buffers), with N = qemu-img's IOPS in a 200000-request calibration run x SECONDS.
# Each cell runs ROUNDS rounds of fio, qemu-img, blockloop in turn (so drifts of a shared machine hit all three);
# the table shows mean IOPS, the ratios blockloop/fio and blockloop/qemu-img of the means, the lowest and highest
# blockloop/fio ratio of a single round (how far the rounds spread), the mean of the rounds' blockloop/fio ratios
# with the half-width of its 95 % confidence interval (from 2 rounds on), and blockloop's CPU time and main-thread
# allocation per request.
#
# Usage: blockcore/bench/bench-vs-fio-qemu.sh [--quick] [--seconds S] [--rounds N] [--dir DIR]
#        [--devices sparse,full,null] [--engines io_uring,native,threads] [--rw randread,randwrite] [--qd 1,32]
#        [--bs SIZE] [--loop-cpu CPU] [--poll-max-ns NS]
#   --quick      0.5 s per run, one round (about 3 minutes)
#   --seconds S  measured seconds per run [2]; --rounds N [1]
#   --dir DIR    work directory for the backing files [/var/tmp]; must not be tmpfs
#   --rw         besides randread and randwrite, read and write: sequential, for all three tools (qemu-img and
#                blockloop without -S and --random)
#   --bs SIZE    bytes per request instead of 4096: a multiple of 4096 up to 1M, with suffix k or M (64k), for all
#                three tools and the null rows; qemu-img's stride is then 7919 requests of SIZE
#   --poll-max-ns NS  runs blockloop bench with --poll-max-ns NS: adaptive busy polling of its main loop, up to
#                NS ns per wait (QEMU's poll-max-ns). Without it, blockloop bench's default: as an IOThread, 32768
#                with 2 CPUs or more. 0 turns it off, as in qemu-img bench's main loop.
#   --loop-cpu CPU  runs blockloop bench with --loop-cpu CPU (a number or 'current'): its main loop's thread
#                pinned for the run. fio and qemu-img run as always. Off by default: the table compares defaults.
# Needs: root (losetup, blkdiscard), fio, qemu-img (qemu-utils), a JDK 25 (bin/find-jdk).
# Time: 24 device cells x ~(SECONDS x 3 + 2.5 s) + 4 null cells x ~(SECONDS x 2 + 2 s); with the defaults about
# 5 minutes.
set -euo pipefail

root=$(CDPATH= cd -- "$(dirname -- "$0")/../.." && pwd)
workdir=/var/tmp
seconds=2
rounds=1
devices=sparse,full,null
engines=io_uring,native,threads
rws=randread,randwrite
depths=1,32
loop_cpu_args=()
poll_args=()
stride_blocks=7919
bs=4096
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds|--rounds|--dir|--devices|--engines|--rw|--qd|--bs|--loop-cpu|--poll-max-ns)
      [ $# -ge 2 ] || { printf 'bench-vs-fio-qemu: %s needs a value (see --help)\n' "$1" >&2; exit 2; } ;;
  esac
  case "$1" in
    --quick) seconds=0.5; rounds=1; shift ;;
    --seconds) seconds=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --dir) workdir=$2; shift 2 ;;
    --devices) devices=$2; shift 2 ;;
    --engines) engines=$2; shift 2 ;;
    --rw) rws=$2; shift 2 ;;
    --qd) depths=$2; shift 2 ;;
    --bs) bs=$2; shift 2 ;;
    --loop-cpu) loop_cpu_args=(--loop-cpu "$2"); shift 2 ;;
    --poll-max-ns) poll_args=(--poll-max-ns "$2"); shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) printf 'bench-vs-fio-qemu: unknown option %s (see --help)\n' "$1" >&2; exit 2 ;;
  esac
done

die() { printf 'bench-vs-fio-qemu: %s\n' "$*" >&2; exit 1; }
usage_error() { printf 'bench-vs-fio-qemu: %s (see --help)\n' "$*" >&2; exit 2; }
. "$root/bin/bench-fio" # bench_fio_iops (fio's run of a cell), bench_request_bytes, bench_random_rw
bs=$(bench_request_bytes "$bs" 2>&1) || usage_error "--bs $bs" # on failure, bs holds the reason
for rw in ${rws//,/ }; do
  case "$rw" in randread|randwrite|read|write) ;; *) usage_error "--rw $rw: randread, randwrite, read or write" ;; esac
done
# Checked here, before loop devices are made: a typo measured nothing (--devices foo, an empty table), or made up
# figures (--seconds abc: fio ran untimed, blockloop 1000 requests), all with exit status 0.
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || usage_error "--rounds must be a positive number, not $rounds"
[[ "$seconds" =~ ^[0-9]*\.?[0-9]+$ ]] && awk -v s="$seconds" 'BEGIN { exit !(s > 0) }' ||
  usage_error "--seconds must be a positive number of seconds, not $seconds"
for d in ${devices//,/ }; do
  case "$d" in sparse|full|null) ;; *) usage_error "--devices $d: sparse, full or null" ;; esac
done
for e in ${engines//,/ }; do
  case "$e" in io_uring|native|threads) ;; *) usage_error "--engines $e: io_uring, native or threads" ;; esac
done
for qd in ${depths//,/ }; do
  [[ "$qd" =~ ^[1-9][0-9]*$ ]] || usage_error "--qd $qd: a positive number"
done
# What the table's title says about the requests.
if (( bs % 1048576 == 0 )); then bs_label="$((bs / 1048576)) MiB"; else bs_label="$((bs / 1024)) KiB"; fi
[ "$(id -u)" -eq 0 ] || die "needs root for losetup and blkdiscard."
command -v fio >/dev/null || die "fio is not installed (apt-get install fio)."
command -v qemu-img >/dev/null || die "qemu-img is not installed (apt-get install qemu-utils)."
. "$root/bin/bench-loop-devices"
bench_work_dir "$workdir" || die "$bench_work_dir_error"
workdir=$bench_work_dir_abs

. "$root/bin/find-jdk"
JAVA_HOME=$(blockloop_find_jdk); export JAVA_HOME
. "$root/bin/round-ratios" # $awk_round_ratios: spread() and mean_ci() for the per-round ratios
jar="$root/blockcore/target/blockloop.jar"
echo "==> building $jar"
(cd "$root" && ./mvnw -q -B -pl blockcore -am package -DskipTests) >/dev/null || die "the build failed"

has() { case ",$1," in *",$2,"*) return 0 ;; *) return 1 ;; esac; }

bench_loop_devices "$workdir" "$(has "$devices" sparse && echo yes || echo no)" \
  "$(has "$devices" full && echo yes || echo no)"
trap 'exit 130' INT TERM

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
echo "==> $(date -u '+%Y-%m-%d %H:%M UTC'); kernel $(uname -r); $(nproc) CPUs ($cpu_model);" \
  "$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM; $workdir on $(df --output=source "$workdir" | tail -1) ($(stat -f -c %T "$workdir"))"
echo "==> $(fio --version); $(qemu-img --version | head -1); $("$JAVA_HOME/bin/java" -version 2>&1 | head -1)"
echo "==> sparse: ${sparse_dev:--}  full: ${full_dev:--}  seconds per run: $seconds  rounds: $rounds  load: $(cut -d' ' -f1-3 /proc/loadavg)"

add() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", a + b }'; }

discard_if_sparse() { [ "$1" = sparse ] && blkdiscard "$sparse_dev"; return 0; }

# run_fio DEVNAME DEV RW QD ENGINE -> IOPS
run_fio() {
  discard_if_sparse "$1"
  bench_fio_iops "$2" "$3" "$5" "$4" "$seconds" "$bs"
}

# run_qemu DEVNAME DEV RW QD ENGINE COUNT -> IOPS  (random: a strided walk, qemu-img bench has no random mode)
run_qemu() {
  local w=() walk=()
  case "$3" in *write) w=(-w) ;; esac
  if bench_random_rw "$3"; then walk=(-S $((bs * stride_blocks))); fi
  discard_if_sparse "$1"
  qemu-img bench -f raw -t none -i "$5" -d "$4" -s "$bs" "${walk[@]}" -c "$6" "${w[@]}" "$2" |
    awk -v n="$6" '/^Run completed in/ { printf "%.0f", n / $4 }'
}

# run_qemu_null RW QD COUNT -> IOPS
run_qemu_null() {
  local w=()
  [ "$1" = write ] && w=(-w)
  qemu-img bench -d "$2" -s "$bs" -c "$3" "${w[@]}" --image-opts driver=null-co,size=1G,read-zeroes=on |
    awk -v n="$3" '/^Run completed in/ { printf "%.0f", n / $4 }'
}

json_field() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p"; }

# run_blockloop DEVNAME ARGS... -> "IOPS CPU_US_PER_REQUEST BYTES_PER_REQUEST"
run_blockloop() {
  discard_if_sparse "$1"
  shift
  local json
  json=$("$JAVA_HOME/bin/java" ${BLOCKLOOP_JAVA_OPTS:-} -jar "$jar" bench --json "${loop_cpu_args[@]}" \
    "${poll_args[@]}" "$@") || die "blockloop bench $* failed"
  echo "$(json_field iops <<<"$json") $(json_field cpu_us_per_request <<<"$json") $(json_field allocated_bytes_per_request <<<"$json")"
}

header=$(printf '%-7s %-10s %-3s %-9s %10s %10s %10s %8s %11s %12s %8s %7s %6s' device rw qd engine fio qemu-img \
  blockloop 'bl/fio' 'bl/fio each' 'each mean' 'bl/qemu' 'us/req' 'B/req')
rows=()
print_row() { rows+=("$1"); echo "$1"; }
echo
echo "$header"
start=$(date +%s)

# The device-bound cells run first. Run after the sparse ones, their reads collapsed for fio and blockloop alike (to
# 583 IOPS in one cell) in two of the README's runs, and not when run alone: the sparse write cells allocate blocks
# on the virtio disk and every run discards them again (blkdiscard; / is mounted with discard), and the host seems
# to be still busy with that when the device-bound reads start.
for dev_name in full sparse; do
  has "$devices" "$dev_name" || continue
  dev=$sparse_dev
  [ "$dev_name" = full ] && dev=$full_dev
  # A first untimed blockloop run per device, so the page cache holds the jar and the first cell is like the rest.
  "$JAVA_HOME/bin/java" -jar "$jar" bench --json -c 1000 --warmup 0 -d 8 "$dev" >/dev/null
  for rw in ${rws//,/ }; do
    for qd in ${depths//,/ }; do
      for engine in ${engines//,/ }; do
        w=() random=()
        case "$rw" in *write) w=(-w) ;; esac
        if bench_random_rw "$rw"; then random=(--random); fi
        f_sum=0; q_sum=0; b_sum=0; cpu_sum=0; alloc_sum=0; ratios=
        for ((r = 0; r < rounds; r++)); do
          f=$(run_fio "$dev_name" "$dev" "$rw" "$qd" "$engine")
          count=$(awk -v i="$f" -v s="$seconds" 'BEGIN { c = int(i * s); if (c < 1000) c = 1000; print c }')
          q=$(run_qemu "$dev_name" "$dev" "$rw" "$qd" "$engine" "$count")
          # Assigned first: a failure inside "<<<$(...)" was ignored, and the cell read 0 IOPS with exit status 0.
          bl=$(run_blockloop "$dev_name" "${random[@]}" -f raw -t none -i "$engine" -d "$qd" -s "$bs" -c "$count" \
            "${w[@]}" "$dev")
          read -r b cpu alloc <<<"$bl"
          f_sum=$(add "$f_sum" "$f"); q_sum=$(add "$q_sum" "$q"); b_sum=$(add "$b_sum" "$b")
          cpu_sum=$(add "$cpu_sum" "$cpu"); alloc_sum=$(add "$alloc_sum" "$alloc")
          ratio=$(awk -v b="$b" -v f="$f" 'BEGIN { printf "%.4f", (f > 0 ? b / f : 0) }')
          ratios="$ratios $ratio"
        done
        print_row "$(awk -v d="$dev_name" -v rw="$rw" -v qd="$qd" -v e="$engine" -v f="$f_sum" -v q="$q_sum" \
          -v b="$b_sum" -v c="$cpu_sum" -v a="$alloc_sum" -v n="$rounds" -v r="$ratios" 'BEGIN {
            printf "%-7s %-10s %-3s %-9s %10.0f %10.0f %10.0f %7.2fx %11s %12s %7.2fx %7.2f %6.2f",
              d, rw, qd, e, f / n, q / n, b / n, b / f, spread(r), mean_ci(r), b / q, c / n, a / n }
            '"$awk_round_ratios")"
      done
    done
  done
done

if has "$devices" null; then
  for rw in read write; do
    for qd in ${depths//,/ }; do
      calib=$(run_qemu_null "$rw" "$qd" 200000)
      count=$(awk -v i="$calib" -v s="$seconds" 'BEGIN { c = int(i * s); if (c < 10000) c = 10000; print c }')
      w=()
      [ "$rw" = write ] && w=(-w)
      q_sum=0; b_sum=0; cpu_sum=0; alloc_sum=0
      for ((r = 0; r < rounds; r++)); do
        q=$(run_qemu_null "$rw" "$qd" "$count")
        bl=$(run_blockloop null -f null -d "$qd" -s "$bs" -c "$count" "${w[@]}" 1G)
        read -r b cpu alloc <<<"$bl"
        q_sum=$(add "$q_sum" "$q"); b_sum=$(add "$b_sum" "$b")
        cpu_sum=$(add "$cpu_sum" "$cpu"); alloc_sum=$(add "$alloc_sum" "$alloc")
      done
      print_row "$(awk -v rw="$rw" -v qd="$qd" -v q="$q_sum" -v b="$b_sum" -v c="$cpu_sum" -v a="$alloc_sum" \
        -v n="$rounds" 'BEGIN {
          printf "%-7s %-10s %-3s %-9s %10s %10.0f %10.0f %8s %11s %12s %7.2fx %7.2f %6.2f",
            "null", rw, qd, "null-co", "-", q / n, b / n, "-", "-", "-", b / q, c / n, a / n }')"
    done
  done
fi

echo
echo "=== blockloop bench vs fio vs qemu-img bench: $bs_label, O_DIRECT, loop devices (direct-io=on); IOPS, mean of" \
  "$rounds round(s) of $seconds s ==="
echo "    rand*: fio and blockloop at random offsets; qemu-img a strided walk (step $stride_blocks requests), it has no"
echo "    random mode. read, write: sequential, all three."
echo "    bl/fio: ratio of the means; bl/fio each: the lowest and highest ratio of one round's blockloop to the same"
echo "    round's fio (the spread of the rounds); each mean: the mean of those ratios +- the half-width of its 95 %"
echo "    confidence interval (Student's t, from 2 rounds on): where the interval contains a goal, this run cannot"
echo "    tell the cell from it."
echo "    threads: fio psync with numjobs=QD; native: fio libaio. us/req: blockloop's process CPU time per request;"
echo "    B/req: bytes blockloop's main thread allocated per request. null rows: -f null vs qemu-img null-co."
echo "$header"
printf '%s\n' "${rows[@]}"
echo "==> measured in $(( $(date +%s) - start )) s; load afterwards $(cut -d' ' -f1-3 /proc/loadavg)"
