# SPDX-License-Identifier: GPL-2.0
# Helpers for vfmig's guest tests (sourced). TAP output; results also appended to
# $VFMIG_OUT/results as "ok NAME" / "not ok NAME" / "skip NAME" lines for the host to count.

: "${VFMIG_OUT:=/tmp}"
TAP_N=0

tap_result() { # status name [detail]
	TAP_N=$((TAP_N + 1))
	case "$1" in
	ok) echo "ok $TAP_N $2" ;;
	skip) echo "ok $TAP_N $2 # SKIP ${3:-}" ;;
	*) echo "not ok $TAP_N $2${3:+ # $3}" ;;
	esac
	echo "$1 $2" >>"$VFMIG_OUT/results"
}
tap_ok() { tap_result ok "$@"; }
tap_fail() { tap_result "not ok" "$@"; }
tap_check() { # name command...: ok if the command succeeds
	local name=$1
	shift
	if "$@"; then tap_ok "$name"; else tap_fail "$name" "failed: $*"; fi
}
diag() { echo "# $*"; }

# Counts the ok/not ok/skip lines of a kselftest program's TAP output into the results file
# and prints "# PREFIX: N passed, N failed, N skipped". Returns the program's status, or 1 if
# it ran no case at all (a -r filter that matches nothing, a crash before the first case) or
# if every case it ran was skipped: a program that tested nothing has not passed.
# Usage: run_kselftest PREFIX PROGRAM [ARGS...]
run_kselftest() {
	local prefix=$1 log rc line status name p=0 f=0 s=0
	shift
	log=$(mktemp)
	"$@" >"$log" 2>&1
	rc=$?
	sed 's/^/    /' "$log"
	while IFS= read -r line; do
		case "$line" in
		"not ok "[0-9]*) status="not ok" ;;
		"ok "[0-9]*) status=ok ;;
		*) continue ;;
		esac
		name=$(echo "$line" | sed -E 's/^(not )?ok [0-9]+ //; s/ # .*//')
		case "$line" in *"# SKIP"*) status=skip ;; esac
		case "$status" in ok) p=$((p + 1)) ;; skip) s=$((s + 1)) ;; *) f=$((f + 1)) ;; esac
		echo "$status $prefix.$name" >>"$VFMIG_OUT/results"
	done <"$log"
	rm -f "$log"
	echo "# $prefix: $p passed, $f failed, $s skipped (exit $rc)"
	if [ $((p + f + s)) = 0 ]; then
		echo "# $prefix: no test case ran: $*"
		[ "$rc" = 0 ] && rc=1
	elif [ "$s" -gt 0 ] && [ $((p + f)) = 0 ]; then
		echo "# $prefix: every case was skipped: $*"
		[ "$rc" = 0 ] && rc=1
	fi
	return $rc
}

# Runs a KUnit suite of a loaded module (the kernel boots with kunit.enable=1 and without
# autorun) and records its cases (its debugfs KTAP results) as PREFIX.case lines.
# Fails if the suite is missing, has no results, any case failed or every case was skipped.
record_kunit() { # prefix suite
	local d=/sys/kernel/debug/kunit/$2 f n=0 bad=0 nskip=0 line status name
	f=$d/results
	[ -w "$d/run" ] || { diag "no KUnit suite $2 ($d)"; return 1; }
	echo 1 >"$d/run" || return 1
	[ -r "$f" ] || return 1
	sed 's/^/    /' "$f"
	while IFS= read -r line; do
		case "$line" in
		[[:space:]]*"not ok "[0-9]*) status="not ok" ;;
		[[:space:]]*"ok "[0-9]*) status=ok ;;
		*) continue ;;
		esac
		name=$(echo "$line" | sed -E 's/^[[:space:]]*(not )?ok [0-9]+ //; s/ # .*//')
		case "$line" in *"# SKIP"*) status=skip ;; esac
		echo "$status $1.$name" >>"$VFMIG_OUT/results"
		n=$((n + 1))
		[ "$status" = "not ok" ] && bad=1
		[ "$status" = skip ] && nskip=$((nskip + 1))
	done <"$f"
	[ $nskip -gt 0 ] && diag "KUnit $2: $nskip of $n skipped"
	[ $n -gt 0 ] && [ $bad = 0 ] && [ $nskip -lt $n ]
}

