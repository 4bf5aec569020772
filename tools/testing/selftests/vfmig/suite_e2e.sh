# SPDX-License-Identifier: GPL-2.0
# Sourced by run_vm.sh with $pf $vf0 $vf1 set, vfmig loaded and the VFs unbound.
# End to end with a VMM nobody here wrote (e2e/e2e_vm.sh, scenario "check"): the host's QEMU
# live-migrates an inner guest whose stock igbvf drives VF0 onto VF1 and back, with ICMP traffic
# checked throughout, then tries a target bound to vfio-pci, which must refuse while the guest
# goes on. One inner guest boot under nested TCG: about 5 minutes. Leaves the VFs unbound and
# the second PF without VFs.

e2e_vfs() { # unbinds the refusal target and the second PF's VFs
	pci_unbind "$refuse_vf"
	echo 0 >"/sys/bus/pci/devices/$(find_pfs | sed -n 2p)/sriov_numvfs"
}

. "$VFMIG_ROOT/tools/testing/selftests/vfmig/e2e/e2e_lib.sh"
if e2e_setup; then
	if refuse_vf=$(vfio_pci_target); then
		# Bounds for a loaded 2-core machine, where the nested guest answers ever less
		# after each migration (also with no VF: see testing.rst): the refusal first, on
		# the fresh guest; 15 s windows, an outage under 30 s, a few replies after each
		# switch (a VF the migration broke answers none), and no loss check. The refused
		# source's guest may stay silent up to 4 minutes first (seen silent for 17 s here,
		# and over a minute on CI's fresh machine; the silence is printed).
		e2e check --vf "$vf0" --vf "$vf1" --vf "$vf0" --refuse-to "$refuse_vf" \
			--refuse-first --expect-device-logging yes --after 15 --max-outage 30 \
			--min-answered 0.02 --no-loss-check --recovery 240
		e2e_diag check
		e2e_vfs
	else
		tap_fail e2e_check.setup "no second igb PF with a VF on vfio-pci"
	fi
fi
e2e_teardown
unset refuse_vf
unset -f e2e_vfs
