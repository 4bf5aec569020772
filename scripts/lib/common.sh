# SPDX-License-Identifier: GPL-2.0
# Shared settings for vfmig's scripts. Source it; do not execute it.

VFMIG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VFMIG_CACHE=${VFMIG_CACHE:-$HOME/.cache/vfmig}
VFMIG_KERNEL_VARIANT=${VFMIG_KERNEL_VARIANT:-base}
VFMIG_LLVM=${VFMIG_LLVM:--19}
VFMIG_KSRC_TAR=${VFMIG_KSRC_TAR:-/usr/src/linux-source-7.3.tar.xz}
VFMIG_KSRC=$VFMIG_CACHE/src/linux-source-7.3
VFMIG_KBUILD=$VFMIG_CACHE/build/$VFMIG_KERNEL_VARIANT

# Exactly the library source of the rustc in use (Debian's rust-src, see scripts/setup).
vfmig_rust_lib_src() {
	local v
	v=$(rustc --version | awk '{print $2}')
	echo "/usr/src/rustc-$v/library"
}

export PATH="$HOME/.cargo/bin:$PATH"

vfmig_log() { printf '%s: %s\n' "${VFMIG_PROG:-vfmig}" "$*" >&2; }
vfmig_die() { printf '%s: error: %s\n' "${VFMIG_PROG:-vfmig}" "$*" >&2; exit 1; }
