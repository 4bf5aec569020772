# SPDX-License-Identifier: GPL-2.0
# Sourced by run_vm.sh with $pf $vf0 $vf1 set, vfmig loaded and the VFs unbound.
# vfmigctl (tools/vfmigctl) against the real VFs: list/status, check with real sysfs
# identities, and save/restore/dirty failing cleanly (exit 6) with vfmig loaded with
# migration=0 (suite_migration.sh drives the tool with migration on); every verb's --json output
# parsed (vfmigctl.json_*); status on a VF whose group another process holds. Leaves both VFs
# unbound and vfmig loaded with the default.

ctl=$(vfmig_tool vfmigctl)
ctl_golden=$VFMIG_ROOT/tools/vfmig-state/tests/golden

# ctl_expect NAME RC TEXT ARGS...: ok if `vfmigctl ARGS` exits RC and its output
# (stdout + stderr) contains TEXT.
ctl_expect() {
	ctl_name=$1 ctl_want=$2 ctl_pat=$3
	shift 3
	ctl_out=$("$ctl" "$@" 2>&1)
	ctl_rc=$?
	if [ "$ctl_rc" = "$ctl_want" ] && printf '%s\n' "$ctl_out" | grep -qF -- "$ctl_pat"; then
		tap_ok "$ctl_name"
	else
		printf '%s\n' "$ctl_out" | sed 's/^/#   /'
		tap_fail "$ctl_name" "exit $ctl_rc (want $ctl_want), want output containing '$ctl_pat'"
	fi
}

# ctl_json NAME RC COND ARGS...: ok if `vfmigctl -q --json ARGS` exits RC and its stdout is one
# JSON document d for which the Python expression COND is true.
ctl_json() {
	ctl_name=$1 ctl_want=$2 ctl_cond=$3
	shift 3
	ctl_out=$("$ctl" -q --json "$@" 2>/dev/null)
	ctl_rc=$?
	if [ "$ctl_rc" = "$ctl_want" ] && printf '%s\n' "$ctl_out" | python3 -c '
import json, sys
d = json.load(sys.stdin)
sys.exit(0 if eval(sys.argv[1]) else 1)' "$ctl_cond"; then
		tap_ok "$ctl_name"
	else
		printf '%s\n' "$ctl_out" | sed 's/^/#   /'
		tap_fail "$ctl_name" "exit $ctl_rc (want $ctl_want), want one JSON document d with: $ctl_cond"
	fi
}

if [ ! -x "$ctl" ]; then
	tap_fail vfmigctl.suite "$ctl not built (cargo build --manifest-path tools/Cargo.toml; CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-})"
