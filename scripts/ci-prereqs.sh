#!/usr/bin/env bash
# System packages the tests use: Chromium for the browser tests, curl/openssl for TLS checks,
# redis-server for the cluster tests (they start their own on a free loopback port).
# Installed only when missing; needs root (as on this project's machines).
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    # the package may start a system Redis on 6379; the tests want none running but their own
    if [[ " ${missing[*]} " == *" redis-server "* ]]; then
      (systemctl disable --now redis-server || service redis-server stop) >/dev/null 2>&1 || true
    fi
  else
    echo "missing system packages: ${missing[*]} (install them, or run as root)" >&2
  fi
fi
