#!/usr/bin/env bash
# Prepare this host to build and run the vectordb container image with podman,
# and build the local Node 20 base image the Dockerfile's FROM refers to.
#
# Why: there is no Docker engine and no image registry here (DESIGN.md §6).
# Debian's podman + runc builds and runs the Dockerfile, and the base image is
# made locally: debootstrap --variant=minbase bookworm -> podman import, with
# the host's Node 20 binary and its npm copied in (Debian bookworm ships
# Node 18, which is too old; the nodesource apt repo is not reachable).
#
# Idempotent: re-running installs nothing that is already installed, rewrites
# the same podman config, and skips the image build when the tag exists.
#
# Usage: scripts/container-base-image.sh [--force]
#   --force        rebuild the base image even if the tag already exists
# Env:
#   VECTORDB_BASE_IMAGE  tag to produce (default localhost/vectordb-node:20-bookworm;
#                        must match the Dockerfile's NODE_BASE:NODE_TAG build args)
#   DEBIAN_MIRROR        mirror for debootstrap (default http://deb.debian.org/debian)
#   NODE_BIN             node binary to copy in (default: $(command -v node))
#   EXTRA_CA_DIR         *.crt files to add to the image's trust store (default
#                        /usr/local/share/ca-certificates, i.e. mirror the host's
#                        local CAs; set to "" to skip). Needed where egress goes
#                        through a TLS-intercepting proxy: without it `npm ci`
#                        inside the build fails with SELF_SIGNED_CERT_IN_CHAIN.
set -euo pipefail

BASE_IMAGE="${VECTORDB_BASE_IMAGE:-localhost/vectordb-node:20-bookworm}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE=bookworm
FORCE=0
[[ "${1:-}" == "--force" ]] && FORCE=1

log() { printf '[container-base-image] %s\n' "$*" >&2; }
run() { log "+ $*"; "$@"; }
die() { log "ERROR: $*"; exit 1; }

[[ "$(id -u)" == 0 ]] || die "must run as root (apt-get, debootstrap and rootful podman)"

# ---------------------------------------------------------------------------
# 1. Host packages
# ---------------------------------------------------------------------------
PKGS=(podman runc debootstrap)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing host packages: ${missing[*]}"
  run apt-get update
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
else
  log "host packages already installed: ${PKGS[*]}"
fi

