# SPDX-License-Identifier: GPL-2.0
# Sourced by run_vm.sh with $pf $vf0 $vf1 set, vfmig loaded and the VFs unbound.
# The per-VF debugfs directory (/sys/kernel/debug/vfio/<BDF>/vfmig/{state,regs}: in VFIO core's
# directory of the device, beside its migration/{state,features}) and the register
# snapshot behind "regs": identity in "state", ENODEV while closed, the values a userspace VF
# driver (vf82576.c) programmed while it holds the device open (vfmig_regs_test), on both VFs.
# Leaves both VFs unbound.

regs_bin=${VFMIG_SELFTESTS:-$VFMIG_ROOT/build/selftests}
regs_dbg=/sys/kernel/debug/vfio

# (The KUnit suite of the snapshot's text form, vfmig_dump, runs in run_vm.sh with the others,
# from the test module vfmig_kunit.ko.)

# regs_state_has BDF LINE: the state file of BDF has exactly this line.
regs_state_has() {
	grep -qxF -- "$2" "$regs_dbg/$1/vfmig/state"
}

for regs_i in 0 1; do
	eval regs_vf=\$vf$regs_i
	if ! tap_check "regs.vf${regs_i}_to_vfmig" pci_bind "$regs_vf" vfmig; then
		continue
	fi
	tap_check "regs.vf${regs_i}_debugfs_dir" test -r "$regs_dbg/$regs_vf/vfmig/state" -a -r "$regs_dbg/$regs_vf/vfmig/regs"
	sed 's/^/#   /' "$regs_dbg/$regs_vf/vfmig/state" 2>/dev/null
	tap_check "regs.vf${regs_i}_state_provider" regs_state_has "$regs_vf" "provider: intel-82576-vf"
	tap_check "regs.vf${regs_i}_state_vf_index" regs_state_has "$regs_vf" "vf_index: $regs_i"
	tap_check "regs.vf${regs_i}_state_pf" regs_state_has "$regs_vf" "pf: $pf"
	tap_check "regs.vf${regs_i}_state_closed" regs_state_has "$regs_vf" "device: closed"
	tap_check "regs.vf${regs_i}_state_migration" regs_state_has "$regs_vf" "migration_state: RUNNING"
	# where VFIO users look: VFIO core's own migration state of the device, beside ours
	tap_check "regs.vf${regs_i}_vfio_core_state" grep -qxF RUNNING "$regs_dbg/$regs_vf/migration/state"
	# and nowhere else, while a VF is bound
	[ "$regs_i" = 0 ] && tap_check regs.no_private_debugfs_tree test ! -e /sys/kernel/debug/vfmig
	regs_err=$(cat "$regs_dbg/$regs_vf/vfmig/regs" 2>&1 >/dev/null)
	regs_rc=$?
	diag "regs while closed: rc $regs_rc: $regs_err"
	tap_check "regs.vf${regs_i}_regs_enodev_closed" sh -c 'test "$1" != 0 && printf "%s" "$2" | grep -q "No such device"' sh "$regs_rc" "$regs_err"
	if [ -x "$regs_bin/vfmig_regs_test" ]; then
		VFMIG_BDF=$regs_vf run_kselftest "regs_vf$regs_i" "$regs_bin/vfmig_regs_test"
		tap_check "regs.vf${regs_i}_test_program_passed" test $? -eq 0
	else
		tap_fail "regs.vf${regs_i}_test_program_passed" "$regs_bin/vfmig_regs_test not built"
	fi
	tap_check "regs.vf${regs_i}_closed_again" regs_state_has "$regs_vf" "device: closed"
	pci_unbind "$regs_vf"
	tap_check "regs.vf${regs_i}_debugfs_gone_on_unbind" test ! -e "$regs_dbg/$regs_vf/vfmig"
done
tap_check regs.vfs_unbound test -z "$(pci_driver_of "$vf0")" -a -z "$(pci_driver_of "$vf1")"
unset regs_bin regs_dbg regs_i regs_vf regs_err regs_rc
unset -f regs_state_has
