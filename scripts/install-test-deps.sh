#!/usr/bin/env bash
# Installs the Debian packages the end-to-end tests and the bench use as
# MQTT peers: mosquitto (the reference broker) and mosquitto-clients
# (mosquitto_pub, mosquitto_sub). Called by `make tools`.
#
# Nothing to do when they are on PATH already. Otherwise it needs root and
# apt-get; without them it says so and exits 0, and the tests that need
# mosquitto skip with that reason. Under CI (CI=true) a failed install is
# an error, so a CI machine never silently skips the MQTT interop tests.
set -euo pipefail

pkgs=(mosquitto mosquitto-clients)
need() {
	# mosquitto lives in /usr/sbin, which is not on every user's PATH.
	for c in mosquitto mosquitto_pub mosquitto_sub; do
		command -v "$c" >/dev/null 2>&1 || [ -x "/usr/sbin/$c" ] || return 0
	done
	return 1
}

if ! need; then
	exit 0
fi

fail() {
	echo "install-test-deps: $*" >&2
	if [ "${CI:-}" = "true" ]; then
		exit 1
	fi
	echo "install-test-deps: MQTT interop tests that need mosquitto will skip" >&2
	exit 0
}

if [ "$(id -u)" != 0 ]; then
	fail "not root: cannot install ${pkgs[*]} (run 'sudo apt-get install ${pkgs[*]}')"
fi
if ! command -v apt-get >/dev/null 2>&1; then
	fail "no apt-get: install ${pkgs[*]} with this system's package manager"
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-test-deps: apt-get install ${pkgs[*]}"
# The package list may be missing or stale on a fresh machine: update once
# if the first try fails.
if ! apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null 2>&1; then
	apt-get update -qq || fail "apt-get update failed"
	apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null ||
		fail "apt-get install ${pkgs[*]} failed"
fi
if need; then
	fail "${pkgs[*]} installed, but mosquitto, mosquitto_pub or mosquitto_sub is still missing"
fi
