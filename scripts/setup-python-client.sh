#!/usr/bin/env bash
# Install a Python gRPC toolchain from Debian and generate Python stubs for proto/vectordb/v1/*.proto.
# Used by test/python-client.test.ts to prove that a client generated in another language from our
# protos talks to the server (DESIGN.md §6).
#
# Why these pieces:
#   - /usr/bin/python3 (Debian's interpreter), never the `python3` on PATH: that may be a pyenv
#     interpreter without Debian's python3-* modules.
#   - apt's /usr/bin/protoc (protobuf-compiler, 3.21) with /usr/bin/grpc_python_plugin
#     (protobuf-compiler-grpc): the protoc bundled in python3-grpc-tools (1.14) is too old for
#     proto3 `optional`, which our protos use. protoc 3.21 pairs with python3-protobuf 3.21.
#   - python3-grpc-tools only for its copy of the well-known types (google/protobuf/struct.proto).
#
# Idempotent and fast when everything is installed: apt-get runs only when a package is missing
# (scripts/lib/debian-packages.sh, shared with scripts/setup-clients.sh).
# The stubs are regenerated on every run (well under a second) so they always match proto/.
#
# Usage: scripts/setup-python-client.sh [OUT_DIR]
#   OUT_DIR  where to write the stubs (default: test/python/.generated, gitignored).
#            The script's directory layout is OUT_DIR/vectordb/v1/*_pb2.py and *_pb2_grpc.py;
#            put OUT_DIR on sys.path and `from vectordb.v1 import point_service_pb2_grpc`.
# Exit codes: 0 ok; 3 the toolchain is missing and cannot be installed here (not root, no apt-get,
#             or apt-get failed); 1 any other failure (e.g. protoc rejects the protos).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT_DIR="${1:-$ROOT/test/python/.generated}"
PYTHON=/usr/bin/python3
PROTOC=/usr/bin/protoc
GRPC_PLUGIN=/usr/bin/grpc_python_plugin
PACKAGES=(python3 python3-grpcio python3-protobuf python3-grpc-tools protobuf-compiler protobuf-compiler-grpc)

SETUP_NAME=setup-python-client
# shellcheck source=lib/debian-packages.sh
source "$ROOT/scripts/lib/debian-packages.sh"
log() { setup_log "$@"; }
cannot_install() { setup_cannot_install "$1" "${PACKAGES[@]}"; }

ensure_debian_packages "${PACKAGES[@]}"
require_executables "$PYTHON" "$PROTOC" "$GRPC_PLUGIN"

# Well-known types (google/protobuf/struct.proto): grpc-tools' copy, else the system include dir.
WKT_DIR=""
for d in /usr/lib/python3/dist-packages/grpc_tools/_proto /usr/include; do
  if [[ -f "$d/google/protobuf/struct.proto" ]]; then WKT_DIR="$d"; break; fi
done
[[ -n "$WKT_DIR" ]] || cannot_install "google/protobuf/struct.proto not found (python3-grpc-tools broken?)"

# The generated code must be loadable by the installed Python runtime: protoc and python3-protobuf
# must be the same release (Debian ships them from one source package).
protoc_version="$("$PROTOC" --version | awk '{print $2}')"
runtime_version="$("$PYTHON" -c 'import google.protobuf as p; print(p.__version__)')" ||
  cannot_install "$PYTHON cannot import google.protobuf"
grpcio_version="$("$PYTHON" -c 'import grpc; print(grpc.__version__)')" ||
  cannot_install "$PYTHON cannot import grpc"
# protoc 3.21.x pairs with Python runtime 3.21.x (Debian); since 22.x protoc prints "22.x" and the
# runtime is 4.22.x / 5.26.x. Compare the release ("21" from 3.21.12, "26" from 26.1 and 5.26.1).
protoc_release="${protoc_version#3.}"; protoc_release="${protoc_release%%.*}"
runtime_release="${runtime_version#*.}"; runtime_release="${runtime_release%%.*}"
if [[ "$protoc_release" != "$runtime_release" ]]; then
  log "WARNING: protoc $protoc_version and Python protobuf runtime $runtime_version are different releases"
fi

# Generate into a fresh directory next to OUT_DIR, then swap it in, so a concurrent reader never
# sees a half-written tree.
mkdir -p "$OUT_DIR"
OUT_DIR="$(cd "$OUT_DIR" && pwd)"
# OUT_DIR is replaced wholesale: refuse a directory holding anything but earlier stubs.
for entry in "$OUT_DIR"/* "$OUT_DIR"/.[!.]*; do
  [[ -e "$entry" ]] || continue
  case "$(basename "$entry")" in
    vectordb | __pycache__) ;;
    *) log "refusing to replace $OUT_DIR: it holds $(basename "$entry"), not only generated stubs"; exit 1 ;;
  esac
done
tmp="$(mktemp -d "$(dirname "$OUT_DIR")/.gen-tmp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
(
  cd "$ROOT"
  "$PROTOC" -I proto -I "$WKT_DIR" \
    --plugin=protoc-gen-grpc="$GRPC_PLUGIN" \
    --python_out="$tmp" --grpc_out="$tmp" \
    proto/vectordb/v1/*.proto
)
# Import check: every generated module loads with this interpreter and runtime.
(
  cd "$tmp"
  "$PYTHON" -B - <<'PY'
import glob, importlib, os
for path in sorted(glob.glob("vectordb/v1/*.py")):
    importlib.import_module(os.path.splitext(path)[0].replace("/", "."))
PY
)
rm -rf "$OUT_DIR"
chmod 755 "$tmp"
mv "$tmp" "$OUT_DIR"
trap - EXIT

log "ok: python $("$PYTHON" -c 'import platform; print(platform.python_version())'), grpcio $grpcio_version," \
  "protobuf runtime $runtime_version, protoc $protoc_version -> $OUT_DIR"
