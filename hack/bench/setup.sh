#!/usr/bin/env bash
# Installs the peers the benchmarks compare against.
set -euo pipefail
bash "$(dirname "$0")/../test-deps.sh"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends podman crun runc hyperfine curl
