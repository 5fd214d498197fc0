#!/usr/bin/env bash
# Container smoke test: build the image with podman, run it, wait for its HEALTHCHECK to pass,
# list the gRPC methods through reflection, stop it with SIGTERM and require exit code 0.
#
# Usage: scripts/container-smoke.sh [--cold] [--rm-image]
#   --cold        build with --no-cache (measures a cold build; the base image is reused)
#   --rm-image    delete the built image at the end (default: keep it for reuse)
# Env:
#   VECTORDB_IMAGE       tag to build (default localhost/vectordb:smoke)
#   VECTORDB_SMOKE_PORT  first port to try (default 50599; the next free one is used)
#   HEALTH_TIMEOUT_S     how long to wait for healthy (default 60)
#   STOP_TIMEOUT_S       podman stop -t (default 30; the server drains for up to 10 s)
#   SKIP_REFLECTION=1    skip the `buf curl --list-methods` step
#   NPM_INSTALL          passed as --build-arg NPM_INSTALL=... (default: the Dockerfile's `npm ci`;
#                        "npm install --no-save" when the lockfile lacks other platforms' optional deps)
#
# Host prerequisites (podman, runc, config, base image) come from scripts/container-base-image.sh,
# which this script runs first (it is idempotent and quick once done).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMAGE="${VECTORDB_IMAGE:-localhost/vectordb:smoke}"
PORT="${VECTORDB_SMOKE_PORT:-50599}"
HEALTH_TIMEOUT_S="${HEALTH_TIMEOUT_S:-60}"
STOP_TIMEOUT_S="${STOP_TIMEOUT_S:-30}"
NAME="vectordb-smoke-$$"
VOLUME="vectordb-smoke-data-$$"
COLD=0
RM_IMAGE=0
for arg in "$@"; do
  case "$arg" in
    --cold) COLD=1 ;;
    --rm-image) RM_IMAGE=1 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

