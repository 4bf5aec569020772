# SPDX-License-Identifier: GPL-2.0
# Sourced by run_vm.sh with $pf $vf0 $vf1 set, vfmig loaded and the VFs unbound.
# Restore into a VF of another PF (the VM has a second igb PF: scripts/vm --igb 2): reloads vfmig
# with migration on (the default), gives the second PF one VF, and runs vfmig_migration_test's
# save_restore_traffic and precopy_transfer with VF1 = that VF: the target's PF learns the
# guest's MAC through the target's mailbox, and the traffic continues through the target PF's
# switch (VFMIG_PF2_IF). Skipped without a second PF. Leaves the VFs unbound, their MACs
# unassigned, the second PF without VFs and vfmig loaded without the parameter.

xpf_bin=${VFMIG_SELFTESTS:-$VFMIG_ROOT/build/selftests}
xpf_setup() { setup_pf 1 "$1" >/dev/null; }
xpf_pf2=$(find_pfs | sed -n 2p)

if [ -z "$xpf_pf2" ]; then
	tap_result skip crosspf.suite "one igb PF only (scripts/vm --igb 2 gives a second)"
elif ! tap_check crosspf.setup_pf2 xpf_setup "$xpf_pf2"; then
	:
else
	xpf_vf=$(vf_bdf "$xpf_pf2" 0)
	xpf_if=$(pf_netdev "$pf")
	xpf_if2=$(pf_netdev "$xpf_pf2")
	diag "PF2 $xpf_pf2 ($xpf_if2), its VF0 $xpf_vf"
	rmmod vfmig
	if tap_check crosspf.modprobe modprobe vfmig &&
		tap_check crosspf.vf0_to_vfmig pci_bind "$vf0" vfmig &&
		tap_check crosspf.pf2_vf0_to_vfmig pci_bind "$xpf_vf" vfmig; then
		ip link set "$xpf_if" vf 0 mac 00:00:00:00:00:00
		ip link set "$xpf_if2" vf 0 mac 00:00:00:00:00:00
		VFMIG_BDF=$vf0 VFMIG_BDF2=$xpf_vf VFMIG_PF_IF=$xpf_if VFMIG_PF2_IF=$xpf_if2 \
			run_kselftest crosspf "$xpf_bin/vfmig_migration_test" \
			-r mig.save_restore_traffic -r mig.precopy_transfer -r mig.precopy_arming_redone \
			-r mig.mailbox_requests_replayed
		tap_check crosspf.test_program_passed test $? -eq 0
		ip link set "$xpf_if2" vf 0 mac 00:00:00:00:00:00
	fi
	pci_unbind "$vf0"
	pci_unbind "$xpf_vf"
	echo 0 >"/sys/bus/pci/devices/$xpf_pf2/sriov_numvfs"
	rmmod vfmig
	tap_check crosspf.modprobe_default modprobe vfmig
	tap_check crosspf.vfs_unbound test -z "$(pci_driver_of "$vf0")" -a -z "$(pci_driver_of "$xpf_vf")"
fi
unset xpf_bin xpf_pf2 xpf_vf xpf_if xpf_if2
unset -f xpf_setup
