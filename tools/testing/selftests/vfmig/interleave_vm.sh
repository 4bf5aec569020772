#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs suite_interleave.sh alone in the test VM (scripts/vm --igb 2 -- THIS): the PF with 2 VFs,
# vfmig installed, then the suite. For targeted runs and `make soak`; the same knobs
# (VFMIG_SEED, VFMIG_INTERLEAVE_STEPS, VFMIG_RACE_SECONDS, VFMIG_RACE_UFFD) come through
# scripts/vm --append KEY=value. Ends with "# guest: N passed, N failed".

. "$(dirname "$0")/lib.sh"

vm_two_vfs_vfmig
. "$(dirname "$0")/suite_interleave.sh"
tap_check module.rmmod rmmod vfmig

fails=$(grep -c '^not ok' "$VFMIG_OUT/results")
passes=$(grep -c '^ok' "$VFMIG_OUT/results")
echo "# guest: $passes passed, $fails failed"
[ "$fails" = 0 ]
