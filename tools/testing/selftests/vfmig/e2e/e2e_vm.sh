#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The end-to-end scenarios in the test VM (scripts/vm --igb 2 -- THIS [SCENARIO...]): QEMU, as
# packaged (the host's binary, over the shared root), live-migrates an inner guest whose stock
# igbvf drives a VF bound to vfmig, with vfmig_e2e.py driving QMP and checking the guest's
# traffic. The inner guest boots the test kernel (bzImage) with an uncompressed busybox
# initramfs built here (the test kernel has no compressed-initramfs support), igbvf.ko and
# guest-init.
#
# Scenarios (default: plain):
#   plain    VF0 -> VF1 -> VF0 on one PF: a live migration and a second one back, with traffic
#            throughout and vfmig's device DMA logging in use.
#   crosspf  VF0 -> a VF of the second PF (standing for another host) -> VF0; after each switch
#            the address the guest talks to moves to the target PF's netdev, which gets the
#            source PF's MAC (the same gateway on the other host).
#   refuse   VF0 -> VF1 bound to vfio-pci (no migration driver): the migration fails and the
#            guest keeps running on VF0 with its traffic.
#
# Knobs (scripts/vm --append KEY=value): VFMIG_E2E_QEMU (default qemu-system-x86_64).
# Ends with "# guest: N passed, N failed".

. "$(dirname "$0")/../lib.sh"

e2e_dir=$(cd "$(dirname "$0")" && pwd)
work=$VFMIG_OUT/e2e	# kept on the host (scripts/vm --out)
pf_addr=192.168.77.1
guest_addr=192.168.77.2

# The inner guest's initramfs: busybox (static), /init, igbvf.ko; newc, uncompressed.
e2e_initramfs() { # out
	local d ko
	d=$(mktemp -d)
	mkdir -p "$d/bin" "$d/proc" "$d/sys" "$d/dev"
	cp /bin/busybox "$d/bin/busybox" || return 1
	cp "$e2e_dir/guest-init" "$d/init" || return 1
	ko=$(modinfo -n igbvf) || return 1
	cp "$ko" "$d/igbvf.ko" || return 1
	(cd "$d" && find . | cpio -o -H newc --quiet) >"$1" || return 1
	rm -rf "$d"
}

vm_two_vfs_vfmig
pfif=$(pf_netdev "$pf")
e2e_bind() { pci_bind "$vf0" vfmig && pci_bind "$vf1" vfmig; }
tap_check e2e.vfs_to_vfmig e2e_bind
ip addr add "$pf_addr/24" dev "$pfif"
ip link set "$pfif" up
mkdir -p "$work"
tap_check e2e.initramfs e2e_initramfs "$work/initrd.cpio"

for scenario in ${*:-plain}; do
	case $scenario in
	plain)
		run_kselftest e2e_plain python3 "$e2e_dir/vfmig_e2e.py" --work "$work/plain" \
			--qemu "${VFMIG_E2E_QEMU:-qemu-system-x86_64}" \
			--kernel "$VFMIG_KDIR/arch/x86/boot/bzImage" --initrd "$work/initrd.cpio" \
			--guest-addr "$guest_addr" --vf "$vf0" --vf "$vf1" --vf "$vf0" \
			--expect-device-logging yes
		tap_check e2e_plain.passed test $? -eq 0
		;;
	crosspf)
		pf2=$(find_pfs | sed -n 2p)
		if [ -z "$pf2" ] || [ "$(setup_pf 1 "$pf2")" != "$pf2" ]; then
			tap_fail e2e_crosspf.setup "no second igb PF with a VF"
			continue
		fi
		pf2vf=$(vf_bdf "$pf2" 0)
		pf2if=$(pf_netdev "$pf2")
		pci_bind "$pf2vf" vfmig
		ip link set "$pf2if" up
		mac1=$(cat "/sys/class/net/$pfif/address")
		mac2=$(cat "/sys/class/net/$pf2if/address")
		# the gateway moves with the guest: address and MAC onto the target PF's netdev
		to2="ip addr del $pf_addr/24 dev $pfif; ip link set $pfif address $mac2;"
		to2="$to2 ip link set $pf2if address $mac1; ip addr add $pf_addr/24 dev $pf2if"
		to1="ip addr del $pf_addr/24 dev $pf2if; ip link set $pf2if address $mac2;"
		to1="$to1 ip link set $pfif address $mac1; ip addr add $pf_addr/24 dev $pfif"
		run_kselftest e2e_crosspf python3 "$e2e_dir/vfmig_e2e.py" --work "$work/crosspf" \
			--qemu "${VFMIG_E2E_QEMU:-qemu-system-x86_64}" \
			--kernel "$VFMIG_KDIR/arch/x86/boot/bzImage" --initrd "$work/initrd.cpio" \
			--guest-addr "$guest_addr" --vf "$vf0" --vf "$pf2vf" --vf "$vf0" \
			--switch-cmd "$to2" --switch-cmd "$to1" --expect-device-logging yes
		tap_check e2e_crosspf.passed test $? -eq 0
		pci_unbind "$pf2vf"
		echo 0 >"/sys/bus/pci/devices/$pf2/sriov_numvfs"
		;;
	refuse)
		pci_unbind "$vf1"
		modprobe vfio-pci
		pci_bind "$vf1" vfio-pci
		run_kselftest e2e_refuse python3 "$e2e_dir/vfmig_e2e.py" --work "$work/refuse" \
			--qemu "${VFMIG_E2E_QEMU:-qemu-system-x86_64}" \
			--kernel "$VFMIG_KDIR/arch/x86/boot/bzImage" --initrd "$work/initrd.cpio" \
			--guest-addr "$guest_addr" --vf "$vf0" --vf "$vf1" --expect-refusal
		tap_check e2e_refuse.passed test $? -eq 0
		pci_unbind "$vf1"
		pci_bind "$vf1" vfmig
		;;
	*)
		tap_fail "e2e.$scenario" "unknown scenario"
		;;
	esac
	# what the VMs printed, for a failure's diagnosis
	for f in "$work/$scenario"/*.console; do
		[ -f "$f" ] && diag "$(basename "$f"): $(grep -c e2e-hb "$f") heartbeats, last:" \
			"$(grep e2e-hb "$f" | tail -n 1)"
	done
	for f in "$work/$scenario"/*.stderr; do
		[ -s "$f" ] && diag "$(basename "$f"): $(tail -n 3 "$f" | tr '\n' ' ')"
	done
done

ip addr del "$pf_addr/24" dev "$pfif"
pci_unbind "$vf0"
pci_unbind "$vf1"
tap_check module.rmmod rmmod vfmig

fails=$(grep -c '^not ok' "$VFMIG_OUT/results")
passes=$(grep -c '^ok' "$VFMIG_OUT/results")
echo "# guest: $passes passed, $fails failed"
[ "$fails" = 0 ]
