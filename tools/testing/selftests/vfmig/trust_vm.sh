#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs suite_trust.sh alone in the test VM, as run_vm.sh sets it up (PF with 2 VFs, vfmig.ko
# installed and loaded, VFs unbound):
#   scripts/vm --name adv --igb 2 --out /tmp/adv-vm -- tools/testing/selftests/vfmig/trust_vm.sh
# With the argument "fault" only vfmig_hostile_test's precopy_read_fault runs (on an unfixed
# module it ends the guest with a kernel BUG); with "quick" everything but that one.

. "$(dirname "$0")/lib.sh"

vm_two_vfs_vfmig
bin=${VFMIG_SELFTESTS:-$VFMIG_ROOT/build/selftests}
case "${1:-}" in
fault)
	rmmod vfmig
	modprobe vfmig
	pci_bind "$vf0" vfmig && pci_bind "$vf1" vfmig
	VFMIG_BDF=$vf0 VFMIG_BDF2=$vf1 VFMIG_PF_IF=$(pf_netdev "$pf") \
		run_kselftest trust_fault "$bin/vfmig_hostile_test" -r host.precopy_read_fault
	tap_check trust.fault_passed test $? -eq 0
	pci_unbind "$vf0"
	pci_unbind "$vf1"
	;;
quick)
	VFMIG_TRUST_NO_FAULT=1
	. "$(dirname "$0")/suite_trust.sh"
	;;
*)
	. "$(dirname "$0")/suite_trust.sh"
	;;
esac
fails=$(grep -c '^not ok' "$VFMIG_OUT/results")
passes=$(grep -c '^ok' "$VFMIG_OUT/results")
echo "# guest: $passes passed, $fails failed"
[ "$fails" = 0 ]
