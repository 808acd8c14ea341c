#!/usr/bin/env bash
# Everything the demo and the tests need on a fresh Debian machine with Node 20 + npm, as root:
# the Debian peers (installed only when missing), pnpm 10, the workspace's packages, and a build.
# Safe to run again: each step is skipped when its result is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian peers the tests drive for real (see DEVELOPERS.md / the brief): name of a command -> package.
declare -A peers=(
  [runc]=runc
  [docker-registry]=docker-registry
  [skopeo]=skopeo
  [umoci]=umoci
  [busybox]=busybox-static
  [zstd]=zstd
  [openssl]=openssl
  [containerd]=containerd
  [ip]=iproute2
)
missing=()
for cmd in "${!peers[@]}"; do
  if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/usr/bin/$cmd" ] && [ ! -x "/usr/sbin/$cmd" ]; then
    missing+=("${peers[$cmd]}")
  fi
done
[ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian's dynamic busybox conflicts with busybox-static, so it is unpacked beside the project, not
# installed: tests that need a real execve (not an in-process applet) take it from here.
dyn=.cache/busybox-dynamic
if [ ! -x "$dyn/bin/busybox" ]; then
  mkdir -p .cache/deb "$dyn"
  (cd .cache/deb && apt-get download busybox >/dev/null 2>&1 || { apt-get update -qq && apt-get download busybox >/dev/null; })
  dpkg-deb -x .cache/deb/busybox_*.deb "$dyn"
fi

# pnpm 10: corepack's download is refused here, npm's registry is not.
if ! command -v pnpm >/dev/null 2>&1 || [[ "$(pnpm --version)" != 10.* ]]; then
  echo "setup: installing pnpm 10"
  npm install -g --silent pnpm@10 >/dev/null
fi

pnpm install --frozen-lockfile --reporter=append-only 2>&1 | grep -vE '^(Progress|Packages:)' || true
test -d node_modules/.pnpm || { echo "setup: pnpm install failed" >&2; exit 1; }
pnpm -r --filter './packages/*' run build >/dev/null
echo "setup: ready"