else
	ctl_tmp=$(mktemp -d)
	rmmod vfmig
	tap_check vfmigctl.modprobe_migration_off modprobe vfmig migration=0
	tap_check vfmigctl.vf0_to_vfmig pci_bind "$vf0" vfmig
	tap_check vfmigctl.vf1_to_vfmig pci_bind "$vf1" vfmig

	# --- list / status ----------------------------------------------------------------------
	ctl_out=$("$ctl" list 2>&1)
	printf '%s\n' "$ctl_out" | sed 's/^/#   /'
	tap_check vfmigctl.list_vf0 sh -c "printf '%s\n' \"\$1\" | grep -E \"^$vf0 +$pf +0 8086:10ca vfmig .*vfmig \\(vfio\\)\$\"" sh "$ctl_out"
	tap_check vfmigctl.list_vf1 sh -c "printf '%s\n' \"\$1\" | grep -E \"^$vf1 +$pf +1 8086:10ca vfmig \"" sh "$ctl_out"
	ctl_expect vfmigctl.list_json 0 "\"driver\":\"vfmig\"" list --json

	ctl_expect vfmigctl.status_driver 0 "driver: vfmig" status "$vf0"
	printf '%s\n' "$ctl_out" | sed 's/^/#   /'
	ctl_expect vfmigctl.status_no_migration 0 \
		"migration: not supported (driver offers no migration: ENOTTY)" status "$vf0"
	ctl_expect vfmigctl.status_via_group 0 "opened via: group" status "$vf0" --via group
	if [ -d /sys/bus/pci/devices/"$vf0"/vfio-dev ] && [ -e /dev/iommu ]; then
		ctl_expect vfmigctl.status_via_cdev 0 "opened via: cdev" status "$vf0" --via cdev
		ctl_expect vfmigctl.status_auto_prefers_cdev 0 "opened via: cdev" status "$vf0"
	else
		tap_result skip vfmigctl.status_via_cdev "no VFIO cdev or /dev/iommu"
	fi
	ctl_expect vfmigctl.status_json 0 '"supported": false' status "$vf1" --json

	# --- check: identity from sysfs ---------------------------------------------------------
	ctl_expect vfmigctl.check_rejects_other_device 8 \
		"incompatible: header.device differs: stream 0x10ed, device $vf1 0x10ca" \
		check "$ctl_golden/other-device.bin" "$vf1"
	ctl_expect vfmigctl.synth_like_vf1 0 "wrote" synth --like "$vf1" -o "$ctl_tmp/vf1.bin"
	ctl_expect vfmigctl.check_accepts_matching 0 "compatible:" check "$ctl_tmp/vf1.bin" "$vf1"
	ctl_expect vfmigctl.inspect_synth 0 "result: valid" inspect "$ctl_tmp/vf1.bin"
	ctl_sv=$(cat /sys/bus/pci/devices/"$vf1"/subsystem_vendor)
	ctl_sd=$(cat /sys/bus/pci/devices/"$vf1"/subsystem_device)
	ctl_rev=$(cat /sys/bus/pci/devices/"$vf1"/revision)
	ctl_other_sd=$(printf '%04x' $(( ($ctl_sd + 1) & 0xffff )))
	diag "VF1 identity 8086:10ca subsys ${ctl_sv#0x}:${ctl_sd#0x} rev ${ctl_rev#0x}"
	ctl_expect vfmigctl.synth_other_subsys 0 "wrote" synth -o "$ctl_tmp/subsys.bin" \
		--identity "8086:10ca:${ctl_sv#0x}:$ctl_other_sd:${ctl_rev#0x}"
	ctl_expect vfmigctl.check_rejects_subsys 8 "incompatible: header.subsys_device differs" \
		check "$ctl_tmp/subsys.bin" "$vf1"
	# The golden stream was saved from an 82576 VF with subsystem 8086:0000 rev 01: accepted by
	# a VF with that identity, refused, naming the first field that differs, by any other
	# (QEMU's igb VFs say 1af4:1100).
	if [ "$ctl_sv" = 0x8086 ] && [ "$ctl_sd" = 0x0000 ] && [ "$ctl_rev" = 0x01 ]; then
		ctl_expect vfmigctl.check_golden_full_vf1 0 "compatible:" \
			check "$ctl_golden/igb-v1.0-full.bin" "$vf1"
	elif [ "$ctl_sv" != 0x8086 ]; then
		ctl_expect vfmigctl.check_golden_full_vf1 8 \
			"incompatible: header.subsys_vendor differs: stream 0x8086, device $vf1 $ctl_sv" \
			check "$ctl_golden/igb-v1.0-full.bin" "$vf1"
	else
		ctl_expect vfmigctl.check_golden_full_vf1 8 "incompatible: header." \
			check "$ctl_golden/igb-v1.0-full.bin" "$vf1"
	fi

	# --- --json: one JSON document per verb, errors included --------------------------------
	ctl_json vfmigctl.json_list 0 \
		"[v['driver'] for v in d if v['bdf'] == '$vf0'] == ['vfmig']" list
	ctl_json vfmigctl.json_status 0 \
		"d['driver'] == 'vfmig' and d['provider'] == 'intel-82576-vf' and not d['in_use'] and d['migration']['reason'] == 'ENOTTY'" \
		status "$vf0"
	ctl_json vfmigctl.json_inspect 0 "d['valid'] and d['error'] is None" inspect "$ctl_tmp/vf1.bin"
	ctl_json vfmigctl.json_check_compatible 0 "d['compatible'] and d['outcome'] == 'compatible'" \
		check "$ctl_tmp/vf1.bin" "$vf1"
	ctl_json vfmigctl.json_check_incompatible 8 \
		"d['outcome'] == 'incompatible' and d['error']['field'] == 'header.device'" \
		check "$ctl_golden/other-device.bin" "$vf1"
	ctl_json vfmigctl.json_synth 0 "d['bytes'] > 0" synth --like "$vf1" -o "$ctl_tmp/vf1j.bin"
	ctl_json vfmigctl.json_save_enotty 6 \
		"d['error']['exit'] == 'no-migration' and d['error']['errno'] == 'ENOTTY' and d['error']['exit_code'] == 6" \
		save "$vf0" -o "$ctl_tmp/savej.bin"
	ctl_json vfmigctl.json_restore_enotty 6 "d['error']['errno'] == 'ENOTTY'" \
		restore "$vf1" -i "$ctl_tmp/vf1.bin"
	ctl_json vfmigctl.json_restore_incompatible 8 \
		"d['error']['exit'] == 'incompatible' and 'header.device differs' in d['error']['message']" \
		restore "$vf1" -i "$ctl_golden/other-device.bin"
	ctl_json vfmigctl.json_dirty_enotty 6 "d['error']['errno'] == 'ENOTTY'" \
		dirty "$vf0" --range 0x100000:64K --count 1 --interval-ms 10
	ctl_json vfmigctl.json_usage_error 2 "d['error']['exit'] == 'usage'" status "$vf0" --bogus

	# --- status on a VF another process holds: "in use", facts from debugfs -----------------
	# A holder opens the VF's group as a VMM would (/dev/vfio/GROUP); vfmigctl's own open then
	# fails with EBUSY through the group and through the cdev (bind blocks on the open group).
	ctl_grp=$(basename "$(readlink /sys/bus/pci/devices/"$vf0"/iommu_group)")
	sh -c 'exec 9<>"$1"; exec sleep 120' sh /dev/vfio/"$ctl_grp" &
	ctl_holder=$!
	sleep 1
	"$ctl" status "$vf0" 2>&1 | sed 's/^/#   /'
	ctl_expect vfmigctl.status_in_use 0 "migration: in use (the device is held by another process" \
		status "$vf0"
	ctl_expect vfmigctl.status_in_use_group 0 "migration: in use" status "$vf0" --via group
	ctl_expect vfmigctl.status_in_use_debugfs 0 "  provider: intel-82576-vf" status "$vf0"
	ctl_json vfmigctl.json_status_in_use 0 \
		"d['in_use'] and d['migration']['errno'] == 'EBUSY' and d['migration']['debugfs']['provider'] == 'intel-82576-vf'" \
		status "$vf0"
	ctl_expect vfmigctl.save_in_use 5 "EBUSY" save "$vf0" -o "$ctl_tmp/busy.bin"
	kill "$ctl_holder"
	wait "$ctl_holder" 2>/dev/null
	ctl_expect vfmigctl.status_after_holder 0 "opened via: cdev (" status "$vf0"

	# --- save / restore / dirty: no migration (migration=0) -> exit 6 ----------------------------
	ctl_expect vfmigctl.save_enotty 6 "$vf0: driver offers no migration (ENOTTY)" \
		save "$vf0" -o "$ctl_tmp/save.bin"
	tap_check vfmigctl.save_left_no_file test ! -e "$ctl_tmp/save.bin" -a ! -e "$ctl_tmp/save.partial"
	ctl_expect vfmigctl.save_enotty_group 6 "driver offers no migration (ENOTTY)" \
		save "$vf0" -o "$ctl_tmp/save.bin" --via group
	ctl_expect vfmigctl.restore_checks_first 8 "header.device differs" \
		restore "$vf1" -i "$ctl_golden/other-device.bin"
	ctl_expect vfmigctl.restore_enotty 6 "$vf1: driver offers no migration (ENOTTY)" \
		restore "$vf1" -i "$ctl_tmp/vf1.bin"
	ctl_expect vfmigctl.dirty_enotty 6 "driver offers no DMA dirty tracking when opened via group (ENOTTY)" \
		dirty "$vf0" --range 0x100000:64K --count 1 --interval-ms 10
	# The device is still usable after the failed attempts.
	ctl_expect vfmigctl.status_after 0 "driver: vfmig" status "$vf0"

	# --- binding errors ----------------------------------------------------------------------
	pci_unbind "$vf0"
	pci_unbind "$vf1"
	ctl_expect vfmigctl.save_unbound 3 "$vf0 is not bound to vfmig" save "$vf0" -o "$ctl_tmp/x.bin"
	ctl_expect vfmigctl.status_unbound 0 "migration: n/a ($vf0 is not bound to vfmig" status "$vf0"
	ctl_json vfmigctl.json_status_unbound 0 "d['migration']['supported'] is False and d['driver'] is None" \
		status "$vf0"
	ctl_json vfmigctl.json_save_unbound 3 "d['error']['exit'] == 'not-bound' and d['error']['exit_code'] == 3" \
		save "$vf0" -o "$ctl_tmp/x.bin"
	tap_check vfmigctl.vfs_unbound test -z "$(pci_driver_of "$vf0")" -a -z "$(pci_driver_of "$vf1")"
	rm -rf "$ctl_tmp"
	rmmod vfmig
	tap_check vfmigctl.modprobe_default modprobe vfmig
fi
