# SPDX-License-Identifier: GPL-2.0
# Sourced by run_vm.sh with $pf $vf0 $vf1 set, vfmig loaded and the VFs unbound.
# How host tools bind a VF to vfmig. libvirt (>= 10) binds a managed hostdev to the VFIO variant
# driver whose "vfio_pci:" alias in the running kernel's modules.alias matches the device's
# modalias with the fewest wildcards, by writing its name to driver_override
# (src/util/virpci.c); driverctl and a manual binding write driver_override too
# (Documentation/vfmig/operation.rst, "Bind"). Checks, with the alias line depmod installed:
# libvirt's rule and kmod (modprobe -R) pick vfmig for both VFs and not for the PF; binding
# the way libvirt does gives vfmig; forcing plain vfio-pci (libvirt's <driver model='vfio-pci'/>)
# gives vfio-pci. libvirt itself is not run here (its node-device driver needs udev, which the
# test VM does not run). Leaves the VFs unbound.

bind_alias=/lib/modules/$(uname -r)/modules.alias

# best_vfio_variant MODALIAS [ALIASFILE]: libvirt's choice for a device with this modalias:
# among the "alias vfio_pci:..." lines that match "vfio_" + MODALIAS, the module of the one with
# the fewest "*" (the first of equals); nothing if none matches.
best_vfio_variant() {
	local ma="vfio_$1" kw pat mod n best="" bestn=
	while read -r kw pat mod; do
		[ "$kw" = alias ] || continue
		case $pat in vfio_pci:*) ;; *) continue ;; esac
		# shellcheck disable=SC2254 # $pat is the glob
		case $ma in $pat) ;; *) continue ;; esac
		n=$(printf '%s' "$pat" | tr -cd '*' | wc -c)
		if [ -z "$bestn" ] || [ "$n" -lt "$bestn" ]; then
			best=$mod bestn=$n
		fi
	done <"${2:-$bind_alias}"
	echo "$best"
}

# The rule itself, on a made-up alias file: a more specific variant wins over a generic one.
bind_tmp=$(mktemp)
printf '%s\n' 'alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci' \
	'alias vfio_pci:v00008086d000010CAsv*sd*bc*sc*i* vfmig' \
	'alias pci:v00008086d000010CAsv*sd*bc*sc*i* igbvf' >"$bind_tmp"
tap_check binding.rule_prefers_specific \
	test "$(best_vfio_variant pci:v00008086d000010CAsv00001AF4sd00001100bc02sc00i00 "$bind_tmp")" = vfmig
tap_check binding.rule_generic_for_others \
	test "$(best_vfio_variant pci:v00008086d000010C9sv00001AF4sd00001100bc02sc00i00 "$bind_tmp")" = vfio_pci
rm -f "$bind_tmp"

tap_check binding.alias_installed \
	grep -qx 'alias vfio_pci:v00008086d000010CAsv\*sd\*bc\*sc\*i\* vfmig' "$bind_alias"
for bind_i in 0 1; do
	eval bind_vf=\$vf$bind_i
	bind_ma=$(cat "/sys/bus/pci/devices/$bind_vf/modalias")
	bind_best=$(best_vfio_variant "$bind_ma")
	diag "$bind_vf: modalias $bind_ma; libvirt's rule picks: ${bind_best:-nothing}"
	tap_check "binding.libvirt_rule_picks_vfmig_vf$bind_i" test "$bind_best" = vfmig
	tap_check "binding.kmod_resolves_vfmig_vf$bind_i" sh -c 'modprobe -R "vfio_$1" | grep -qx vfmig' sh "$bind_ma"
done
# (with vfio_pci built into the test kernel nothing matches the PF; where it is a module, its own
# catch-all alias does, which is right too: only vfmig must not be picked)
bind_best=$(best_vfio_variant "$(cat "/sys/bus/pci/devices/$pf/modalias")")
tap_check binding.pf_not_vfmig test "$bind_best" != vfmig

# Bound the way libvirt binds a managed hostdev (driver_override + drivers_probe), and with
# plain vfio-pci forced instead.
tap_check binding.libvirt_way_vfmig pci_bind "$vf0" "$(best_vfio_variant "$(cat "/sys/bus/pci/devices/$vf0/modalias")")"
tap_check binding.bound_to_vfmig test "$(pci_driver_of "$vf0")" = vfmig
pci_unbind "$vf0"
tap_check binding.vfio_pci_forced pci_bind "$vf0" vfio-pci
pci_unbind "$vf0"
tap_check binding.vfs_unbound test -z "$(pci_driver_of "$vf0")" -a -z "$(pci_driver_of "$vf1")"
unset bind_alias bind_i bind_vf bind_ma bind_best bind_tmp
unset -f best_vfio_variant
