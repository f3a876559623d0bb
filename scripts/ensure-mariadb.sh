#!/usr/bin/env bash
# ensure-mariadb.sh: make sure mariadbd and mariadb-install-db (Debian's
# mariadb-server package) are installed, for the isolated servers that
# test/mariadb starts for tests, benchmarks and `make demo`.
#
# Installs with apt-get when they are missing (needs root), never starts the
# system service, and exits non-zero with a clear message when it can't.
# Uses the same lock file as mariadb.EnsureInstalled, so it is safe to run
# next to tests.
set -euo pipefail

LOCK=/tmp/mariadb-fixture-install.lock
POLICY=/usr/sbin/policy-rc.d
PATH="$PATH:/usr/sbin:/usr/local/sbin"

die() { echo "ensure-mariadb: $*" >&2; exit 1; }

have() { command -v mariadbd >/dev/null 2>&1 && command -v mariadb-install-db >/dev/null 2>&1; }

report() { echo "ensure-mariadb: $(mariadbd --version)"; }

if have; then report; exit 0; fi

[ "$(id -u)" -eq 0 ] || die "mariadbd is not installed and installing it needs root: run 'sudo $0'"
command -v apt-get >/dev/null 2>&1 || die "mariadbd is not installed and apt-get is not available: install MariaDB 10.11+ by hand"

# One installer at a time (parallel test packages, this script).
if command -v flock >/dev/null 2>&1; then
	exec 9>"$LOCK"
	flock 9
	if have; then report; exit 0; fi
fi

# Keep dpkg from starting the system service (it would take port 3306).
if [ ! -e "$POLICY" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$POLICY"
	chmod 755 "$POLICY"
	trap 'rm -f "$POLICY"' EXIT
fi

export DEBIAN_FRONTEND=noninteractive
echo "ensure-mariadb: installing mariadb-server with apt-get" >&2
apt-get update -qq || die "apt-get update failed"
apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 mariadb-server \
	|| die "apt-get install mariadb-server failed"

have || die "mariadb-server was installed but mariadbd or mariadb-install-db is still missing"
report