log() { printf '[container-smoke] %s\n' "$*" >&2; }
run() { log "+ $*"; "$@"; }
die() { log "FAILED: $*"; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

started=0
cleanup() {
  local rc=$?
  if ((started)); then
    if ((rc != 0)); then
      log "container logs (last 40 lines):"
      podman logs --tail 40 "$NAME" >&2 2>&1 || true
    fi
    log "cleanup: removing container $NAME and volume $VOLUME"
    podman rm --force --volumes "$NAME" >/dev/null 2>&1 || true
  fi
  podman volume rm --force "$VOLUME" >/dev/null 2>&1 || true
  if ((RM_IMAGE)); then
    log "cleanup: removing image $IMAGE"
    podman rmi --force "$IMAGE" >/dev/null 2>&1 || true
  fi
  exit "$rc"
}
trap cleanup EXIT

port_in_use() { ss -Htln "sport = :$1" | grep -q .; }

# ---------------------------------------------------------------------------
log "1/6 host prerequisites and base image"
run "$ROOT/scripts/container-base-image.sh"

# ---------------------------------------------------------------------------
log "2/6 build $IMAGE"
build_flags=(--format docker --pull=never --network=host -t "$IMAGE")
((COLD)) && build_flags+=(--no-cache)
[[ -n "${NPM_INSTALL:-}" ]] && build_flags+=(--build-arg "NPM_INSTALL=$NPM_INSTALL")
t_build0=$(now)
build_log="$(mktemp /tmp/vectordb-smoke-build.XXXXXX)"
if ! run podman build "${build_flags[@]}" "$ROOT" 2>&1 | tee "$build_log" >&2; then
  if grep -q 'can only install packages when your package.json and package-lock.json' "$build_log"; then
    log "hint: package-lock.json is not accepted by 'npm ci' (see the 'Missing: ... from lock file' lines);" \
      "fix the lockfile, or re-run with NPM_INSTALL=\"npm install --no-save\" (same locked versions, no check)"
  fi
  rm -f "$build_log"
  die "podman build failed"
fi
rm -f "$build_log"
t_build1=$(now)
build_s=$(elapsed "$t_build0" "$t_build1")
size_bytes=$(podman image inspect --format '{{.Size}}' "$IMAGE")
size_mb=$(awk -v b="$size_bytes" 'BEGIN { printf "%.0f", b / 1000 / 1000 }')
log "built $IMAGE in ${build_s}s ($( ((COLD)) && echo cold || echo cached)), size ${size_mb} MB"
run podman image inspect --format 'user={{.Config.User}} entrypoint={{.Config.Entrypoint}} cmd={{.Config.Cmd}} volumes={{.Config.Volumes}} healthcheck={{.Config.Healthcheck.Test}}' "$IMAGE"

# ---------------------------------------------------------------------------
while port_in_use "$PORT"; do
  log "port $PORT is in use, trying $((PORT + 1))"
  PORT=$((PORT + 1))
done
log "3/6 run $NAME on 127.0.0.1:$PORT (--network=host)"
[[ -S /run/systemd/private ]] || log "(no systemd here: podman logs 'unable to get systemd connection' for the" \
  "healthcheck timer; harmless, this script runs the check itself with 'podman healthcheck run')"
t_run0=$(now)
run podman run -d --name "$NAME" --network=host --pull=never \
  -e VECTORDB_PORT="$PORT" -e VECTORDB_LOG_LEVEL=info \
  -v "$VOLUME:/data" "$IMAGE" >/dev/null
started=1

# ---------------------------------------------------------------------------
log "4/6 wait for the HEALTHCHECK (podman healthcheck run) to pass, up to ${HEALTH_TIMEOUT_S}s"
deadline=$((SECONDS + HEALTH_TIMEOUT_S))
attempts=0
while :; do
  state=$(podman inspect --format '{{.State.Status}}' "$NAME")
  [[ "$state" == running ]] || die "container is $state before becoming healthy"
  attempts=$((attempts + 1))
  if health_out=$(podman healthcheck run "$NAME" 2>&1); then
    break
  fi
  ((SECONDS < deadline)) || die "not healthy after ${HEALTH_TIMEOUT_S}s: $health_out"
  sleep 0.5
done
t_healthy=$(now)
healthy_s=$(elapsed "$t_run0" "$t_healthy")
log "healthy ${healthy_s}s after podman run (${attempts} attempt(s)): ${health_out:-healthy}"
log "the health subcommand itself, inside the container:"
run podman exec "$NAME" node dist/src/cli/main.js health --address "127.0.0.1:$PORT"

# Container facts worth checking once: non-root user, tini as PID 1, /data writable.
uid=$(podman exec "$NAME" id -u)
pid1=$(podman exec "$NAME" cat /proc/1/comm)
log "uid=$uid pid1=$pid1"
[[ "$uid" != 0 ]] || die "server runs as root"
[[ "$pid1" == tini ]] || die "PID 1 is $pid1, expected tini"
run podman exec "$NAME" sh -c 'touch /data/.smoke-probe && rm /data/.smoke-probe' \
  || die "/data is not writable by uid $uid"

# ---------------------------------------------------------------------------
if [[ "${SKIP_REFLECTION:-0}" == 1 ]]; then
  log "5/6 reflection: skipped (SKIP_REFLECTION=1)"
elif (cd "$ROOT" && npx --no-install buf --version >/dev/null 2>&1); then
  log "5/6 reflection: buf curl --list-methods"
  methods=$(cd "$ROOT" && run npx --no-install buf curl --protocol grpc --http2-prior-knowledge \
    "http://127.0.0.1:$PORT" --list-methods) || die "buf curl --list-methods failed"
  printf '%s\n' "$methods" | sed 's/^/    /' >&2
  [[ -n "$methods" ]] || die "reflection listed no methods"
else
  log "5/6 reflection: skipped (buf not installed; run npm ci first)"
fi

# ---------------------------------------------------------------------------
log "6/6 podman stop -t $STOP_TIMEOUT_S (SIGTERM; SIGKILL only after ${STOP_TIMEOUT_S}s)"
t_stop0=$(now)
run podman stop -t "$STOP_TIMEOUT_S" "$NAME" >/dev/null
t_stop1=$(now)
stop_s=$(elapsed "$t_stop0" "$t_stop1")
exit_code=$(podman inspect --format '{{.State.ExitCode}}' "$NAME")
log "last log lines:"
podman logs --tail 5 "$NAME" 2>&1 | sed 's/^/    /' >&2
log "stopped in ${stop_s}s, exit code $exit_code"
[[ "$exit_code" == 0 ]] || die "exit code after SIGTERM is $exit_code, expected 0 (137 = killed after the stop timeout)"

cat >&2 <<EOF
[container-smoke] PASS
  image            $IMAGE (${size_mb} MB)
  build            ${build_s}s ($( ((COLD)) && echo "cold, --no-cache" || echo "layer cache allowed"))
  run -> healthy   ${healthy_s}s
  SIGTERM -> exit  ${stop_s}s, exit code ${exit_code}
EOF
