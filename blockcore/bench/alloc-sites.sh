#!/usr/bin/env bash
# Where `blockloop bench` allocates during its measured run: runs one bench under JFR with small TLABs and prints
# the main thread's allocation sites of the measured run (not the warm-up), most frequent first. How the
# allocations behind the B/req column were found in session 20 (docs/qd1-reads-on-loop-devices.md, "The warm-up
# ran at depth 32"; blockcore/README.md, "How the bench measures").
#
# Usage: blockcore/bench/alloc-sites.sh [--frames N] [--keep FILE.jfr] BENCH-ARGS...
#   BENCH-ARGS   what `blockloop bench` gets, e.g. --random -f raw -t none -i native -d 1 -c 26000 /dev/loopN
#   --frames N   stack frames per site [8]
#   --keep F     keep the recording as F (it is removed otherwise)
# Each line: how many events the site caused, the class allocated, and its top frames. The JVM runs with
# -XX:TLABSize=2048 -XX:-ResizeTLAB and records jdk.ObjectAllocationInNewTLAB and jdk.ObjectAllocationOutsideTLAB
# with stack traces, so an event stands for about 2 KiB allocated, at the call that needed a new TLAB (or one
# allocation larger than a TLAB). Events are the measured run's when their stack holds BenchRun.run and not
# Warmup (stacks are recorded 256 frames deep, so that the warm-up's frames are seen); that includes the run's
# set-up just before its allocation counter starts. The bench's own report follows.
# Needs: a JDK 25 (bin/find-jdk) with its `jfr` tool; builds the jar when it is missing.
set -euo pipefail

root=$(CDPATH= cd -- "$(dirname -- "$0")/../.." && pwd)
frames=8
keep=
while [ $# -gt 0 ]; do
  case "$1" in
    --frames) [ $# -ge 2 ] || { echo "alloc-sites: --frames needs a value" >&2; exit 2; }; frames=$2; shift 2 ;;
    --keep) [ $# -ge 2 ] || { echo "alloc-sites: --keep needs a file" >&2; exit 2; }; keep=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || { echo "alloc-sites: no bench arguments (see --help)" >&2; exit 2; }
[[ "$frames" =~ ^[1-9][0-9]*$ ]] || { echo "alloc-sites: --frames must be a positive number, not $frames" >&2; exit 2; }

. "$root/bin/find-jdk"
JAVA_HOME=$(blockloop_find_jdk); export JAVA_HOME
jar="$root/blockcore/target/blockloop.jar"
if [ ! -f "$jar" ]; then
  echo "==> building $jar" >&2
  (cd "$root" && ./mvnw -q -B -pl blockcore -am package -DskipTests) >/dev/null ||
    { echo "alloc-sites: the build failed" >&2; exit 1; }
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/alloc.jfc" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<configuration version="2.0">
  <event name="jdk.ObjectAllocationInNewTLAB">
    <setting name="enabled">true</setting><setting name="stackTrace">true</setting>
  </event>
  <event name="jdk.ObjectAllocationOutsideTLAB">
    <setting name="enabled">true</setting><setting name="stackTrace">true</setting>
  </event>
</configuration>
EOF
recording=${keep:-$work/run.jfr}
"$JAVA_HOME/bin/java" -XX:TLABSize=2048 -XX:-ResizeTLAB -XX:FlightRecorderOptions:stackdepth=256 \
  "-XX:StartFlightRecording:settings=$work/alloc.jfc,filename=$recording" \
  -jar "$jar" bench "$@" >"$work/report.txt" 2>&1 || { cat "$work/report.txt" >&2; exit 1; }

echo "==> allocation sites of the main thread in the measured run (events of about 2 KiB each)"
"$JAVA_HOME/bin/jfr" print --events jdk.ObjectAllocationInNewTLAB,jdk.ObjectAllocationOutsideTLAB \
  --stack-depth 256 "$recording" |
  awk -v frames="$frames" '
    /^jdk\.ObjectAllocation/ { main = 0; cls = ""; stack = ""; n = 0; measured = 0; warm = 0; next }
    /eventThread = "main"/ { main = 1 }
    /objectClass = / { cls = $3 }
    /^    [A-Za-z_$].*line:/ {
      frame = $1; sub(/\(.*/, "", frame)
      if (frame ~ /BenchRun\.run$/) measured = 1
      if (frame ~ /Warmup\./) warm = 1
      if (n < frames) { stack = stack (n ? " < " : "") frame; n++ }
    }
    /^}/ { if (main && measured && !warm) print cls "  " stack }
  ' | sort | uniq -c | sort -rn
echo
echo "==> the bench's report"
grep -v '^Started recording\|^Use jcmd\|^\[' "$work/report.txt" || true
[ -z "$keep" ] || echo "==> recording kept: $keep"
