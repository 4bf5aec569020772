# SPDX-License-Identifier: GPL-2.0
# Sourced by run_vm.sh with $pf $vf0 $vf1 set, vfmig loaded and the VFs unbound.
# DMA dirty-page logging (VFIO_DEVICE_FEATURE_DMA_LOGGING_*): reloads vfmig with
# migration=1 (which also traps all of BAR0: no mmap, every access through
# pread/pwrite), binds VF0, assigns it an administrative MAC and runs vfmig_dirty_test: randomized
# rounds of Rx traffic into buffers all over a 64 MiB area checked against the REPORTs (no false
# negatives; false positives counted), range and page-size checks, PROBE, BAR0 fully trapped
# (VFMIG_EXPECT_TRAP=1: no mmap flag, no sparse mmap capability, mmap EINVAL), and START
# refused through iommufd. VFMIG_SEED / VFMIG_DIRTY_ROUNDS pass through from the
# environment. Reloads vfmig without the parameter; leaves the VFs unbound and their MACs
# unassigned.

dirty_bin=${VFMIG_SELFTESTS:-$VFMIG_ROOT/build/selftests}
dirty_if=$(pf_netdev "$pf")
dirty_mac=02:76:66:6d:06:10

rmmod vfmig
if ! tap_check dirty.modprobe modprobe vfmig; then
	modprobe vfmig
else
	if [ ! -x "$dirty_bin/vfmig_dirty_test" ]; then
		tap_fail dirty.test_program_passed "$dirty_bin/vfmig_dirty_test not built"
	elif tap_check dirty.vf0_to_vfmig pci_bind "$vf0" vfmig; then
		# The administrator assigns the MAC, as a VMM's management layer does; the VF's reset
		# handshake returns it and the PF side sends the test's frames to it.
		tap_check dirty.set_vf0_mac ip link set "$dirty_if" vf 0 mac "$dirty_mac"
		VFMIG_BDF=$vf0 VFMIG_PF_IF=$dirty_if VFMIG_VF_MAC=$dirty_mac VFMIG_EXPECT_TRAP=1 \
			run_kselftest dirty "$dirty_bin/vfmig_dirty_test"
		tap_check dirty.test_program_passed test $? -eq 0
		ip link set "$dirty_if" vf 0 mac 00:00:00:00:00:00
	fi
	pci_unbind "$vf0"
	rmmod vfmig
	tap_check dirty.modprobe_default modprobe vfmig
fi
tap_check dirty.vfs_unbound test -z "$(pci_driver_of "$vf0")" -a -z "$(pci_driver_of "$vf1")"
unset dirty_bin dirty_if dirty_mac
