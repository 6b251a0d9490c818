#!/bin/sh
# Regenerates the jextract bindings for liburing 2.3 from liburing.args into
#   ffm-bindings/src/main/java/io/blockloop/ffm/liburing/generated/
# Uses $JEXTRACT if set, else `jextract` on PATH. It does not build jextract: see ffm-bindings/README.md,
# section "liburing bindings (jextract)", for the version to use and how to build it.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
MODULE=$(dirname "$HERE")
ARGS="$HERE/liburing.args"
OUT="$MODULE/src/main/java"
PKG_DIR="$OUT/io/blockloop/ffm/liburing/generated"

if [ -n "${JEXTRACT:-}" ]; then
    JX=$JEXTRACT
elif command -v jextract >/dev/null 2>&1; then
    JX=$(command -v jextract)
else
    echo "regenerate.sh: no jextract found: set JEXTRACT=/path/to/jextract or put jextract on PATH." >&2
    echo "  How to get the jextract build these sources came from: $MODULE/README.md, \"liburing bindings (jextract)\"." >&2
    exit 1
fi
if [ ! -x "$JX" ]; then
    echo "regenerate.sh: $JX is not an executable jextract (see $MODULE/README.md)." >&2
    exit 1
fi
if [ ! -f /usr/include/liburing.h ]; then
    echo "regenerate.sh: /usr/include/liburing.h is missing: install liburing-dev (2.3 on Debian 12)." >&2
    exit 1
fi

# The generated package is entirely jextract's: clear it so symbols dropped from the args file disappear.
rm -rf "$PKG_DIR"
"$JX" @"$ARGS" --output "$OUT"
echo "regenerated $(find "$PKG_DIR" -name '*.java' | wc -l) files in $PKG_DIR with $("$JX" --version 2>&1 | head -n 1)"
