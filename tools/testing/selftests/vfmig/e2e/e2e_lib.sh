# SPDX-License-Identifier: GPL-2.0
# Sourced (after ../lib.sh) by e2e_vm.sh and ../suite_e2e.sh, with $pf $vf0 $vf1 set and vfmig
# loaded: the end-to-end runner's setup in the test VM (see e2e_vm.sh). e2e_setup binds VF0 and
# VF1 to vfmig, gives the PF netdev the address the inner guest talks to and builds the inner
# guest's initramfs; e2e_diag prints what a scenario's VMs said; e2e_teardown undoes the setup
# (VFs unbound).

e2e_dir=$VFMIG_ROOT/tools/testing/selftests/vfmig/e2e
work=$VFMIG_OUT/e2e	# kept on the host (scripts/vm --out)
pf_addr=192.168.77.1
guest_addr=192.168.77.2

# The inner guest's initramfs: busybox (static), /init, igbvf.ko; newc, uncompressed.
e2e_initramfs() { # out
	local d ko
	d=$(mktemp -d)
	mkdir -p "$d/bin" "$d/proc" "$d/sys" "$d/dev"
	cp /bin/busybox "$d/bin/busybox" || return 1
	# the applets guest-init uses (busybox --install in the guest takes seconds of nested TCG)
	for a in sh mount insmod sed cat ip sleep; do ln -s busybox "$d/bin/$a"; done
	cp "$e2e_dir/guest-init" "$d/init" || return 1
	ko=$(modinfo -n igbvf) || return 1
	cp "$ko" "$d/igbvf.ko" || return 1
	(cd "$d" && find . | cpio -o -H newc --quiet) >"$1" || return 1
	rm -rf "$d"
}

e2e_bind() { pci_bind "$vf0" vfmig && pci_bind "$vf1" vfmig; }

e2e_setup() {
	tap_check e2e.fresh_vfs e2e_fresh_vfs || return 1
	pfif=$(pf_netdev "$pf")
	tap_check e2e.vfs_to_vfmig e2e_bind || return 1
	ip addr add "$pf_addr/24" dev "$pfif"
	ip link set "$pfif" up
	mkdir -p "$work"
	tap_check e2e.initramfs e2e_initramfs "$work/initrd.cpio"
}

# Diagnostic lines: the queue registers of the PF's VFs 0 and 1 as its BAR0 shows them (QEMU's
# igb: VF n's queues are n and n + 8): TXDCTL, TDWBAL/H (head write-back), DCA_TXCTRL, RXDCTL,
# SRRCTL.
e2e_vf_queue_regs() { # what
	python3 - "/sys/bus/pci/devices/$pf/resource0" "$1" <<'PY' | while read -r l; do diag "$l"; done
import mmap, struct, sys
with open(sys.argv[1], "r+b") as f:
    m = mmap.mmap(f.fileno(), 0x10000)
    rd = lambda o: struct.unpack_from("<I", m, o)[0]
    for vf in (0, 1):
        for q in (vf, vf + 8):
            t, r = 0xE000 + 0x40 * q, 0xC000 + 0x40 * q
            print(f"{sys.argv[2]}: VF{vf} queue {q}: TXDCTL {rd(t + 0x28):#010x} "
                  f"TDWBAL {rd(t + 0x38):#010x} TDWBAH {rd(t + 0x3C):#010x} "
                  f"DCA_TXCTRL {rd(t + 0x14):#010x} RXDCTL {rd(r + 0x28):#010x} "
                  f"SRRCTL {rd(r + 0x0C):#010x}")
PY
}

# Fresh VFs for the inner guest. QEMU's igb resets only a VF's queue enables on a VF FLR (real
# silicon resets all its registers), and igbvf read-modify-writes TXDCTL, RXDCTL and DCA_TXCTRL
# and never writes TDWBAL: what the earlier suites' programs left in the queue registers (they
# program raw and hostile values) would be the guest's. After a full guest run its Tx
# completions never came (which register did it is not known; the registers are printed).
# Recreating the VFs resets the PF (igb's SR-IOV reinit), and with it every queue register. The
# VFs keep their addresses.
e2e_fresh_vfs() {
	e2e_vf_queue_regs before
	pci_unbind "$vf0"
	pci_unbind "$vf1"
	echo 0 >"/sys/bus/pci/devices/$pf/sriov_numvfs" &&
		echo 2 >"/sys/bus/pci/devices/$pf/sriov_numvfs" &&
		[ "$(vf_bdf "$pf" 0)" = "$vf0" ] && [ "$(vf_bdf "$pf" 1)" = "$vf1" ] || return 1
	e2e_vf_queue_regs after
}

# The second PF's VF0 on vfio-pci (no migration driver): a target that must refuse. Prints it.
vfio_pci_target() {
	local pf2 v
	pf2=$(find_pfs | sed -n 2p)
	[ -n "$pf2" ] && [ "$(setup_pf 1 "$pf2")" = "$pf2" ] || return 1
	v=$(vf_bdf "$pf2" 0)
	modprobe vfio-pci && pci_bind "$v" vfio-pci >/dev/null || return 1
	echo "$v"
}

# e2e NAME ARGS...: one scenario of vfmig_e2e.py; VFMIG_E2E_ARGS (comma-separated, e.g.
# --after=90,--guest-heartbeat, from scripts/vm --append) is appended to every one.
e2e() {
	local name=$1
	shift
	run_kselftest "e2e_$name" python3 "$e2e_dir/vfmig_e2e.py" --work "$work/$name" \
		--qemu "${VFMIG_E2E_QEMU:-qemu-system-x86_64}" \
		--kernel "$VFMIG_KDIR/arch/x86/boot/bzImage" --initrd "$work/initrd.cpio" \
		--guest-addr "$guest_addr" "$@" $(echo "${VFMIG_E2E_ARGS:-}" | tr , ' ')
	tap_check "e2e_$name.passed" test $? -eq 0
}

# What the VMs of scenario $1 printed, for a failure's diagnosis.
e2e_diag() {
	local f
	for f in "$work/$1"/*.hb; do
		[ -f "$f" ] && diag "$(basename "$f"): $(grep -c e2e-hb "$f") heartbeats, last:" \
			"$(grep e2e-hb "$f" | tail -n 1)"
	done
	for f in "$work/$1"/*.stderr; do
		[ -s "$f" ] && diag "$(basename "$f"): $(tail -n 3 "$f" | tr '\n' ' ')"
	done
}

e2e_teardown() {
	ip addr del "$pf_addr/24" dev "$pfif"
	pci_unbind "$vf0"
	pci_unbind "$vf1"
}
