#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# vfmig's guest test suite: runs inside the test VM (scripts/vm), as root, against QEMU's igb
# PF and its VFs. TAP on stdout; every result also goes to $VFMIG_OUT/results.
#
# Environment: VFMIG_ROOT (repo), VFMIG_OUT (results dir), VFMIG_SELFTESTS (built test programs,
# default $VFMIG_ROOT/build/selftests), VFMIG_VFIO_SELFTESTS (the kernel's vfio selftests, built).
# VFMIG_EXPECT_DEVICE etc. pass through to vfmig_device_test.

. "$(dirname "$0")/lib.sh"

bin=${VFMIG_SELFTESTS:-$VFMIG_ROOT/build/selftests}
# --- PF and VFs -----------------------------------------------------------------------------
vm_two_vfs
tap_check setup.pf_with_2_vfs test -n "$vf0" -a -n "$vf1"
diag "PF $pf ($(pf_netdev "$pf")), VF0 $vf0, VF1 $vf1"
tap_check setup.vfs_unclaimed test -z "$(pci_driver_of "$vf0")" -a -z "$(pci_driver_of "$vf1")"

# --- the module as an operator installs it ---------------------------------------------------
tap_check module.install install_vfmig
info=$(modinfo vfmig 2>&1)
diag "$(echo "$info" | grep -E '^(filename|alias|license|description|vermagic):' | tr '\n' ';')"
tap_check module.modinfo_alias sh -c 'modinfo -F alias vfmig | grep -qi "^vfio_pci:v00008086d000010CAsv\*sd\*bc\*sc\*i\*$"'
tap_check module.modinfo_license test "$(modinfo -F license vfmig)" = GPL
tap_check module.modinfo_description test -n "$(modinfo -F description vfmig)"
# Loading vfmig on this CONFIG_KUNIT=y kernel runs no KUnit suite and taints the kernel with
# nothing but what any out-of-tree module sets (lib.sh, load_vfmig_taint_checked): first in the
# run, before any KUnit suite has run (TAINT_TEST would already be set) or vfmig_kunit is loaded.
load_vfmig_taint_checked
tap_check module.loaded test -d /sys/module/vfmig
# The module's KUnit suites, from the test build build/kunit/vfmig_kunit.ko (make kunit): the
# shared state format in-kernel; the dirty log's bookkeeping (ranges, take/peek, overflow
# fallback); resume transfers of several streams (PRE_COPY); the 82576 VF's shadows and DMA
# view; the text form of a register snapshot (debugfs regs). It drives no device and loads next
# to vfmig.
kunit_ko=${VFMIG_KUNIT_KO:-$VFMIG_ROOT/build/kunit/vfmig_kunit.ko}
tap_check kunit.module_load insmod "$kunit_ko"
for kunit_suite in vfmig_shared vfmig_dirty vfmig_resume vfmig_igb vfmig_dump; do
	record_kunit kunit "$kunit_suite"
	tap_check "kunit.${kunit_suite}_passed" test $? -eq 0
done
# The control of module.load_no_test_taint: the reader sees the kernel tainted by a test run.
t=$(taint_mask)
diag "taint after the KUnit suites: $t"
tap_check kunit.run_sets_taint_test test $(((${t:-0} >> 18) & 1)) = 1
tap_check kunit.module_rmmod rmmod vfmig_kunit
tap_check bind.vf0_to_vfmig pci_bind "$vf0" vfmig
tap_check bind.vfio_nodes sh -c "ls /dev/vfio/\$(basename \$(readlink /sys/bus/pci/devices/$vf0/iommu_group)) /sys/bus/pci/devices/$vf0/vfio-dev/vfio* >/dev/null"

