#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs suite_interleave.sh alone in the test VM (scripts/vm --igb 2 -- THIS): the PF with 2 VFs,
# vfmig installed, then the suite. For targeted runs and `make soak`; the same knobs
# (VFMIG_SEED, VFMIG_INTERLEAVE_STEPS, VFMIG_RACE_SECONDS, VFMIG_RACE_UFFD) come through
# scripts/vm --append KEY=value. Ends with "# guest: N passed, N failed".

. "$(dirname "$0")/lib.sh"

echo "TAP version 13"
pf=$(setup_pf 2)
if [ -z "$pf" ]; then
	tap_fail setup.pf_with_2_vfs "igb PF not found or SR-IOV failed"
	exit 1
fi
vf0=$(vf_bdf "$pf" 0)
vf1=$(vf_bdf "$pf" 1)
diag "PF $pf ($(pf_netdev "$pf")), VF0 $vf0, VF1 $vf1"
tap_check module.install install_vfmig
tap_check module.modprobe modprobe vfmig
. "$(dirname "$0")/suite_interleave.sh"
tap_check module.rmmod rmmod vfmig

fails=$(grep -c '^not ok' "$VFMIG_OUT/results")
passes=$(grep -c '^ok' "$VFMIG_OUT/results")
echo "# guest: $passes passed, $fails failed"
[ "$fails" = 0 ]