# The kernel's taint mask (/proc/sys/kernel/tainted's number). The test kernel has no
# CONFIG_SYSCTL: the helper module vfmig_taint.ko (test_modules/, built with the programs)
# shows it, once loaded.
taint_mask() { cat /sys/module/vfmig_taint/parameters/tainted 2>/dev/null; }

# modprobe vfmig (installed), checked against the CONFIG_KUNIT=y kernel it loads on:
#   module.modprobe              it loads;
#   module.no_kunit_suites       no KUnit suite appeared under /sys/kernel/debug/kunit;
#   module.load_no_test_taint    the taint mask is the same before and after, TAINT_TEST (bit 18,
#                                262144) not in it, and vfmig's own taint flags are "O" (out of
#                                tree; "OE" where module signatures are checked).
# The baseline is read after vfmig_taint.ko is loaded: it is out of tree and unsigned like
# vfmig, so it has already set O (4096), and E (8192) where signatures are checked (never here:
# CONFIG_MODULE_SIG is off), which vfmig's load would set; from there the load must change
# nothing. The test kernel boots without KUnit autorun, which a distribution kernel has
# (CONFIG_KUNIT_AUTORUN_ENABLED): every suite the load brought is run as autorun would at load
# before the mask is read again, so a module with suites fails here as it would taint there.
load_vfmig_taint_checked() {
	local reader=${VFMIG_TAINT_KO:-$bin/test_modules/vfmig_taint.ko} before=/tmp/kunit.before
	local t0 t1 mt new="" s ok=1
	ls /sys/kernel/debug/kunit 2>/dev/null | sort >"$before"
	if ! grep -q '^vfmig_taint ' /proc/modules && ! insmod "$reader"; then
		diag "cannot load the taint reader $reader"
		ok=0
	fi
	t0=$(taint_mask)
	tap_check module.modprobe modprobe vfmig
	for s in $(ls /sys/kernel/debug/kunit 2>/dev/null | sort | comm -13 "$before" -); do
		new="$new $s"
		echo 1 >"/sys/kernel/debug/kunit/$s/run"
	done
	tap_check module.no_kunit_suites test -z "$new"
	[ -z "$new" ] || diag "vfmig brought KUnit suites:$new"
	t1=$(taint_mask)
	mt=$(cat /sys/module/vfmig/taint 2>/dev/null)
	diag "taint mask before modprobe vfmig: ${t0:-?}, after: ${t1:-?}; vfmig's own taint flags: ${mt:-none}"
	if [ -z "$t0" ] || [ -z "$t1" ]; then
		ok=0
	elif [ $(((t0 >> 12) & 1)) != 1 ]; then
		diag "the reader (out of tree) did not see O (4096): not a taint mask"
		ok=0
	elif [ $(((t0 >> 18) & 1)) = 1 ]; then
		diag "TAINT_TEST was set before vfmig was loaded: the check would prove nothing"
		ok=0
	elif [ "$t1" != "$t0" ]; then
		diag "modprobe vfmig added taint bits $((t1 & ~t0))$([ $(((t1 >> 18) & 1)) = 1 ] && echo ' (TAINT_TEST)')"
		ok=0
	fi
	case "$mt" in O | OE) ;; *) diag "vfmig's taint flags are '$mt', not O"; ok=0 ;; esac
	tap_check module.load_no_test_taint test $ok = 1
}

# The path of a program of tools/ (cargo workspace, debug profile): under $CARGO_TARGET_DIR when
# set (scripts/check passes cargo's target directory to the guest), else tools/target. A suite
# that needs the program fails, not skips, when it is not there.
vfmig_tool() { # name
	echo "${CARGO_TARGET_DIR:-$VFMIG_ROOT/tools/target}/debug/$1"
}

