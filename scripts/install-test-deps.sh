#!/usr/bin/env bash
# Installs the Debian packages the end-to-end tests and the bench use as
# peers: mosquitto (the reference MQTT broker) and mosquitto-clients
# (mosquitto_pub, mosquitto_sub), and chromium, the headless browser that
# loads test/browser's page (nats.js and MQTT.js over WebSocket). Called by
# `make tools`.
#
# Nothing to do when they are on PATH already. Otherwise it needs root and
# apt-get; without them it says so and exits 0, and the tests that need
# the missing peer skip with that reason. Under CI (CI=true) a failed
# install is an error, so a CI machine never silently skips the MQTT
# interop tests or the browser test.
set -euo pipefail

# has reports whether command c is installed. mosquitto lives in /usr/sbin,
# which is not on every user's PATH.
has() {
	command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]
}

# missing lists the packages whose commands are not all installed.
missing() {
	local out=()
	for c in mosquitto mosquitto_pub mosquitto_sub; do
		if ! has "$c"; then
			out+=(mosquitto mosquitto-clients)
			break
		fi
	done
	has chromium || out+=(chromium)
	echo "${out[@]}"
}

read -r -a pkgs <<<"$(missing)"
if [ ${#pkgs[@]} = 0 ]; then
	exit 0
fi

fail() {
	echo "install-test-deps: $*" >&2
	if [ "${CI:-}" = "true" ]; then
		exit 1
	fi
	echo "install-test-deps: the tests that need ${pkgs[*]} will skip" >&2
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
read -r -a still <<<"$(missing)"
if [ ${#still[@]} != 0 ]; then
	fail "${pkgs[*]} installed, but the commands of ${still[*]} are still missing"
fi
