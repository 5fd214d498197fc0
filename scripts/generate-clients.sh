#!/usr/bin/env bash
# Generate the Python and Go client code from proto/ (the second half of `npm run generate`; the first
# is `buf generate` for gen/). buf drives Debian's local plugins through buf.gen.clients.yaml; nothing is
# fetched. Then the Python modules get package-relative imports (see below).
#
# Usage: scripts/generate-clients.sh [OUT_ROOT]
#   OUT_ROOT  the tree to write into (default: this repository). The test that checks the committed code
#             is fresh (test/clients-generated.test.ts) generates into a temporary OUT_ROOT and compares.
# Writes, replacing them whole (so code of a removed .proto file does not linger):
#   OUT_ROOT/clients/go/vectordbv1/                              *.pb.go, *_grpc.pb.go (package vectordbv1)
#   OUT_ROOT/clients/python/src/vectordb_grpc_client/vectordb/   v1/*_pb2.py, *_pb2.pyi, *_pb2_grpc.py
# Exit codes: 0 ok; 3 a generator is missing (install with scripts/setup-clients.sh generate); 1 other.
#
# Why the Python imports are rewritten: protoc's Python output imports its siblings by proto package
# (`from vectordb.v1 import point_pb2`), i.e. it expects a top-level `vectordb` package. That name is
# taken on PyPI by an unrelated project, so the modules live inside the client package instead
# (vectordb_grpc_client.vectordb.v1) and import each other relatively (`from . import point_pb2`).
# The module name protoc records for pickling ('vectordb.v1.point_pb2') is rewritten to match.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT_ROOT="${1:-$ROOT}"
BUF="$ROOT/node_modules/.bin/buf"
GO_DIR=clients/go/vectordbv1
PY_PACKAGE=vectordb_grpc_client
PY_DIR="clients/python/src/$PY_PACKAGE/vectordb"

for tool in /usr/bin/protoc /usr/bin/grpc_python_plugin /usr/bin/protoc-gen-go /usr/bin/protoc-gen-go-grpc; do
  if [[ ! -x "$tool" ]]; then
    echo "generate-clients: $tool not found; install the generators with scripts/setup-clients.sh generate" >&2
    exit 3
  fi
done
[[ -x "$BUF" ]] || { echo "generate-clients: $BUF not found; run npm ci" >&2; exit 1; }

mkdir -p "$OUT_ROOT"
OUT_ROOT="$(cd "$OUT_ROOT" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# protoc-gen-go{,-grpc} are found on PATH by buf (`local: protoc-gen-go`); make sure Debian's are.
(cd "$ROOT" && PATH="/usr/bin:$PATH" "$BUF" generate --template buf.gen.clients.yaml --output "$tmp")

py="$tmp/$PY_DIR"
for f in "$py"/v1/*.py "$py"/v1/*.pyi; do
  sed -i \
    -e 's/^from vectordb\.v1 import /from . import /' \
    -e "s/'vectordb\\.v1\\.\\([a-z0-9_]*_pb2\\)'/'$PY_PACKAGE.vectordb.v1.\\1'/" \
    "$f"
done
if grep -rn 'vectordb\.v1 import\|import vectordb' "$py"; then
  echo "generate-clients: an absolute vectordb import survived the rewrite (see above)" >&2
  exit 1
fi
printf '"""Generated from proto/vectordb by scripts/generate-clients.sh. DO NOT EDIT."""\n' >"$py/__init__.py"
printf '"""Messages and gRPC stubs of package vectordb.v1, generated from proto/vectordb/v1 by\nscripts/generate-clients.sh (protoc %s, grpc_python_plugin). DO NOT EDIT."""\n' \
  "$(/usr/bin/protoc --version | awk '{print $2}')" >"$py/v1/__init__.py"

for dir in "$GO_DIR" "$PY_DIR"; do
  mkdir -p "$(dirname "$OUT_ROOT/$dir")"
  rm -rf "$OUT_ROOT/$dir"
  mv "$tmp/$dir" "$OUT_ROOT/$dir"
done
echo "generate-clients: wrote $OUT_ROOT/$GO_DIR and $OUT_ROOT/$PY_DIR" >&2
