#!/usr/bin/env bash
# The demo: build an image from busybox-static into an OCI layout, print its manifest, unpack it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node examples/engine/demo/build-busybox-image.mjs "$@"