# --- VFIO through both paths ----------------------------------------------------------------
VFMIG_BDF=$vf0 run_kselftest device "$bin/vfmig_device_test"
tap_check device.test_program_passed test $? -eq 0
# The same program as a kselftest target: the kernel's selftests Makefile (lib.mk run_tests,
# the kselftest runner) in the tree scripts/check-kselftest built, which runs vfmig_device.sh
# (TEST_PROGS) on the VF bound to vfmig. Nothing is rebuilt here.
kst=${VFMIG_KSELFTEST_TREE:-$VFMIG_ROOT/build/kselftest-tree}/tools/testing/selftests
if [ -x "$kst/vfmig/vfmig_device_test" ]; then
	make -C "$kst" TARGETS=vfmig run_tests >/tmp/kselftest.log 2>&1
	kst_rc=$?
	sed 's/^/    /' /tmp/kselftest.log
	tap_check kselftest.run_tests_device sh -c "[ $kst_rc = 0 ] && grep -qx 'ok [0-9]* selftests: vfmig: vfmig_device.sh' /tmp/kselftest.log"
else
	tap_fail kselftest.run_tests_device "no kselftest tree at $kst (scripts/check-kselftest)"
fi

# --- unbind / rebind, module cycles ---------------------------------------------------------
pci_unbind "$vf0"
tap_check bind.unbind test -z "$(pci_driver_of "$vf0")"
tap_check bind.rebind pci_bind "$vf0" vfmig
ok=1
for i in 1 2 3 4 5 6 7 8 9 10; do
	rmmod vfmig || { ok=0; diag "cycle $i: rmmod failed"; break; }
	[ -z "$(pci_driver_of "$vf0")" ] || { ok=0; diag "cycle $i: still bound after rmmod"; break; }
	modprobe vfmig || { ok=0; diag "cycle $i: modprobe failed"; break; }
	# driver_override stays "vfmig", so registering the driver binds VF0 again.
	[ "$(pci_driver_of "$vf0")" = vfmig ] || { ok=0; diag "cycle $i: VF0 not rebound"; break; }
done
tap_check module.10_modprobe_rmmod_cycles test $ok = 1
VFMIG_BDF=$vf0 run_kselftest device_after_cycles "$bin/vfmig_device_test" -r group.config_space
tap_check device.after_cycles test $? -eq 0

# --- migration=0: the off switch gives exactly vfio-pci (BAR0 mapped, no MIGRATION feature) ----
rmmod vfmig
tap_check module.modprobe_migration_off modprobe vfmig migration=0
tap_check module.migration_off_message sh -c 'dmesg | grep "vfmig: registered" | tail -n1 | grep -q "migration off (migration=0)"'
VFMIG_BDF=$vf0 VFMIG_EXPECT_MIGRATION=0 run_kselftest device_migration_off "$bin/vfmig_device_test"
tap_check device.migration_off_test_program_passed test $? -eq 0
rmmod vfmig
tap_check module.modprobe_default_migration_on modprobe vfmig
tap_check module.migration_on_message sh -c 'dmesg | grep "vfmig: registered" | tail -n1 | grep -q "migration on$"'
tap_check module.modinfo_migration_param sh -c 'modinfo -F parm vfmig | grep -q "^migration:.*default on"'

