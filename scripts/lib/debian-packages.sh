# Shared by the setup scripts (source it; it defines functions and runs nothing):
#   ensure_debian_packages PACKAGE...
# installs the Debian packages that are not installed yet, with apt-get as root, and returns at once
# (one dpkg-query per package, no apt-get) when they all are. It never fails half-way silently: when a
# package is missing and cannot be installed here (no apt-get, not root, apt-get failed) it prints why
# and the command to run by hand, and exits the calling script with status 3, which the tests read as
# "this machine cannot have the toolchain" (a skip, except under CI=true).
#
# The caller sets SETUP_NAME (the prefix of its log lines) before sourcing.

setup_log() { printf '%s: %s\n' "${SETUP_NAME:-setup}" "$*" >&2; }

# Exit 3 with a reason and the manual install command for the given packages.
setup_cannot_install() {
  local reason="$1"; shift
  setup_log "CANNOT INSTALL: $reason"
  (($#)) && setup_log "install by hand (as root): apt-get install $*"
  exit 3
}

# Sets the array `missing` to those of the given packages that dpkg does not list as installed.
_find_missing_packages() {
  local p
  missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
}

ensure_debian_packages() {
  local missing
  _find_missing_packages "$@"
  ((${#missing[@]})) || return 0

  setup_log "missing Debian packages: ${missing[*]}"
  command -v apt-get >/dev/null 2>&1 || setup_cannot_install "apt-get not found (not a Debian-based system?)" "$@"
  [[ "$(id -u)" == 0 ]] || setup_cannot_install "not running as root, cannot apt-get install" "$@"
  # Test files run in parallel and each may call a setup script: one apt-get at a time (the lock is
  # released when this script exits), and look again once we hold it, since another may have installed
  # the packages meanwhile. At most 10 minutes of waiting.
  local lock_fd
  exec {lock_fd}>"${TMPDIR:-/tmp}/vectordb-setup-apt.lock"
  flock -w 600 "$lock_fd" || setup_cannot_install "waited 600 s for another setup script's apt-get" "$@"
  _find_missing_packages "$@"
  ((${#missing[@]})) || return 0
  # Wait for a concurrent apt/dpkg (another setup script, another test file) instead of failing on the lock.
  local apt_opts=(-o DPkg::Lock::Timeout=300 -o Acquire::Retries=3)
  # An install from a stale (or, on a fresh machine, empty) package list fails; update first.
  setup_log "apt-get update"
  apt-get "${apt_opts[@]}" update -qq >&2 || setup_cannot_install "apt-get update failed" "$@"
  setup_log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends \
    "${missing[@]}" >&2 || setup_cannot_install "apt-get install failed" "$@"
}

# Exit 3 unless every given path is an executable file (a package is installed but broken).
require_executables() {
  local f
  for f in "$@"; do
    [[ -x "$f" ]] || setup_cannot_install "$f is missing although its package is installed (reinstall it)"
  done
}
