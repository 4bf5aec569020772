#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make demo, inside the test VM (scripts/demo): what a host operator does and sees. The test VM
# stands for the host; its igb PF (QEMU's 82576 model) has VFs; the host's QEMU, run here, is
# the VMM of a small guest whose own igbvf driver uses a VF. Steps: create the VFs, install and
# load vfmig, bind two VFs to it, start the guest on VF0, migrate it live to VF1 while the host
# pings it every 100 ms, then show the gap the guest saw and vfmig's counters.

. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/e2e_lib.sh"
say() { printf '\n== %s\n' "$*"; }
indent() { sed 's/^/   /'; }

say "1. The host's SR-IOV NIC: an igb PF with two VFs"
pf=$(setup_pf 2) || exit 1
vf0=$(vf_bdf "$pf" 0)
vf1=$(vf_bdf "$pf" 1)
echo "   echo 2 > /sys/bus/pci/devices/$pf/sriov_numvfs"
echo "   PF $pf ($(pf_netdev "$pf")), VF0 $vf0, VF1 $vf1"

say "2. Install vfmig and load it"
install_vfmig && modprobe vfmig || exit 1
modinfo vfmig | grep -E "^(filename|alias|description)" | indent
dmesg | grep "vfmig: registered" | tail -n1 | indent

say "3. Give both VFs to vfmig (as driverctl or libvirt would: driver_override, then probe)"
tap_check() { shift; "$@"; }	# e2e_setup reports through this; quiet in the demo
e2e_setup >/dev/null || exit 1
for vf in $vf0 $vf1; do
	echo "   $vf -> $(pci_driver_of "$vf"), IOMMU group" \
		"$(basename "$(readlink "/sys/bus/pci/devices/$vf/iommu_group")")"
done
echo "   the host's end of the guest's network: $pfif at $pf_addr"

say "4. Start the guest on VF0, then 5. migrate it live to VF1 under traffic"
echo "   the VMM: qemu-system-x86_64 ... -device vfio-pci,host=$vf0 (unmodified QEMU 10)"
echo "   the guest: the stock igbvf driver, address $guest_addr, answering pings every 100 ms"
echo "   the migration: QMP migrate to a second QEMU started with -incoming on VF1"
python3 "$e2e_dir/vfmig_e2e.py" --work "$work/demo" --kernel "$VFMIG_KDIR/arch/x86/boot/bzImage" \
	--initrd "$work/initrd.cpio" --guest-addr "$guest_addr" --vf "$vf0" --vf "$vf1" \
	--expect-device-logging yes --after 15 --max-outage 20 --min-answered 0.2 \
	>"$work/demo.log" 2>&1
rc=$?
grep -E '^(ok|not ok) ' "$work/demo.log" | sed 's/^/   check: /'

say "6. What the guest saw"
sed -n 's/^# e2e: m1: /   /p' "$work/demo.log" | tr ';' '\n' | sed 's/^ */   /'

say "7. vfmig's counters for VF1, the target (debugfs)"
grep -E "^(migration_state|restores|restores_armed|restore_ns|arm_ns|bytes_restored|trapped_)" \
	"/sys/kernel/debug/vfio/$vf1/vfmig/state" | indent
echo "   (VF0's DMA logging answered QEMU's dirty-page reports during the migration: the"
echo "    device_dirty_logging check above counts them; the logging ends with the migration)"

e2e_teardown
rmmod vfmig
say "demo $([ $rc = 0 ] && echo done || echo "FAILED: see build/demo/e2e/demo.log")"
exit $rc
