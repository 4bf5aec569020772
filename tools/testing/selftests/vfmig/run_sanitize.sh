#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The guest side of the sanitizer run (scripts/check-sanitize, the debug kernel: KASAN,
# lockdep, kmemleak, failslab). TAP on stdout; results in $VFMIG_OUT/results like run_vm.sh.
#   1. kmemleak: a scan of what boot left (reported as diagnostics, then cleared: vfmig is not
#      loaded yet, those objects are not ours; scripts/vm still fails the run on the kernel's
#      own "new suspected memory leaks" line);
#   2. the whole guest suite (run_vm.sh);
#   3. vfmig under slab allocation failures (vfmig_failslab_test: every allocation of a
#      save/restore/PRE_COPY cycle failed once, then random failures with a task filter),
#      then rmmod, which must succeed (no reference leaked by an error path);
#   4. kmemleak: explicit scans after everything (an object must be 5 s old to be reported)
#      and the report read: any suspect fails the run.

. "$(dirname "$0")/lib.sh"

kml=/sys/kernel/debug/kmemleak
bin=${VFMIG_SELFTESTS:-$VFMIG_ROOT/build/selftests}

kmemleak_suspects() { grep -c '^unreferenced object' "$kml"; }

# 1.
if [ -w "$kml" ]; then
	echo scan >"$kml"
	n=$(kmemleak_suspects)
	echo "# kmemleak after boot: $n suspect(s) (cleared; not vfmig's, it is not loaded)"
	[ "$n" = 0 ] || head -n 40 "$kml" | sed 's/^/#   /'
	echo clear >"$kml"
fi

# 2.
sh "$(dirname "$0")/run_vm.sh"
suite_rc=$?
echo "# run_vm.sh exited $suite_rc"
TAP_N=$(grep -c . "$VFMIG_OUT/results")

# 3.
echo "# sanitize: vfmig under failslab"
pf=$(setup_pf 2)
vf0=$(vf_bdf "$pf" 0)
vf1=$(vf_bdf "$pf" 1)
pf_if=$(pf_netdev "$pf")
if tap_check sanitize.failslab_setup test -n "$vf0" -a -n "$vf1" &&
	tap_check sanitize.failslab_modprobe modprobe vfmig migration=1 &&
	tap_check sanitize.failslab_bind_vf0 pci_bind "$vf0" vfmig &&
	tap_check sanitize.failslab_bind_vf1 pci_bind "$vf1" vfmig; then
	ip link set "$pf_if" vf 0 mac 00:00:00:00:00:00
	ip link set "$pf_if" vf 1 mac 00:00:00:00:00:00
	VFMIG_BDF=$vf0 VFMIG_BDF2=$vf1 run_kselftest sanitize "$bin/vfmig_failslab_test"
	tap_check sanitize.failslab_test_passed test $? -eq 0
	pci_unbind "$vf0"
	pci_unbind "$vf1"
fi
# The error paths released every reference: the module goes.
tap_check sanitize.failslab_rmmod rmmod vfmig
echo 0 >"/sys/bus/pci/devices/$pf/sriov_numvfs"

# 4.
if [ -w "$kml" ]; then
	sleep 6
	echo scan >"$kml"
	echo scan >"$kml"
	n=$(kmemleak_suspects)
	if [ "$n" = 0 ]; then
		tap_ok sanitize.kmemleak_no_suspects
	else
		sed 's/^/#   /' "$kml" | head -n 200
		tap_fail sanitize.kmemleak_no_suspects "$n suspected leak(s) after the run"
	fi
else
	tap_fail sanitize.kmemleak_no_suspects "no $kml: not the sanitizer kernel (CONFIG_DEBUG_KMEMLEAK)?"
fi

fails=$(grep -c '^not ok' "$VFMIG_OUT/results")
passes=$(grep -c '^ok' "$VFMIG_OUT/results")
skips=$(grep -c '^skip' "$VFMIG_OUT/results")
echo "# sanitize: $passes passed, $fails failed, $skips skipped"
[ "$fails" = 0 ] && [ "$suite_rc" = 0 ]
