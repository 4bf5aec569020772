# SPDX-License-Identifier: GPL-2.0
# Sourced by run_vm.sh with $pf $vf0 $vf1 set, vfmig loaded and the VFs unbound.
# VF0 on vfmig carries traffic to and from the PF netdev, driven by the userspace VF driver
# (vf82576.c) through VFIO; with VF1 on vfmig too, both VF groups share one container (VF->VF
# traffic, rings moved from VF0 to VF1). Leaves the VFs unbound and their MACs unassigned.

traffic_bin=${VFMIG_SELFTESTS:-$VFMIG_ROOT/build/selftests}
traffic_if=$(pf_netdev "$pf")
traffic_mac=02:76:66:6d:00:10

if [ ! -x "$traffic_bin/vfmig_traffic_test" ]; then
	tap_fail traffic.test_program_passed "$traffic_bin/vfmig_traffic_test not built"
elif ! tap_check traffic.vf0_to_vfmig pci_bind "$vf0" vfmig; then
	:
else
	# The administrator assigns the MAC, as a VMM's management layer does; the VF's reset
	# handshake must return it.
	tap_check traffic.set_vf0_mac ip link set "$traffic_if" vf 0 mac "$traffic_mac"
	traffic_bdf2=
	tap_check traffic.vf1_to_vfmig pci_bind "$vf1" vfmig && traffic_bdf2=$vf1
	VFMIG_BDF=$vf0 VFMIG_PF_IF=$traffic_if VFMIG_VF_MAC=$traffic_mac VFMIG_BDF2=$traffic_bdf2 \
		run_kselftest traffic "$traffic_bin/vfmig_traffic_test"
	tap_check traffic.test_program_passed test $? -eq 0
	pci_unbind "$vf1"
	ip link set "$traffic_if" vf 1 mac 00:00:00:00:00:00

	# No MAC assigned: the PF NACKs the reset and the VF sets its own MAC through the mailbox.
	ip link set "$traffic_if" vf 0 mac 00:00:00:00:00:00
	VFMIG_BDF=$vf0 VFMIG_PF_IF=$traffic_if \
		run_kselftest traffic_nomac "$traffic_bin/vfmig_traffic_test" -r vf.mailbox_reset_mac -r vf.pf_to_vf
	tap_check traffic.nomac_test_program_passed test $? -eq 0
	ip link set "$traffic_if" vf 0 mac 00:00:00:00:00:00
	pci_unbind "$vf0"
	tap_check traffic.vfs_unbound test -z "$(pci_driver_of "$vf0")" -a -z "$(pci_driver_of "$vf1")"
fi
unset traffic_bin traffic_if traffic_mac traffic_bdf2
