#!/bin/sh
# Prints the link flags of ocikit-monitor for binding.gyp: -static when this toolchain can link a static
# program (Debian's libc6-dev ships libc.a). A static monitor is about half as large in memory (~0.85 MB
# resident against ~1.6 MB), and one runs per container; without libc.a the monitor links dynamically.
set -eu
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf 'int main(void) { return 0; }\n' > "$probe/probe.c"
if ${CC:-cc} -static -o "$probe/probe" "$probe/probe.c" >/dev/null 2>&1; then
  echo -static
fi