# --- the kernel's own vfio selftests: vfmig must match plain vfio-pci -------------------------
vst=${VFMIG_VFIO_SELFTESTS:-}
if [ -n "$vst" ] && [ -x "$vst/vfio_pci_device_test" ]; then
	tap_check upstream.vf1_to_vfio_pci pci_bind "$vf1" vfio-pci
	for t in vfio_pci_device_test vfio_dma_mapping_test vfio_iommufd_setup_test vfio_dma_mapping_mmio_test; do
		ref=$(mktemp) got=$(mktemp)
		VFMIG_OUT=/tmp run_kselftest x "$vst/$t" "$vf1" >"$ref.log" 2>&1
		grep -E '^ *(not )?ok [0-9]+ ' "$ref.log" | sed -E 's/^ *//; s/^((not )?ok) [0-9]+ /\1 /; s/ # SKIP.*/ SKIP/' | sort >"$ref"
		VFMIG_OUT=/tmp run_kselftest x "$vst/$t" "$vf0" >"$got.log" 2>&1
		grep -E '^ *(not )?ok [0-9]+ ' "$got.log" | sed -E 's/^ *//; s/^((not )?ok) [0-9]+ /\1 /; s/ # SKIP.*/ SKIP/' | sort >"$got"
		p=$(grep -vc -e '^not ok' -e ' SKIP$' "$got") s=$(grep -c ' SKIP$' "$got") f=$(grep -c '^not ok' "$got")
		diag "$t on vfmig: $p pass, $s skip, $f fail; on vfio-pci: $(grep -vc -e '^not ok' -e ' SKIP$' "$ref") pass, $(grep -c ' SKIP$' "$ref") skip, $(grep -c '^not ok' "$ref") fail"
		if [ ! -s "$got" ]; then
			sed 's/^/#   /' "$got.log" | tail -n 20
			tap_fail "upstream.$t" "no results"
		elif ! cmp -s "$ref" "$got"; then
			diff "$ref" "$got" | sed 's/^/#   /'
			tap_fail "upstream.$t" "differs from vfio-pci"
		elif [ "$f" != 0 ]; then
			grep '^not ok' "$got" | sed 's/^/#   /'
			tap_fail "upstream.$t" "$f failures"
		else
			tap_ok "upstream.$t"
		fi
		echo "$p $s $f" >>/tmp/upstream.counts
		rm -f "$ref" "$got" "$ref.log" "$got.log"
	done
	awk '{p+=$1; s+=$2; f+=$3} END {printf "# upstream vfio selftests on vfmig: %d pass, %d skip, %d fail\n", p, s, f}' /tmp/upstream.counts
	pci_unbind "$vf1"
else
	tap_result skip upstream.vfio_selftests "not built (VFMIG_VFIO_SELFTESTS)"
fi

# --- further suites, each a file sourced with $pf $vf0 $vf1 set and VF0 unbound -------------
# The migration suite first, then the dirty-logging suite, then every other suite_*.sh in name
# order, each once.
pci_unbind "$vf0"
suite_dir=$(dirname "$0")
suites_done=
for suite in "$suite_dir/suite_migration.sh" "$suite_dir/suite_dirty.sh" "$suite_dir"/suite_*.sh; do
	[ -f "$suite" ] || continue
	case " $suites_done " in *" $(basename "$suite") "*) continue ;; esac
	suites_done="$suites_done $(basename "$suite")"
	diag "suite $(basename "$suite")"
	. "$suite"
done
unset suite_dir suites_done

# --- a function no provider drives is refused --------------------------------------------------
# driver_override lets userspace offer vfmig any device; the PF (8086:10c9) must be refused with
# ENODEV and stay unbound. Then igb gets the PF back.
pci_unbind "$vf0"
echo 0 >"/sys/bus/pci/devices/$pf/sriov_numvfs"
echo "$pf" >/sys/bus/pci/drivers/igb/unbind
echo vfmig >"/sys/bus/pci/devices/$pf/driver_override"
err=$( (echo "$pf" >/sys/bus/pci/drivers_probe) 2>&1)
diag "probe of the PF by vfmig: ${err:-succeeded}"
tap_check probe.pf_refused test -z "$(pci_driver_of "$pf")"
tap_check probe.pf_refused_logged sh -c "dmesg | grep -q 'vfmig $pf: 8086:10c9 (PF) is not a function any provider drives'"
echo >"/sys/bus/pci/devices/$pf/driver_override"
echo "$pf" >/sys/bus/pci/drivers_probe
tap_check probe.pf_back_to_igb test "$(pci_driver_of "$pf")" = igb

# --- teardown ---------------------------------------------------------------------------------
tap_check module.rmmod rmmod vfmig

fails=$(grep -c '^not ok' "$VFMIG_OUT/results")
passes=$(grep -c '^ok' "$VFMIG_OUT/results")
skips=$(grep -c '^skip' "$VFMIG_OUT/results")
[ "$skips" = 0 ] || echo "# guest: skipped: $(grep '^skip' "$VFMIG_OUT/results" | cut -d' ' -f2 | tr '\n' ' ')"
echo "# guest: $passes passed, $fails failed, $skips skipped"
[ "$fails" = 0 ]
