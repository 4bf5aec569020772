# SPDX-License-Identifier: GPL-2.0
# Sourced by run_vm.sh with $pf $vf0 $vf1 set, vfmig loaded and the VFs unbound.
# Regression tests for the defects of the Nov 2026 code review (one test per defect, each
# asserting the fixed behaviour): reloads vfmig with migration on (the default), binds VF0 and VF1
# and runs
#   vfmig_trust_test       administrator settings (trust, spoofchk, vlan/qos, max_tx_rate) are
#                          compared, never applied from the stream; the guest's mailbox requests
#                          are recorded only when the PF ACKed them;
#   vfmig_dirty_arcs_test  pages written after vfmig's own unquiesce are reported; PROBE of
#                          DMA_LOGGING_START through iommufd fails as START does;
#   vfmig_hostile_test     PRECOPY_INFO at the end of the initial data, failed arcs keeping the
#                          last good state, hostile streams and writers;
# then reloads it with pf_mismatch_warn=1 for vfmig_trust_test's warn case, and last, with
# migration=1 again, the data-fd read that fails across PRE_COPY_P2P -> STOP_COPY
# (on a module that underflows its read position this is a kernel BUG: the guest panics).
# Reloads vfmig without parameters; leaves the VFs unbound, their MACs unassigned and their
# administrator settings at igb's defaults.

reg_bin=${VFMIG_SELFTESTS:-$VFMIG_ROOT/build/selftests}
reg_if=$(pf_netdev "$pf")

# Loads vfmig with the given parameters and binds both VFs; 0 if all of that worked.
reg_load() {
	pci_unbind "$vf0"
	pci_unbind "$vf1"
	rmmod vfmig 2>/dev/null
	modprobe vfmig "$@" && pci_bind "$vf0" vfmig && pci_bind "$vf1" vfmig
}

reg_run() { # name program [args...]
	local name=$1
	shift
	VFMIG_BDF=$vf0 VFMIG_BDF2=$vf1 VFMIG_PF_IF=$reg_if run_kselftest "trust_$name" "$@"
	tap_check "trust.${name}_passed" test $? -eq 0
}

for reg_p in vfmig_trust_test vfmig_dirty_arcs_test vfmig_hostile_test; do
	[ -x "$reg_bin/$reg_p" ] || tap_fail "trust.$reg_p" "$reg_bin/$reg_p not built"
done
if tap_check trust.load reg_load migration=1; then
	# The kselftests choose the VFs' MACs through the mailbox (no administrative MACs).
	ip link set "$reg_if" vf 0 mac 00:00:00:00:00:00
	ip link set "$reg_if" vf 1 mac 00:00:00:00:00:00
	reg_run pf_settings "$reg_bin/vfmig_trust_test" -T mismatch_warn
	reg_run dirty_arcs "$reg_bin/vfmig_dirty_arcs_test"
	reg_run hostile "$reg_bin/vfmig_hostile_test" -T precopy_read_fault
	# The administrator asks for a warning instead of a refusal: the restore goes on, the
	# target's settings stay as they are.
	if tap_check trust.load_pf_mismatch_warn \
		reg_load migration=1 pf_mismatch_warn=1; then
		VFMIG_PF_MISMATCH_WARN=1 reg_run pf_settings_warn "$reg_bin/vfmig_trust_test" \
			-t mismatch_warn
	fi
	# Last: on an unfixed module this one ends the guest (kernel BUG, oops=panic).
	# VFMIG_TRUST_NO_FAULT=1 leaves it out (reported as a skip), e.g. to see the others'
	# results on such a module.
	if [ "${VFMIG_TRUST_NO_FAULT:-}" = 1 ]; then
		tap_result skip trust.fault_passed "VFMIG_TRUST_NO_FAULT=1"
	elif tap_check trust.reload reg_load migration=1; then
		reg_run fault "$reg_bin/vfmig_hostile_test" -r host.precopy_read_fault
	fi
	ip link set "$reg_if" vf 0 mac 00:00:00:00:00:00
	ip link set "$reg_if" vf 1 mac 00:00:00:00:00:00
fi
pci_unbind "$vf0"
pci_unbind "$vf1"
rmmod vfmig 2>/dev/null
tap_check trust.modprobe_default modprobe vfmig
tap_check trust.param_default_on sh -c 'dmesg | grep "vfmig: registered" | tail -n1 | grep -q "migration on$"'
tap_check trust.vfs_unbound test -z "$(pci_driver_of "$vf0")" -a -z "$(pci_driver_of "$vf1")"
unset reg_bin reg_if reg_p
unset -f reg_load reg_run
