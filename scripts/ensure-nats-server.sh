#!/usr/bin/env bash
# Installs Debian's nats-server (2.9) when it is missing: the replication tests and the replication
# crash test start their own 3-node JetStream cluster on 127.0.0.1 with it. Idempotent; prints the
# path of the binary. Runs apt-get as root, or through sudo when not root.
set -euo pipefail
for candidate in "${NATS_SERVER:-}" /usr/sbin/nats-server /usr/bin/nats-server "$(command -v nats-server || true)"; do
  if [[ -n "$candidate" && -x "$candidate" ]]; then
    echo "$candidate"
    exit 0
  fi
done
SUDO=""
if [[ "$(id -u)" -ne 0 ]]; then SUDO="sudo"; fi
echo "ensure-nats-server: installing nats-server (Debian package)" >&2
$SUDO apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nats-server >&2
# The package may start a system service on the default port 4222; the tests use their own ports.
command -v nats-server || echo /usr/sbin/nats-server
