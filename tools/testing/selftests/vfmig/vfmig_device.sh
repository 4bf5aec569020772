#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# kselftest entry point (TEST_PROGS, run by `make -C tools/testing/selftests TARGETS=vfmig
# run_tests`): vfmig_device_test (VFIO through the type1 container and the iommufd cdev,
# config space, BAR0, DMA, reset, the MIGRATION feature) on the VF in VFMIG_BDF or else the
# first PCI function bound to vfmig. Without one it skips: exit 4 (KSFT_SKIP). Run as root.

ksft_skip=4
dir=$(dirname "$0")
bdf=${VFMIG_BDF:-}
if [ -z "$bdf" ]; then
	for d in /sys/bus/pci/drivers/vfmig/*:*:*.*; do
		[ -e "$d" ] || continue
		bdf=$(basename "$d")
		break
	done
fi
if [ -z "$bdf" ]; then
	echo "# SKIP: no PCI function bound to vfmig (modprobe vfmig; bind an igb VF: Documentation/vfmig/operation.rst)"
	exit $ksft_skip
fi
if [ ! -x "$dir/vfmig_device_test" ]; then
	echo "# vfmig_device_test not built next to $0"
	exit 1
fi
echo "# vfmig_device_test on $bdf"
VFMIG_BDF=$bdf exec "$dir/vfmig_device_test"
