#!/usr/bin/env bash
# Install, from Debian, what the Python and Go clients need (clients/python, clients/go), for the
# tests, `npm run generate` and a developer. Idempotent and fast when everything is installed:
# apt-get runs only when a package is missing (scripts/lib/debian-packages.sh, shared with
# scripts/setup-python-client.sh). Nothing comes from PyPI or a Go module proxy.
#
# Usage: scripts/setup-clients.sh PART...
#   python    Debian's /usr/bin/python3 with python3-grpcio and python3-protobuf (the client's runtime),
#             python3-numpy (its numpy path), python3-venv + python3-setuptools + python3-wheel (a
#             `pip install --no-index --no-build-isolation` of the package into a venv), openssl (test
#             certificates for the TLS check)
#   go        golang-go (Go 1.19) and the gRPC and protobuf Go sources under /usr/share/gocode,
#             built in GOPATH mode (GO111MODULE=off), since no module proxy is reachable
#   generate  the code generators driven by `buf generate --template buf.gen.clients.yaml`:
#             protoc 3.21 (its python and pyi built-ins), grpc_python_plugin, protoc-gen-go,
#             protoc-gen-go-grpc
# Prints one "ok" line per part with the versions found, on stderr.
# Exit codes: 0 ok; 3 something is missing and cannot be installed here (not root, no apt-get, apt-get
#             failed); 2 bad usage; 1 any other failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SETUP_NAME=setup-clients
# shellcheck source=lib/debian-packages.sh
source "$ROOT/scripts/lib/debian-packages.sh"

PYTHON=/usr/bin/python3
PYTHON_PACKAGES=(python3 python3-grpcio python3-protobuf python3-numpy python3-venv python3-setuptools python3-wheel openssl)
# golang-github-golang-protobuf-1-5-dev: grpc-go 1.33 marshals through github.com/golang/protobuf, and only
# its 1.5 line understands messages from protoc-gen-go 1.28 (APIv2); Debian otherwise picks 1.3 for grpc.
GO_PACKAGES=(golang-go golang-google-grpc-dev golang-google-protobuf-dev golang-github-golang-protobuf-1-5-dev)
GENERATE_PACKAGES=(protobuf-compiler protobuf-compiler-grpc protoc-gen-go protoc-gen-go-grpc)

(($#)) || { echo "usage: scripts/setup-clients.sh python|go|generate ..." >&2; exit 2; }
packages=()
for part in "$@"; do
  case "$part" in
    python) packages+=("${PYTHON_PACKAGES[@]}") ;;
    go) packages+=("${GO_PACKAGES[@]}") ;;
    generate) packages+=("${GENERATE_PACKAGES[@]}") ;;
    *) echo "setup-clients: unknown part '$part' (expected python, go or generate)" >&2; exit 2 ;;
  esac
done
# One apt-get run for all parts asked for.
ensure_debian_packages "${packages[@]}"

for part in "$@"; do
  case "$part" in
    python)
      require_executables "$PYTHON" /usr/bin/openssl
      versions="$("$PYTHON" -c 'import platform, grpc, numpy, setuptools, google.protobuf as pb
print(f"python {platform.python_version()}, grpcio {grpc.__version__}, protobuf {pb.__version__}, numpy {numpy.__version__}, setuptools {setuptools.__version__}")')" ||
        setup_cannot_install "$PYTHON cannot import grpc, google.protobuf, numpy or setuptools" "${PYTHON_PACKAGES[@]}"
      "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null ||
        setup_cannot_install "$PYTHON has no venv/ensurepip" python3-venv
      setup_log "ok python: $versions"
      ;;
    go)
      require_executables /usr/bin/go
      for dir in google.golang.org/grpc google.golang.org/protobuf; do
        [[ -d "/usr/share/gocode/src/$dir" ]] ||
          setup_cannot_install "/usr/share/gocode/src/$dir is missing" "${GO_PACKAGES[@]}"
      done
      setup_log "ok go: $(/usr/bin/go version | awk '{print $3}'), grpc $(dpkg-query -W -f='${Version}' golang-google-grpc-dev)," \
        "protobuf $(dpkg-query -W -f='${Version}' golang-google-protobuf-dev)"
      ;;
    generate)
      require_executables /usr/bin/protoc /usr/bin/grpc_python_plugin /usr/bin/protoc-gen-go /usr/bin/protoc-gen-go-grpc
      setup_log "ok generate: $(/usr/bin/protoc --version), $(/usr/bin/protoc-gen-go --version)," \
        "$(/usr/bin/protoc-gen-go-grpc --version), grpc_python_plugin $(dpkg-query -W -f='${Version}' protobuf-compiler-grpc)"
      ;;
  esac
done
