# SPDX-License-Identifier: GPL-2.0
# Sourced by run_vm.sh with $pf $vf0 $vf1 set, vfmig loaded and the VFs unbound.
# vfmigctl (tools/vfmigctl) against the real VFs: list/status, check with real sysfs
# identities, and save/restore/dirty failing cleanly (exit 6) with vfmig loaded with
# migration=0 (suite_migration.sh drives the tool with migration on). Leaves both VFs unbound
# and vfmig loaded with the default.

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
	tap_check vfmigctl.vfs_unbound test -z "$(pci_driver_of "$vf0")" -a -z "$(pci_driver_of "$vf1")"
	rm -rf "$ctl_tmp"
	rmmod vfmig
	tap_check vfmigctl.modprobe_default modprobe vfmig
fi
