# SPDX-License-Identifier: GPL-2.0
# Sourced by run_vm.sh with $pf $vf0 $vf1 set, vfmig loaded and the VFs unbound.
# Migration (uAPI v2): reloads vfmig (migration on, the default), checks what it offers (debugfs,
# MIGRATION feature), runs vfmig_migration_test (arcs, VF0 -> VF1 save/restore with traffic, bad
# streams, the guest's view of the shadowed registers and counters across a save on the resumed
# source and the target, the target's interrupt kick), then checks the off switch (migration=0)
# and reloads vfmig with the default. Leaves the VFs unbound, their MACs unassigned and vfmig
# loaded with the default.

mig_bin=${VFMIG_SELFTESTS:-$VFMIG_ROOT/build/selftests}
mig_if=$(pf_netdev "$pf")
mig_dbg=/sys/kernel/debug/vfio

rmmod vfmig
if ! tap_check migration.modprobe modprobe vfmig; then
	modprobe vfmig
else
	# Rust module parameters have no sysfs file: the module says what it offers at load.
	tap_check migration.param_on sh -c 'dmesg | grep "vfmig: registered" | tail -n1 | grep -q "migration on"'
	if [ ! -x "$mig_bin/vfmig_migration_test" ]; then
		tap_fail migration.test_program_passed "$mig_bin/vfmig_migration_test not built"
	elif tap_check migration.vf0_to_vfmig pci_bind "$vf0" vfmig &&
		tap_check migration.vf1_to_vfmig pci_bind "$vf1" vfmig; then
		tap_check migration.debugfs_state_running grep -qxF "migration_state: RUNNING" "$mig_dbg/$vf0/vfmig/state"
		# No administrative MACs for the kselftest: its "guest" chooses VF0's and VF1's MACs
		# through the mailbox, and the driver carries VF0's to VF1 through VF1's mailbox
		# (an administrative MAC on VF1 would make igb refuse it).
		ip link set "$mig_if" vf 0 mac 00:00:00:00:00:00
		ip link set "$mig_if" vf 1 mac 00:00:00:00:00:00
		VFMIG_BDF=$vf0 VFMIG_BDF2=$vf1 VFMIG_PF_IF=$mig_if \
			run_kselftest migration "$mig_bin/vfmig_migration_test"
		tap_check migration.test_program_passed test $? -eq 0
		# An administrative MAC on the source, as a VMM's management layer assigns it; the
		# target VF1 has none, so the restore below sets it on VF1 through VF1's mailbox
		# (a different administrative MAC on VF1 would make the restore fail with EPERM).
		ip link set "$mig_if" vf 0 mac 02:76:66:6d:05:00
		tap_check migration.debugfs_state_after grep -qxF "migration_state: RUNNING" "$mig_dbg/$vf0/vfmig/state"
		# The same uAPI through vfmigctl: the kernel's stream decodes with the userspace
		# decoder (one source, rust/shared), and VF1 accepts VF0's stream.
		mig_ctl=$(vfmig_tool vfmigctl)
		if [ -x "$mig_ctl" ]; then
			mig_tmp=$(mktemp -d)
			tap_check migration.vfmigctl_status sh -c '"$1" status "$2" | grep -q "STOP_COPY"' sh "$mig_ctl" "$vf0"
			tap_check migration.vfmigctl_save "$mig_ctl" -q save "$vf0" -o "$mig_tmp/vf0.bin" --resume
			tap_check migration.vfmigctl_inspect sh -c '"$1" inspect "$2" | grep -q "result: valid"' sh "$mig_ctl" "$mig_tmp/vf0.bin"
			# the PF section is the PF driver's view (ndo_get_vf_config): VF0's admin MAC
			tap_check migration.pf_section_admin_mac sh -c '"$1" inspect "$2" | grep -q "pf_vf: mac 02:76:66:6d:05:00 "' sh "$mig_ctl" "$mig_tmp/vf0.bin"
			tap_check migration.vfmigctl_check_vf1 "$mig_ctl" check "$mig_tmp/vf0.bin" "$vf1"
			tap_check migration.vfmigctl_restore_vf1 "$mig_ctl" -q restore "$vf1" -i "$mig_tmp/vf0.bin"
			# debugfs accounts for both: the stream's length, a duration, and on VF1 the
			# error left by vfmig_migration_test's bad streams before.
			sed 's/^/#   /' "$mig_dbg/$vf0/vfmig/state" "$mig_dbg/$vf1/vfmig/state"
			mig_len=$(stat -c %s "$mig_tmp/vf0.bin")
			tap_check migration.debugfs_bytes_saved grep -qx "bytes_saved: $mig_len" "$mig_dbg/$vf0/vfmig/state"
			tap_check migration.debugfs_save_ns grep -qE "^save_ns: [1-9][0-9]*$" "$mig_dbg/$vf0/vfmig/state"
			tap_check migration.debugfs_bytes_restored grep -qx "bytes_restored: $mig_len" "$mig_dbg/$vf1/vfmig/state"
			tap_check migration.debugfs_restore_ns grep -qE "^restore_ns: [1-9][0-9]*$" "$mig_dbg/$vf1/vfmig/state"
			tap_check migration.debugfs_last_error grep -qE "^last_error: -[0-9]+ \(RESUMING -> STOP\)$" "$mig_dbg/$vf1/vfmig/state"
			# (VF1's MAC after this restore is not checked here: vfmigctl closes VF1, and
			# vfio-pci's reset on close makes igb forget it; vfmig_migration_test checks it
			# while the target is open.)
			"$mig_ctl" inspect "$mig_tmp/vf0.bin" 2>&1 | sed 's/^/#   /'
			# DMA dirty logging through the tool: opened by vfmigctl, VF0 was reset and owns
			# no ring, so nothing is dirty, in every report; through iommufd the software
			# tracker cannot read descriptors (no vfio_dma_rw), so the driver offers no logging
			# there: PROBE answers ENOTTY, exit 6.
			mig_out=$("$mig_ctl" dirty "$vf0" --range 0x100000:64K --range 0x40000000:2M \
				--count 2 --interval-ms 10 2>&1)
			printf '%s\n' "$mig_out" | sed 's/^/#   /'
			tap_check migration.vfmigctl_dirty_reports sh -c 'printf "%s\n" "$1" | grep -qx "report 2: range 0x40000000+0x200000: 0 dirty page(s)"' sh "$mig_out"
			if [ -d /sys/bus/pci/devices/"$vf0"/vfio-dev ] && [ -e /dev/iommu ]; then
				mig_out=$("$mig_ctl" dirty "$vf0" --via cdev --range 0x100000:64K --count 1 2>&1)
				tap_check migration.vfmigctl_dirty_cdev_enotty sh -c '[ "$1" = 6 ] && printf "%s\n" "$2" | grep -q "via cdev (ENOTTY)"' sh "$?" "$mig_out"
			fi
			# --json with migration on: the success documents of status, save, restore and dirty
			# (suite_vfmigctl.sh parses the others and the errors).
			# mig_json NAME COND ARGS...: `vfmigctl -q --json ARGS` exits 0 and prints one JSON
			# document d for which the Python expression COND holds.
			mig_json() {
				mig_n=$1 mig_c=$2
				shift 2
				mig_out=$("$mig_ctl" -q --json "$@")
				mig_rc=$?
				printf '%s\n' "$mig_out" | sed 's/^/#   /'
				tap_check "$mig_n" sh -c '[ "$1" = 0 ] && printf "%s\n" "$2" | python3 -c "
import json, sys
d = json.load(sys.stdin)
sys.exit(0 if eval(sys.argv[1]) else 1)" "$3"' sh "$mig_rc" "$mig_out" "$mig_c"
			}
			mig_json migration.vfmigctl_json_status \
				"d['migration']['supported'] and 'STOP_COPY' in d['migration']['flags_text'] and d['migration']['state'] == 'RUNNING' and not d['in_use']" \
				status "$vf0"
			mig_json migration.vfmigctl_json_save \
				"d['valid'] and d['state'] == 'RUNNING' and d['bytes'] > 0 and d['stop_copy_bytes'] > 0" \
				save "$vf0" -o "$mig_tmp/vf0j.bin" --resume
			mig_json migration.vfmigctl_json_restore \
				"d['state'] == 'RUNNING' and d['bytes'] == $(stat -c %s "$mig_tmp/vf0j.bin" 2>/dev/null || echo -1)" \
				restore "$vf1" -i "$mig_tmp/vf0j.bin"
			mig_json migration.vfmigctl_json_dirty \
				"d['via'] == 'group' and [(r['round'], r['dirty_pages']) for r in d['reports']] == [(1, 0)]" \
				dirty "$vf0" --range 0x100000:64K --count 1 --interval-ms 10
			unset -f mig_json
			rm -rf "$mig_tmp"
		else
			tap_fail migration.vfmigctl "$mig_ctl not built (CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-})"
		fi
		ip link set "$mig_if" vf 0 mac 00:00:00:00:00:00
		ip link set "$mig_if" vf 1 mac 00:00:00:00:00:00
	fi
	pci_unbind "$vf0"
	pci_unbind "$vf1"
	rmmod vfmig
	tap_check migration.modprobe_off modprobe vfmig migration=0
fi
tap_check migration.param_off sh -c 'dmesg | grep "vfmig: registered" | tail -n1 | grep -q "migration off"'
rmmod vfmig
tap_check migration.modprobe_default modprobe vfmig
tap_check migration.vfs_unbound test -z "$(pci_driver_of "$vf0")" -a -z "$(pci_driver_of "$vf1")"
unset mig_bin mig_if mig_dbg mig_ctl mig_tmp mig_n mig_c mig_rc