# ---------------------------------------------------------------------------
# 2. Podman configuration (DESIGN.md §6): runc, cgroupfs (no systemd here),
#    nofile/nproc ulimits no higher than this shell's hard limits (podman's
#    rootful defaults of 1048576/4194304 fail with "error setting rlimit ...:
#    operation not permitted" when the hard limit is lower), file event log.
#    --network=host / --pull=never / --format docker are passed as flags by
#    scripts/container-smoke.sh rather than configured globally.
# ---------------------------------------------------------------------------
hard_nofile="$(ulimit -Hn)"
[[ "$hard_nofile" == unlimited ]] && hard_nofile=1048576
hard_nproc="$(ulimit -Hu)"
[[ "$hard_nproc" == unlimited ]] && hard_nproc=4194304
# podman's own process ends up with nproc capped at kernel.pid_max (32768 here),
# so a higher value makes runc fail "error setting rlimit type 6" (RLIMIT_NPROC).
pid_max="$(cat /proc/sys/kernel/pid_max)"
((hard_nproc > pid_max)) && hard_nproc=$pid_max
CONF_DIR=/etc/containers/containers.conf.d
CONF_FILE="$CONF_DIR/50-vectordb.conf"
desired_conf="# Written by scripts/container-base-image.sh (vectordb). Safe to delete.
[containers]
default_ulimits = [\"nofile=${hard_nofile}:${hard_nofile}\", \"nproc=${hard_nproc}:${hard_nproc}\"]

[engine]
cgroup_manager = \"cgroupfs\"
runtime = \"runc\"
events_logger = \"file\"
"
if [[ -f "$CONF_FILE" ]] && [[ "$(cat "$CONF_FILE")" == "$(printf '%s' "$desired_conf")" ]]; then
  log "podman config up to date: $CONF_FILE"
else
  log "writing podman config: $CONF_FILE"
  mkdir -p "$CONF_DIR"
  printf '%s' "$desired_conf" >"$CONF_FILE"
fi
log "podman $(podman --version | awk '{print $3}'): runtime=$(podman info --format '{{.Host.OCIRuntime.Name}}')" \
    "cgroups=$(podman info --format '{{.Host.CgroupManager}}') storage=$(podman info --format '{{.Store.GraphDriverName}}')"

# ---------------------------------------------------------------------------
# 3. Base image
# ---------------------------------------------------------------------------
if [[ $FORCE == 0 ]] && podman image exists "$BASE_IMAGE"; then
  log "base image $BASE_IMAGE already exists (use --force to rebuild)"
  podman image ls --format '{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}' "$BASE_IMAGE" >&2
  exit 0
fi

NODE_BIN="$(readlink -f "${NODE_BIN:-$(command -v node)}")"
[[ -x "$NODE_BIN" ]] || die "node binary not found"
NODE_VERSION="$("$NODE_BIN" --version)"
[[ "$NODE_VERSION" == v20.* ]] || die "host node is $NODE_VERSION, need v20.x (set NODE_BIN)"
# npm lives next to node's prefix: <prefix>/bin/node -> <prefix>/lib/node_modules/npm
NODE_PREFIX="$(dirname "$(dirname "$NODE_BIN")")"
NPM_DIR="$NODE_PREFIX/lib/node_modules/npm"
[[ -f "$NPM_DIR/bin/npm-cli.js" ]] || die "npm not found at $NPM_DIR"
log "node $NODE_VERSION from $NODE_BIN, npm $("$NODE_BIN" "$NPM_DIR/bin/npm-cli.js" --version) from $NPM_DIR"

t0=$SECONDS
WORK="$(mktemp -d /var/tmp/vectordb-rootfs.XXXXXX)"
cleanup() { log "removing $WORK"; rm -rf --one-file-system "$WORK"; }
trap cleanup EXIT
ROOTFS="$WORK/rootfs"

log "debootstrap --variant=minbase $SUITE -> $ROOTFS (about a minute)"
run debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$ROOTFS" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
  || { tail -n 30 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }

# apt sources like the official debian:bookworm image (main + updates + security)
cat >"$ROOTFS/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb http://deb.debian.org/debian-security $SUITE-security main
EOF

# Trust store: Debian's ca-certificates plus the host's local CAs (see EXTRA_CA_DIR).
extra_env=()
EXTRA_CA_DIR="${EXTRA_CA_DIR-/usr/local/share/ca-certificates}"
shopt -s nullglob
extra_cas=()
[[ -n "$EXTRA_CA_DIR" ]] && extra_cas=("$EXTRA_CA_DIR"/*.crt)
shopt -u nullglob
if ((${#extra_cas[@]})); then
  log "adding ${#extra_cas[@]} local CA(s) from $EXTRA_CA_DIR to the image trust store"
  install -m 0644 "${extra_cas[@]}" "$ROOTFS/usr/local/share/ca-certificates/"
  run chroot "$ROOTFS" update-ca-certificates >/dev/null
  # node uses its bundled roots unless told otherwise
  extra_env=(--change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt')
fi

log "adding node $NODE_VERSION + npm under /usr/local (like the official node image)"
install -D -m 0755 "$NODE_BIN" "$ROOTFS/usr/local/bin/node"
mkdir -p "$ROOTFS/usr/local/lib/node_modules"
cp -a "$NPM_DIR" "$ROOTFS/usr/local/lib/node_modules/npm"
rm -rf "$ROOTFS/usr/local/lib/node_modules/npm/docs" "$ROOTFS/usr/local/lib/node_modules/npm/man"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$ROOTFS/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$ROOTFS/usr/local/bin/npx"

# node needs libstdc++6/libgcc-s1/libc6, all part of minbase (apt depends on them).
# Check every library node links against resolves inside the rootfs.
log "checking node's shared libraries resolve inside the rootfs"
run chroot "$ROOTFS" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin /usr/local/bin/node --version
run chroot "$ROOTFS" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin /usr/local/bin/npm --version

# Slim down: no apt lists / package cache / docs / logs in the image.
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin \
       "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/log/*.log \
       "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/*
# Keep `apt-get install` in derived images lean, as the official images do.
cat >"$ROOTFS/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
cat >"$ROOTFS/etc/dpkg/dpkg.cfg.d/docker-excludes" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
EOF
: >"$ROOTFS/etc/hostname"
: >"$ROOTFS/etc/machine-id"

if podman image exists "$BASE_IMAGE"; then
  run podman rmi --force "$BASE_IMAGE" >/dev/null || true
fi
log "podman import -> $BASE_IMAGE"
tar --numeric-owner --xattrs -C "$ROOTFS" -c . \
  | podman import \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change "ENV NODE_VERSION=${NODE_VERSION#v}" \
      --change 'ENV NPM_CONFIG_UPDATE_NOTIFIER=false' \
      --change 'CMD ["node"]' \
      "${extra_env[@]}" \
      --message "debootstrap minbase $SUITE + node $NODE_VERSION (scripts/container-base-image.sh)" \
      - "$BASE_IMAGE" >/dev/null

# A broken image must not survive: the next run would skip it as "exists".
discard() { log "ERROR: $1; removing $BASE_IMAGE"; podman rmi --force "$BASE_IMAGE" >/dev/null || true; exit 1; }
log "smoke-testing the base image"
run podman run --rm --network=host --pull=never "$BASE_IMAGE" node -e 'console.log("node", process.version, "ok")' \
  || discard "node does not run in the image (check the podman config above)"
log "checking the npm registry is reachable from a container (TLS trust)"
run podman run --rm --network=host --pull=never "$BASE_IMAGE" npm view is-number version \
  || discard "npm cannot reach the registry from a container (proxy CA? see EXTRA_CA_DIR)"
podman image ls --format '{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}' "$BASE_IMAGE" >&2
log "base image ready in $((SECONDS - t0))s"
