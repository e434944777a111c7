#!/bin/sh
# Installs the Debian packages that building and testing mhook need, but only those that
# are missing, so that `make demo` and `make check` work on a fresh Debian 12 machine and
# cost nothing on a prepared one. Runs apt-get through sudo when not root.
set -e

PKGS="gcc g++ make binutils libc6-dev passwd libzydis-dev libelf-dev libjson-c-dev pkg-config
libseccomp-dev
clang libclang-rt-14-dev
python3 python3-pytest python3-pytest-timeout
sqlite3 ltrace strace gdb valgrind procps util-linux
gcc-aarch64-linux-gnu libc6-dev-arm64-cross gcc-arm-linux-gnueabihf libc6-dev-armhf-cross
qemu-user"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "mhook: installing missing packages:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