pci_driver_of() { basename "$(readlink "/sys/bus/pci/devices/$1/driver" 2>/dev/null)" 2>/dev/null; }

# Binds a function to a driver through driver_override, as VFIO variant drivers are bound.
pci_bind() { # bdf driver
	local cur
	cur=$(pci_driver_of "$1")
	[ "$cur" = "$2" ] && return 0
	[ -n "$cur" ] && echo "$1" >"/sys/bus/pci/devices/$1/driver/unbind"
	echo "$2" >"/sys/bus/pci/devices/$1/driver_override"
	echo "$1" >/sys/bus/pci/drivers_probe
	[ "$(pci_driver_of "$1")" = "$2" ]
}

pci_unbind() { # bdf
	[ -e "/sys/bus/pci/devices/$1/driver" ] && echo "$1" >"/sys/bus/pci/devices/$1/driver/unbind"
	echo >"/sys/bus/pci/devices/$1/driver_override"
}

# The igb PFs (8086:10c9), one BDF per line, in bus order.
find_pfs() {
	local d
	for d in /sys/bus/pci/devices/*; do
		if [ "$(cat "$d/vendor")" = 0x8086 ] && [ "$(cat "$d/device")" = 0x10c9 ]; then
			basename "$d"
		fi
	done
}

# The first igb PF (8086:10c9).
find_pf() {
	local d
	for d in /sys/bus/pci/devices/*; do
		if [ "$(cat "$d/vendor")" = 0x8086 ] && [ "$(cat "$d/device")" = 0x10c9 ]; then
			basename "$d"
			return 0
		fi
	done
	return 1
}

# Loads igb, brings the PF up and creates N VFs that no driver claims. Prints the PF's BDF.
# The PF is the first one unless given.
setup_pf() { # nvfs [pf]
	local pf net
	modprobe igb || return 1
	pf=${2:-$(find_pf)} || return 1
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		net=$(ls "/sys/bus/pci/devices/$pf/net" 2>/dev/null | head -n1)
		[ -n "$net" ] && break
		sleep 0.5
	done
	[ -n "$net" ] || return 1
	ip link set "$net" up || return 1
	echo 0 >"/sys/bus/pci/devices/$pf/sriov_drivers_autoprobe"
	if [ "$(cat "/sys/bus/pci/devices/$pf/sriov_numvfs")" != "$1" ]; then
		echo 0 >"/sys/bus/pci/devices/$pf/sriov_numvfs"
		echo "$1" >"/sys/bus/pci/devices/$pf/sriov_numvfs" || return 1
	fi
	echo "$pf"
}

# The start of a test-VM run: the TAP header and the first igb PF with 2 VFs in $pf, $vf0, $vf1
# (the run ends, failed, without them), named in a diagnostic line.
vm_two_vfs() {
	echo "TAP version 13"
	pf=$(setup_pf 2)
	if [ -z "$pf" ]; then
		tap_fail setup.pf_with_2_vfs "igb PF not found or SR-IOV failed"
		exit 1
	fi
	vf0=$(vf_bdf "$pf" 0)
	vf1=$(vf_bdf "$pf" 1)
}

# vm_two_vfs, then vfmig.ko installed as an operator would and loaded (for the suite wrappers).
vm_two_vfs_vfmig() {
	vm_two_vfs
	diag "PF $pf ($(pf_netdev "$pf")), VF0 $vf0, VF1 $vf1"
	tap_check module.install install_vfmig
	tap_check module.modprobe modprobe vfmig
}

vf_bdf() { # pf index
	basename "$(readlink "/sys/bus/pci/devices/$1/virtfn$2")"
}

pf_netdev() { ls "/sys/bus/pci/devices/$1/net" | head -n1; }

# Installs the freshly built vfmig.ko as an operator would and refreshes module dependencies.
install_vfmig() {
	local rel
	rel=$(uname -r)
	mkdir -p "/lib/modules/$rel/extra" &&
		cp "$VFMIG_ROOT/vfmig.ko" "/lib/modules/$rel/extra/" &&
		depmod -a
}
