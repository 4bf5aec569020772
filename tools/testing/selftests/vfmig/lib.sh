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
