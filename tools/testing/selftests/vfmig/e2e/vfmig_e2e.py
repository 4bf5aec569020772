#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""vfmig end to end: an unmodified QEMU live-migrates a guest whose stock igbvf drives a VF.

Runs inside the test VM (scripts/vm --igb 2 -- e2e/e2e_vm.sh), where the VFs are bound to vfmig
and the PF netdev has an address. For each migration it starts a destination QEMU with
-incoming on the target VF (the command line identical to the source's apart from host= and the
file names), migrates over QMP, quits the source and checks the guest:

  * traffic: ICMP echo requests with sequence-numbered, checksummed payloads to the guest every
    INTERVAL ms, from before the migration until some seconds after it. Every reply's payload is
    compared with what was sent; the largest gap between replies is the guest-visible outage.
  * the guest's heartbeat on its console (guest-init): alive after the switch, and its ICMP/IP
    checksum-error counters unchanged (a frame corrupted in guest memory counts there).
  * QEMU's own figures (query-migrate: downtime, total time, RAM and VFIO bytes) and that it
    used vfmig's DMA logging (a trace of vfio_device_dirty_tracking_start).

Output: TAP ("ok N NAME # detail"; run_kselftest prefixes the names) and one "# e2e: ..." line
of figures per migration. Exit 0 only if every check passed.
"""

import argparse
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib

ICMP_ECHO, ICMP_REPLY = 8, 0
PAYLOAD = 256               # bytes after the ICMP header: seq (8), send time (8), data, crc32


def log(msg):
    print(f"# {msg}", flush=True)


class Tap:
    def __init__(self):
        self.failed, self.n = 0, 0

    def skip(self, name, why):
        self.n += 1
        print(f"ok {self.n} {name} # SKIP {why}", flush=True)

    def check(self, ok, name, detail=""):
        self.n += 1
        if not ok:
            self.failed += 1
        print(f"{'ok' if ok else 'not ok'} {self.n} {name}"
              f"{' # ' + detail if detail else ''}", flush=True)
        return ok


# --- QMP ------------------------------------------------------------------------------------

class Qmp:
    def __init__(self, path, timeout=60):
        end = time.time() + timeout
        while True:
            try:
                self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.s.connect(path)
                break
            except OSError:
                self.s.close()
                if time.time() > end:
                    raise
                time.sleep(0.2)
        self.s.settimeout(120)               # a QEMU that stops answering fails the run
        self.f = self.s.makefile("rw")
        self._read()                         # greeting
        self.cmd("qmp_capabilities")

    def _read(self):
        while True:
            line = self.f.readline()
            if not line:
                raise EOFError("QMP closed")
            msg = json.loads(line)
            if "event" not in msg:
                return msg

    def cmd(self, name, **args):
        self.f.write(json.dumps({"execute": name, "arguments": args}) + "\n")
        self.f.flush()
        r = self._read()
        if "error" in r:
            raise RuntimeError(f"{name}: {r['error'].get('desc')}")
        return r.get("return")

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


# --- the VMM --------------------------------------------------------------------------------

def set_capabilities(args, vmm):
    """The migration capabilities, the same on both ends. switchover-ack (with the return path
    it needs): the source switches over only once the destination has loaded the devices'
    pre-copy initial data, which is when a vfmig target arms itself (the PF handshake of the
    restore, outside the downtime); without it QEMU may send the initial data only with the
    final data."""
    if args.switchover_ack:
        vmm.qmp.cmd("migrate-set-capabilities", capabilities=[
            {"capability": "return-path", "state": True},
            {"capability": "switchover-ack", "state": True}])


class Vmm:
    """One QEMU process with the VF `bdf`, its console and QMP socket under `work`."""

    def __init__(self, args, name, bdf, incoming=None, device_opts=None):
        """`bdf` None: no VF (one may be hot-added into the root port `rp0` later)."""
        self.name, self.bdf = name, bdf
        self.console = os.path.join(args.work, f"{name}.console")
        self.hb_path = os.path.join(args.work, f"{name}.hb")    # guest-init's virtio console
        self.qmp_path = os.path.join(args.work, f"{name}.qmp")
        self.trace = os.path.join(args.work, f"{name}.trace")
        for p in (self.console, self.hb_path, self.qmp_path, self.trace):
            if os.path.exists(p):
                os.unlink(p)
        cmd = [args.qemu, "-accel", "tcg", "-machine", "q35", "-cpu", "qemu64",
               "-m", str(args.mem), "-smp", "1", "-nodefaults", "-no-user-config",
               "-display", "none", "-no-reboot",
               "-kernel", args.kernel, "-initrd", args.initrd,
               # pcie_ports=native: pciehp on the root port although the test kernel, without
               # ASPM support, does not ask the firmware (_OSC) for control of the PCIe ports
               "-append", "console=ttyS0 panic=-1 quiet softlockup_panic=0 hung_task_panic=0 "
               "pcie_ports=native "
               f"nowatchdog printk.devkmsg=on vfmig_e2e_addr={args.guest_addr}/24"
               f"{' ' + args.append if getattr(args, 'append', '') else ''}",
               # the VF behind a PCIe root port, where it can be hot-unplugged and -added:
               # with native PCIe hotplug (pciehp), as q35's default ACPI hotplug needs
               # CONFIG_HOTPLUG_PCI_ACPI, which the test kernel has not
               "-global", "ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off",
               "-device", "pcie-root-port,id=rp0,chassis=1,slot=1,addr=0x3",
               "-serial", f"file:{self.console}",
               "-device", "virtio-serial-pci,id=vser,addr=0x4",
               "-chardev", f"file,id=hb,path={self.hb_path}",
               "-device", "virtconsole,chardev=hb,bus=vser.0",
               "-qmp", f"unix:{self.qmp_path},server=on,wait=off",
               "-trace", "vfio_device_dirty_tracking_start", "-trace", "vfio_migration_*",
               "-trace", "vfio_save_iterate", "-trace", "vfio_load_state*",
               "-D", self.trace]
        if bdf:
            opts = args.device_opts if device_opts is None else device_opts
            cmd += ["-device", f"vfio-pci,host={bdf},id=vf,bus=rp0{opts}"]
        cmd += list(args.qemu_arg)
        if incoming:
            cmd += ["-incoming", "defer"]
        self.cmdline = cmd
        self.err = open(os.path.join(args.work, f"{name}.stderr"), "w")
        self.p = subprocess.Popen(cmd, stdout=self.err, stderr=subprocess.STDOUT)
        VMMS.append(self.p)
        self.qmp = Qmp(self.qmp_path)
        if incoming:
            set_capabilities(args, self)
            self.qmp.cmd("migrate-incoming", uri=incoming)

    def console_text(self):
        """What the guest printed: its kernel's serial console and guest-init's virtio
        console."""
        text = ""
        for path in (self.console, self.hb_path):
            try:
                with open(path, errors="replace") as f:
                    text += f.read()
            except OSError:
                pass
        return text

    def wait_console(self, what, timeout):
        end = time.time() + timeout
        while time.time() < end:
            if what in self.console_text():
                return True
            if self.p.poll() is not None:
                return False
            time.sleep(0.5)
        return False

    def heartbeats(self):
        hb = []
        for line in self.console_text().splitlines():
            # after the kernel log's "[   12.345678] " (guest-init prints through /dev/kmsg)
            f = line[line.find("e2e-hb"):].split() if "e2e-hb" in line else []
            if len(f) >= 12 and f[0] == "e2e-hb":
                num = lambda v: int(v) if v.isdigit() else None  # "-": no eth0 now
                hb.append({"t": float(f[1]), "icmp_csum_err": num(f[3]),
                           "ip_hdr_err": num(f[5]), "irq": num(f[7]), "rx": num(f[9]),
                           "tx": num(f[11]),
                           "in_echos": num(f[13]) if len(f) >= 16 else None,
                           "out_echo_reps": num(f[15]) if len(f) >= 16 else None})
        return hb

    def trace_text(self):
        try:
            with open(self.trace, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def quit(self):
        try:
            self.qmp.cmd("quit")
        except (OSError, EOFError, RuntimeError):
            pass
        self.qmp.close()
        try:
            self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        self.err.close()


# --- traffic ------------------------------------------------------------------------------

def icmp_csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def payload(seq, t):
    body = bytes((seq * 31 + i * 7) & 0xFF for i in range(PAYLOAD - 20))
    head = struct.pack("!Qd", seq, t) + body
    return head + struct.pack("!I", zlib.crc32(head))


class Pinger:
    """Echo requests every `interval` s to `addr`; every reply checked and timed."""

    def __init__(self, addr, interval):
        self.addr, self.interval = addr, interval
        self.s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        self.s.settimeout(0.2)
        self.ident = os.getpid() & 0xFFFF
        self.sent = {}                       # seq -> send time
        self.replies = []                    # (arrival, seq)
        self.corrupt = []                    # (seq, why)
        self.dups = 0
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.seq = 0
        self.tx = threading.Thread(target=self._send, daemon=True)
        self.rx = threading.Thread(target=self._recv, daemon=True)

    def start(self):
        self.tx.start()
        self.rx.start()

    def _send(self):
        nxt = time.monotonic()
        while not self.stop.is_set():
            now = time.monotonic()
            p = payload(self.seq, now)
            h = struct.pack("!BBHHH", ICMP_ECHO, 0, 0, self.ident, self.seq & 0xFFFF)
            pkt = struct.pack("!BBHHH", ICMP_ECHO, 0, icmp_csum(h + p), self.ident,
                              self.seq & 0xFFFF) + p
            with self.lock:
                self.sent[self.seq] = now
            try:
                self.s.sendto(pkt, (self.addr, 0))
            except OSError:
                pass
            self.seq += 1
            nxt += self.interval
            delay = nxt - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                nxt = time.monotonic()

    def _recv(self):
        seen = set()
        while not self.stop.is_set():
            try:
                data, _ = self.s.recvfrom(4096)
            except socket.timeout:
                continue
            now = time.monotonic()
            ihl = (data[0] & 0xF) * 4
            icmp = data[ihl:]
            if len(icmp) < 8:
                continue
            typ, _, _, ident, _ = struct.unpack("!BBHHH", icmp[:8])
            if typ != ICMP_REPLY or ident != self.ident:
                continue
            p = icmp[8:]
            if len(p) != PAYLOAD:
                self.corrupt.append((-1, f"length {len(p)}"))
                continue
            seq = struct.unpack("!Q", p[:8])[0]
            with self.lock:
                t = self.sent.get(seq)
            if t is None or p != payload(seq, t):
                self.corrupt.append((seq, "payload differs from the request's"))
                continue
            if seq in seen:
                self.dups += 1
                continue
            seen.add(seq)
            self.replies.append((now, seq))

    def finish(self):
        self.stop.set()
        self.tx.join()
        self.rx.join()
        self.s.close()

    def gaps(self, t0, t1):
        """The largest gap between replies arriving in [t0, t1], with where it started."""
        times = [t0] + sorted(a for a, _ in self.replies if t0 <= a <= t1) + [t1]
        best, at = 0.0, t0
        for a, b in zip(times, times[1:]):
            if b - a > best:
                best, at = b - a, a
        return best, at

    def lost(self, t0, t1):
        """Requests sent in [t0, t1] that got no reply."""
        got = {s for _, s in self.replies}
        with self.lock:
            return sorted(s for s, t in self.sent.items() if t0 <= t <= t1 and s not in got)


# --- one migration ------------------------------------------------------------------------

def vfmig_state(bdf):
    """vfmig's debugfs state file of the VF `bdf` as a dict (empty if there is none)."""
    try:
        with open(f"/sys/kernel/debug/vfio/{bdf}/vfmig/state") as f:
            return dict(line.split(": ", 1) for line in f.read().splitlines() if ": " in line)
    except OSError:
        return {}


def run_switch_cmd(cmd, tag):
    """A command run once the migration completed (e.g. moving the address the guest talks
    to onto the target PF's netdev, as the same gateway on another host would be)."""
    if not cmd:
        return
    r = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True)
    log(f"{tag}: switch command ({r.returncode}): {cmd} {r.stdout.strip()} {r.stderr.strip()}")


ROWS = []    # one dict of figures per completed migration, for --bench's table
VMMS = []    # every QEMU started, killed at exit if still there (they hold VFs)
RX_RING = 256   # igbvf's default Rx ring size (IGBVF_DEFAULT_RXD)


def trapped(bdf):
    """vfmig's count of trapped BAR0 accesses of the VF `bdf` (reads + writes), or None."""
    st = vfmig_state(bdf)
    try:
        return int(st["trapped_reads"]) + int(st["trapped_writes"])
    except (KeyError, ValueError):
        return None


def wait_migration(args, src):
    """Polls the source until the migration ends; its last query-migrate, with the most DMA
    logging reports vfmig counted on the source's VF meanwhile ("vfmig-dirty-reports": the
    counters go with the logging when QEMU stops it)."""
    info, status = {}, ""
    reports = 0
    end = time.time() + args.migrate_timeout
    raised = released = False
    t0 = time.time()
    while time.time() < end:
        if src.bdf:
            try:
                reports = max(reports, int(vfmig_state(src.bdf).get("dirty_reports", "0")))
            except ValueError:
                pass
        info = src.qmp.cmd("query-migrate")
        status = info.get("status", "")
        if status in ("completed", "failed", "cancelled"):
            break
        if (getattr(args, "release_after", 0) and not released
                and time.time() - t0 > args.release_after):
            # the stretched pre-copy has run long enough: the bandwidth back to 16 MiB/s, so
            # that it converges (a guest dirtying more than the stretched rate never would)
            src.qmp.cmd("migrate-set-parameters", **{"max-bandwidth": 16 << 20})
            log(f"pre-copy stretched for {args.release_after:.0f} s: max-bandwidth back to "
                "16 MiB/s")
            released = True
        if args.converge_after and not raised and time.time() - t0 > args.converge_after:
            # not converging (every page dirty every round): let it switch over
            src.qmp.cmd("migrate-set-parameters", **{"downtime-limit": 20000})
            log(f"not converged in {args.converge_after:.0f} s: downtime limit raised to 20 s")
            raised = True
        time.sleep(0.2)
    info["vfmig-limit-raised"] = raised
    info["vfmig-dirty-reports"] = reports
    return info, status


def migrate(args, tap, src, dst_name, dst_bdf, ping, tag, switch_cmd=None, expect="completed",
            dst_opts=None):
    """src (running) -> a new QEMU on dst_bdf (with the device options dst_opts, default
    --device-opts). Returns the destination Vmm, or None (with expect "failed": the source,
    still running, after the checks that it is)."""
    uri = f"unix:{os.path.join(args.work, tag + '.mig')}"
    try:
        dst = Vmm(args, dst_name, dst_bdf, incoming=uri, device_opts=dst_opts)
    except (OSError, EOFError, RuntimeError) as e:
        # a destination that does not even start (refused at realize)
        log(f"{tag}: destination QEMU did not start: {e}")
        dst = None
    hb0 = src.heartbeats()
    dst0 = vfmig_state(dst_bdf)
    t_start = time.monotonic()
    info, status = {}, ""
    blocked = None
    paused = None       # (from, to): the guest paused by the runner itself (--pause-resume)
    params = {"downtime-limit": args.downtime_limit, "max-bandwidth": args.max_bandwidth}
    try:
        src.qmp.cmd("migrate-set-parameters", **params)
        set_capabilities(args, src)
        if args.pause_resume:
            # a guest paused before the migration (its VF stopped with it) ...
            t_pause = time.monotonic()
            src.qmp.cmd("stop")
        src.qmp.cmd("migrate", uri=uri)
        if args.pause_resume:
            # ... and resumed while the migration runs
            time.sleep(args.pause_resume)
            st = src.qmp.cmd("query-migrate").get("status")
            src.qmp.cmd("cont")
            paused = (t_pause, time.monotonic())
            tap.check(st == "active", f"{tag}.resumed_during_migration",
                      f"guest resumed {args.pause_resume:.1f} s into the migration ({st})")
    except RuntimeError as e:
        info, status, blocked = {"error-desc": str(e)}, "failed", str(e)
    if args.expect_blocked:
        # refused before it started: QEMU's migration blocker from realize
        tap.check(blocked is not None and args.expect_blocked in blocked,
                  f"{tag}.blocked_before_start",
                  f"migrate: {blocked if blocked is not None else 'accepted'}")
    if status == "failed" and expect != "failed":
        tap.check(False, f"{tag}.migrate_started", info["error-desc"])
        if dst:
            dst.quit()
        return None
    if status != "failed":
        info, status = wait_migration(args, src)
    t_done = time.monotonic()
    detail = f"status {status}{': ' + info.get('error-desc', '') if status == 'failed' else ''}"
    if expect == "failed":
        # A refused migration: the source goes on, its VF working.
        # refused by the destination QEMU (it started, then could not load the device), or,
        # with --expect-blocked, by the source before it started
        tap.check(status in ("failed", "cancelled") and (dst is not None or args.expect_blocked),
                  f"{tag}.refused",
                  f"{detail}{'' if dst else '; the destination QEMU did not start'}")
        if dst:
            dst.quit()
        # the source goes on by itself (nothing here resumes it); under nested TCG its guest
        # was seen silent for 17 s after a refusal (and longer on a CI machine), then
        # answering again: the window is --after seconds from when it answers again, within
        # --recovery seconds
        need = int(args.after / args.interval * args.min_answered)
        # QEMU put the source's device back: RUNNING, vfmig's DMA logging stopped (QEMU's
        # cleanup may follow its "failed" by a moment)
        end = time.monotonic() + 10
        while True:
            src_vf0 = vfmig_state(src.bdf)
            back = (src_vf0.get("migration_state") == "RUNNING"
                    and src_vf0.get("dirty_logging") == "off")
            if back or time.monotonic() > end:
                break
            time.sleep(0.2)
        tap.check(back, f"{tag}.source_vf_running",
                  f"source VF {src.bdf}: migration_state {src_vf0.get('migration_state', '?')}, "
                  f"dirty_logging {src_vf0.get('dirty_logging', '?')}")
        end = time.monotonic() + args.recovery
        while (time.monotonic() < end
               and not [a for a, _ in ping.replies if a > t_done + 1]):
            time.sleep(0.5)
        first = [a for a, _ in ping.replies if a > t_done + 1]
        t_first = min(first) if first else time.monotonic()
        silent = t_first - t_done
        time.sleep(args.after)
        t_end = time.monotonic()
        st = src.qmp.cmd("query-status")
        tap.check(st.get("status") == "running", f"{tag}.source_running", st.get("status", "?"))
        # the replies of the window that follows the first one (not of the silence before)
        after = [s for a, s in ping.replies if t_first <= a <= t_first + args.after]
        src_vf1 = vfmig_state(src.bdf)
        # what tells a silent guest from a broken VF: the guest's driver still touching the
        # VF (vfmig's trapped accesses) and the last heartbeats
        trapped = {k: int(src_vf1.get(k, "0")) - int(src_vf0.get(k, "0"))
                   for k in ("trapped_reads", "trapped_writes")}
        tap.check(len(after) >= need, f"{tag}.source_traffic",
                  f"{len(after)} replies in the {args.after:.0f} s from the first after the refusal, "
                  f"which came {silent:.1f} s after it "
                  f"(waited up to {args.recovery:.0f} s, then {args.after:.0f} s); VF accesses "
                  f"by the guest meanwhile {trapped}; the source VF's dirty logging "
                  f"{src_vf1.get('dirty_logging', '?')}, migration state "
                  f"{src_vf1.get('migration_state', '?')}; last heartbeats "
                  f"{src.heartbeats()[-3:]}")
        gap, _ = ping.gaps(t_start - 1, t_end)
        print(f"# e2e: {tag}: {src.bdf} -> {dst_bdf} refused ({detail}); source's largest "
              f"gap {gap * 1000:.0f} ms", flush=True)
        return None
    if (status == "failed" and getattr(args, "fallback_may_fail", False)
            and "ram_save_setup failed" in info.get("error-desc", "")):
        # bench (b): QEMU's type1 fallback cannot start under TCG (it syncs the dirty log of
        # RAM sections type1 has no mapping for, and GET_BITMAP refuses them): a row of the
        # table, not a failure of the run
        tap.skip(f"{tag}.completed", f"QEMU's fallback cannot run under TCG: {detail}")
    else:
        tap.check(status == "completed", f"{tag}.completed", detail)
    if status != "completed":
        ROWS.append({"tag": tag, "failed": detail})
        dst.quit()
        return None
    # "completed" is the source's word: the destination may still be loading the device state
    end = time.time() + 30
    while dst.qmp.cmd("query-status").get("status") != "running" and time.time() < end:
        time.sleep(0.1)
    dst_state = vfmig_state(dst_bdf)
    armed = int(dst_state.get("restores_armed", "0")) > int(dst0.get("restores_armed", "0"))
    # ... and from data that came before the switchover: the destination loaded device data
    # before the source's "initial data sent" (switchover-ack: QEMU switches over after it)
    dtrace = dst.trace_text()
    i_data = dtrace.find("vfio_load_state_device_data")
    i_sent = dtrace.find("data 0xffffffffef100005")
    armed = armed and 0 <= i_data < i_sent
    if args.expect_device_logging and args.switchover_ack:
        # a vfmig target: its PF side was armed from the pre-copy data, not in the downtime
        # (which only switchover-ack guarantees comes before the switchover)
        if not tap.check(armed, f"{tag}.target_armed_in_precopy",
                         f"restores_armed {dst0.get('restores_armed')} -> "
                         f"{dst_state.get('restores_armed')}, arm_ns {dst_state.get('arm_ns')}, "
                         f"arm_failures {dst_state.get('arm_failures')}, "
                         f"restore_ns {dst_state.get('restore_ns')}"):
            log(f"{tag}: {dst_bdf} state: {dst_state}")
    run_switch_cmd(switch_cmd, tag)
    # The source is paused after completion; its VF is released when it quits.
    src_trace = src.trace_text()
    src_hb = src.heartbeats()
    src.quit()
    # traffic goes on: the destination must answer
    time.sleep(args.after)
    t_end = time.monotonic()
    st = dst.qmp.cmd("query-status")
    tap.check(st.get("status") == "running", f"{tag}.destination_running", st.get("status", "?"))
    gap, at = ping.gaps(t_start - 1, t_end)
    lost = ping.lost(t_start - 1, t_end - 2)
    answered_after = [s for a, s in ping.replies if a > t_done + 1]
    if not tap.check(len(answered_after) >= int(args.after / args.interval * args.min_answered),
                     f"{tag}.traffic_after_switch",
                     f"{len(answered_after)} replies in the {args.after:.0f} s after completion"):
        # for the diagnosis: what the guest counted, and the target VF as vfmig sees it
        for h in dst.heartbeats()[-4:]:
            log(f"{tag}: guest heartbeat on the destination: {h}")
        try:
            with open(f"/sys/kernel/debug/vfio/{dst_bdf}/vfmig/regs") as f:
                for line in f:
                    log(f"{tag}: {dst_bdf} regs: {line.rstrip()}")
        except OSError as e:
            log(f"{tag}: {dst_bdf} regs: {e}")
    tap.check(args.bench or gap < args.max_outage, f"{tag}.outage_bounded",
              f"largest gap {gap * 1000:.0f} ms (limit {args.max_outage * 1000:.0f}), "
              f"{gap and (at - t_start) * 1000:.0f} ms after migrate")
    tap.check(not ping.corrupt and not ping.dups, f"{tag}.replies_intact",
              f"{len(ping.corrupt)} corrupt: {ping.corrupt[:3]}, {ping.dups} duplicated")
    # every request left unanswered must have been sent in the outage (the largest gap): one
    # lost elsewhere is a frame the VF dropped or delivered damaged (the guest drops a frame
    # whose headers were corrupted without a counter of the heartbeat telling)
    with ping.lock:
        sent = dict(ping.sent)
    stray = [q for q in lost if not (at - args.interval <= sent[q] <= at + gap)]
    if paused:
        # nor those sent while the runner itself held the guest paused (and the second after:
        # the resumed guest catches up), which no migration caused
        stray = [q for q in stray
                 if not (paused[0] - args.interval <= sent[q] <= paused[1] + 1)]
    # (nested TCG drops some under load: a tenth of the window's requests is tolerated; a VF
    # that drops every other frame is not)
    window = [q for q, t in sent.items() if t_start - 1 <= t <= t_end - 2]
    if args.loss_check:
        tap.check(len(stray) <= max(3, len(window) // 10), f"{tag}.no_loss_outside_outage",
                  f"{len(lost)} of {len(window)} unanswered, {len(stray)} of them outside the "
                  f"outage ({stray[:5]})")
    # The guest's own view (its heartbeat on the destination, its checksum counters) only with
    # --guest-heartbeat: in the test VM the migrated guest's userspace stalls within seconds of
    # the switch, with no VF at all too (QEMU's TCG nested in TCG; see testing.rst), so its
    # heartbeat cannot be relied on there; the replies (byte for byte) and the losses outside
    # the outage are checked instead.
    hb, hb_before = [], hb0[-1] if hb0 else None
    want = hb_before["t"] + args.after / 2 if hb_before else 0
    end = time.monotonic() + 30
    while args.guest_heartbeat:
        hb = dst.heartbeats()
        if (hb and hb[-1]["t"] > want) or time.monotonic() > end:
            break
        time.sleep(0.5)
    if args.guest_heartbeat:
        tap.check(bool(hb) and hb[-1]["t"] > want, f"{tag}.guest_alive",
                  f"last heartbeat {hb[-1] if hb else None}")
    if args.min_wraps:
        # frames the guest took in while the source ran during the migration (its Rx ring of
        # RX_RING descriptors wrapped that often before the switch)
        t0 = hb0[-1]["t"] if hb0 else float("inf")
        during = [h["rx"] for h in src_hb if h["t"] >= t0 and h["rx"] is not None]
        got = (max(during) - min(during)) if during else 0
        tap.check(got >= args.min_wraps * RX_RING, f"{tag}.rx_ring_wrapped",
                  f"{got} frames received during the migration: {got / RX_RING:.1f} wraps "
                  f"of the {RX_RING}-entry ring (at least {args.min_wraps})")
    # a frame corrupted in guest memory fails the guest's checksums: it shows there (the
    # reply never comes), not in a reply's payload
    if not args.guest_heartbeat:
        pass
    elif hb and hb_before and None not in (hb[-1]["icmp_csum_err"], hb_before["icmp_csum_err"],
                                           hb[-1]["ip_hdr_err"], hb_before["ip_hdr_err"]):
        errs = (hb[-1]["icmp_csum_err"] - hb_before["icmp_csum_err"],
                hb[-1]["ip_hdr_err"] - hb_before["ip_hdr_err"])
        tap.check(errs == (0, 0), f"{tag}.guest_checksums_clean",
                  f"ICMP checksum errors +{errs[0]}, IP header errors +{errs[1]}")
    else:
        tap.check(False, f"{tag}.guest_checksums_clean",
                  "no heartbeat with the guest's counters before and after")
    # QEMU started vfmig's DMA logging, and vfmig answered its reports during the migration
    used_logging = ("vfio_device_dirty_tracking_start" in src_trace
                    and info.get("vfmig-dirty-reports", 0) > 0)
    if args.expect_device_logging is not None:
        tap.check(used_logging == args.expect_device_logging, f"{tag}.device_dirty_logging",
                  f"vfio_device_dirty_tracking_start "
                  f"{'seen' if 'vfio_device_dirty_tracking_start' in src_trace else 'not seen'}, "
                  f"{info.get('vfmig-dirty-reports', 0)} reports answered by vfmig")
    ram = info.get("ram", {})
    vfio = info.get("vfio", {})
    ROWS.append({"tag": tag, "downtime": info.get("downtime"), "total": info.get("total-time"),
                 "ram": ram.get("transferred"), "vfio": vfio.get("transferred"),
                 "logging": used_logging, "outage": gap, "lost": len(lost),
                 "raised": info.get("vfmig-limit-raised")})
    print(f"# e2e: {tag}: {src.bdf} -> {dst_bdf}: downtime {info.get('downtime', '?')} ms, "
          f"total {info.get('total-time', '?')} ms, setup {info.get('setup-time', '?')} ms, "
          f"ram {ram.get('transferred', '?')} B ({ram.get('dirty-sync-count', '?')} syncs), "
          f"vfio {vfio.get('transferred', '?')} B, device logging "
          f"{'yes' if used_logging else 'no'}, target restore "
          f"{int(dst_state.get('restore_ns', '0')) / 1000:.0f} us "
          f"({'armed in pre-copy' if armed else 'not armed'}); "
          f"guest-visible outage {gap * 1000:.0f} ms, "
          f"{len(lost)} requests unanswered, {len(ping.corrupt)} corrupt", flush=True)
    return dst


def hotplug_move(args, tap, src, dst_name, dst_bdf, ping, tag):
    """What was done before vfmig (the baseline of --bench): hot-unplug the VF from the running
    guest, migrate the guest without it, hot-add a VF (dst_bdf) on the destination; the guest's
    stock driver probes it again. Returns the destination Vmm, or None."""
    uri = f"unix:{os.path.join(args.work, tag + '.mig')}"
    t_start = time.monotonic()
    src.qmp.cmd("device_del", id="vf")
    # the guest acknowledges through PCIe native hotplug (pciehp's 5 s of attention first)
    end = time.time() + args.hotplug_timeout
    while time.time() < end:
        if not any(d.get("name") == "vf" for d in
                   src.qmp.cmd("qom-list", path="/machine/peripheral")):
            break
        time.sleep(0.2)
    else:
        tap.check(False, f"{tag}.unplugged",
                  f"the guest did not release the VF in {args.hotplug_timeout:.0f} s")
        return None
    t_unplugged = time.monotonic()
    dst = Vmm(args, dst_name, None, incoming=uri)
    src.qmp.cmd("migrate-set-parameters", **{"downtime-limit": args.downtime_limit,
                                             "max-bandwidth": args.max_bandwidth})
    set_capabilities(args, src)
    src.qmp.cmd("migrate", uri=uri)
    info, status = wait_migration(args, src)
    tap.check(status == "completed", f"{tag}.completed", f"status {status}")
    if status != "completed":
        dst.quit()
        return None
    src.quit()
    end = time.time() + 30
    while dst.qmp.cmd("query-status").get("status") != "running" and time.time() < end:
        time.sleep(0.1)
    t_add = time.monotonic()
    # as -device vfio-pci,host=...,id=vf,bus=rp0 plus --device-opts would have it
    opts = dict(o.split("=", 1) for o in args.device_opts.split(",") if "=" in o)
    dst.qmp.cmd("device_add", driver="vfio-pci", host=dst_bdf, id="vf", bus="rp0", **opts)
    dst.bdf = dst_bdf
    end = time.monotonic() + args.hotplug_timeout
    while time.monotonic() < end and not [a for a, _ in ping.replies if a > t_add]:
        time.sleep(0.2)
    time.sleep(args.after)
    t_end = time.monotonic()
    back = [a for a, _ in ping.replies if a > t_add]
    tap.check(bool(back), f"{tag}.traffic_after_hotplug",
              f"{len(back)} replies after the VF was hot-added")
    gap, at = ping.gaps(t_start - 1, t_end)
    lost = ping.lost(t_start - 1, t_end - 2)
    ram = info.get("ram", {})
    ROWS.append({"tag": tag, "downtime": info.get("downtime"), "total": info.get("total-time"),
                 "ram": ram.get("transferred"), "vfio": info.get("vfio", {}).get("transferred", 0),
                 "logging": False, "outage": gap, "lost": len(lost), "raised": False,
                 "unplug_s": t_unplugged - t_start,
                 "reprobe_s": (back[0] - t_add) if back else None})
    print(f"# e2e: {tag}: hot-unplug {src.bdf}, migrate, hot-add {dst_bdf}: unplug took "
          f"{t_unplugged - t_start:.1f} s, downtime {info.get('downtime', '?')} ms, "
          f"total {info.get('total-time', '?')} ms, ram {ram.get('transferred', '?')} B; "
          f"traffic back {(back[0] - t_add) if back else float('nan'):.1f} s after the "
          f"hot-add; guest-visible outage {gap * 1000:.0f} ms, {len(lost)} unanswered",
          flush=True)
    return dst


def bench(args, tap, vmm, ping):
    """--bench: one guest, one workload, three moves (see e2e_vm.sh "bench")."""
    a, b = args.vf[0], args.vf[1]
    # trapped BAR accesses per forwarded packet (each echo: one frame in, one out), steady state
    t0, r0 = trapped(a), len(ping.replies)
    time.sleep(args.trap_window)
    t1, r1 = trapped(a), len(ping.replies)
    per_pkt = ((t1 - t0) / (2 * (r1 - r0))) if None not in (t0, t1) and r1 > r0 else None
    # (c) first, on the fresh guest: what was done before vfmig, hot-unplug, migrate, hot-add
    # (after a migration the nested guest stays slow for a while, which would be counted
    # against (c): its pciehp work was seen not to finish then)
    nxt3 = hotplug_move(args, tap, vmm, "vmm1", b, ping, "c")
    if not nxt3:
        return vmm, per_pkt
    # (a) vfmig, device dirty logging, from where (c) left the guest; the destination without
    # it, for (b)
    args.expect_device_logging = True
    nxt = migrate(args, tap, nxt3, "vmm2", a, ping, "a",
                  dst_opts=args.device_opts + ",x-device-dirty-page-tracking=off,"
                  "enable-migration=on")
    if not nxt:
        return nxt3, per_pkt
    # (b) vfmig, logging off: QEMU's fallback (every mapped page dirty in every round; it
    # fails at setup under TCG)
    args.converge_after = args.bench_converge
    args.expect_device_logging = False
    args.fallback_may_fail = True
    nxt2 = migrate(args, tap, nxt, "vmm3", b, ping, "b")
    args.fallback_may_fail = False
    args.expect_device_logging = None
    args.converge_after = 0
    return (nxt2 or nxt), per_pkt


def print_table(per_pkt):
    names = {"a": "(a) vfmig, device dirty logging",
             "b": "(b) vfmig, logging off (QEMU: all dirty)",
             "c": "(c) hot-unplug, migrate, hot-add"}
    print("#")
    print(f"# {'':42} {'outage ms':>10} {'downtime ms':>12} {'total ms':>9} "
          f"{'RAM bytes':>12} {'device bytes':>13} {'dev. logging':>13}")
    for r in ROWS:
        if r["tag"] not in names:
            continue
        if "failed" in r:
            print(f"# {names[r['tag']]:42} failed: {r['failed']}")
            continue
        extra = " (downtime limit raised after no convergence)" if r.get("raised") else ""
        print(f"# {names[r['tag']]:42} {r['outage'] * 1000:10.0f} {r['downtime'] or 0:12} "
              f"{r['total'] or 0:9} {r['ram'] or 0:12} {r['vfio'] or 0:13} "
              f"{'yes' if r['logging'] else 'no':>13}{extra}")
    print(f"# trapped BAR0 accesses per forwarded packet (KVM-exit proxy): "
          f"{per_pkt:.2f}" if per_pkt is not None else "# trapped accesses: n/a", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--work", required=True, help="directory for consoles, sockets, traces")
    ap.add_argument("--vf", action="append", required=True,
                    help="VF BDFs: the first runs the guest, each next one is a migration "
                         "target in turn (repeat a BDF to migrate back)")
    ap.add_argument("--switch-cmd", action="append", default=[],
                    help="per migration, in order: a shell command run once it completed")
    ap.add_argument("--expect-refusal", action="store_true",
                    help="the (single) migration must fail and the source keep running")
    ap.add_argument("--no-switchover-ack", dest="switchover_ack", action="store_false",
                    help="leave QEMU's switchover-ack capability off (see set_capabilities)")
    ap.add_argument("--pause-resume", type=float, default=0, metavar="S",
                    help="pause the guest before each migration, resume it S s into it")
    # QEMU's migration thread competes with the guest's vCPU for the test VM's CPU (its TCG
    # runs both vCPUs on one thread): unthrottled, the guest hardly runs during pre-copy and
    # its traffic stalls for the whole of it, which is not the switchover's outage
    ap.add_argument("--max-bandwidth", type=int, default=16 << 20, metavar="BYTES_PER_S",
                    help="QEMU's max-bandwidth (default 16 MiB/s)")
    ap.add_argument("--release-after", type=float, default=0, metavar="S",
                    help="set max-bandwidth back to 16 MiB/s after S s of migration (a pre-copy "
                    "stretched by --max-bandwidth then converges)")
    ap.add_argument("--min-wraps", type=int, default=0,
                    help="the guest's Rx ring must wrap this often during each migration")
    ap.add_argument("--bench", action="store_true",
                    help="make bench-e2e: VF A (first --vf) -> B by hot-unplug and hot-add on "
                         "the fresh guest, then B -> A with device logging, A -> B with it off; "
                         "one table")
    ap.add_argument("--trap-window", type=float, default=10.0,
                    help="--bench: seconds of traffic the trapped accesses are counted over")
    ap.add_argument("--bench-converge", type=float, default=60.0,
                    help="--bench (b): seconds before the downtime limit is raised")
    ap.add_argument("--refuse-first", action="store_true",
                    help="the --refuse-to migration before the others, on the fresh guest")
    ap.add_argument("--no-loss-check", dest="loss_check", action="store_false",
                    help="no no_loss_outside_outage check (see suite_e2e.sh)")
    ap.add_argument("--hotplug-timeout", type=float, default=180.0, metavar="S",
                    help="--bench (c): how long the guest may take to release the VF, and to "
                    "answer through the hot-added one (default 180)")
    ap.add_argument("--recovery", type=float, default=60.0, metavar="S",
                    help="how long a refused source's guest may stay silent before its "
                    "traffic window (default 60)")
    ap.add_argument("--refuse-to", metavar="BDF",
                    help="after the migrations, one more onto BDF (a VF that cannot take "
                         "it), which must fail with the guest running on where it was")
    ap.add_argument("--guest-addr", default="192.168.77.2")
    ap.add_argument("--mem", type=int, default=192)
    ap.add_argument("--device-opts", default="", help="appended to -device vfio-pci,...")
    ap.add_argument("--append", default="", help="more of the inner guest's command line")
    ap.add_argument("--guest-heartbeat", action="store_true",
                    help="also check the guest's heartbeat and checksum counters on the "
                         "destination (see the comment in migrate())")
    ap.add_argument("--qemu-arg", action="append", default=[],
                    help="one more QEMU argument (repeat), on both sides")
    ap.add_argument("--expect-blocked", metavar="TEXT",
                    help="with --expect-refusal: QMP migrate itself must be refused (a "
                         "migration blocker), its error containing TEXT")
    # 10 requests/s: at 50/s the nested-TCG guest spent its CPU on them (its heartbeat
    # stopped, a fifth of them went unanswered before any migration)
    ap.add_argument("--interval", type=float, default=0.1)
    ap.add_argument("--after", type=float, default=8.0, help="seconds of traffic after each")
    ap.add_argument("--settle", type=float, default=5.0, help="seconds of traffic before")
    # nested TCG: QEMU's downtime is a few hundred ms, but the destination QEMU translates the
    # guest's code afresh and the guest answers again seconds later (3-4 s seen); a migration
    # that breaks the VF leaves no answer at all
    ap.add_argument("--max-outage", type=float, default=10.0)
    ap.add_argument("--min-answered", type=float, default=0.5,
                    help="share of the requests of the --after window that must be answered")
    ap.add_argument("--downtime-limit", type=int, default=300)
    ap.add_argument("--migrate-timeout", type=float, default=300)
    ap.add_argument("--boot-timeout", type=float, default=420)
    ap.add_argument("--expect-device-logging", choices=["yes", "no"])
    args = ap.parse_args()
    args.converge_after = 0
    args.expect_device_logging = (None if args.expect_device_logging is None
                                  else args.expect_device_logging == "yes")
    os.makedirs(args.work, exist_ok=True)
    tap = Tap()
    print("TAP version 13", flush=True)

    vmm = Vmm(args, "vmm0", args.vf[0])
    booted = vmm.wait_console("e2e: ready", args.boot_timeout)
    tap.check(booted, "guest_booted", "" if booted else vmm.console_text()[-400:])
    if not booted:
        vmm.quit()
        return 1
    ping = Pinger(args.guest_addr, args.interval)
    ping.start()
    # the guest answers some seconds after it said ready (nested TCG); then steady traffic
    end = time.monotonic() + 60
    while not ping.replies and time.monotonic() < end:
        time.sleep(0.2)
    n0 = len(ping.replies)
    time.sleep(args.settle)
    first = len(ping.replies) - n0
    tap.check(first >= int(args.settle / args.interval / 2), "traffic_before",
              f"{first} replies in {args.settle:.0f} s")
    if args.bench:
        vmm, per_pkt = bench(args, tap, vmm, ping)
        ping.finish()
        vmm.quit()
        print_table(per_pkt)
        print(f"1..{tap.n}", flush=True)
        return 1 if tap.failed else 0
    if args.refuse_to and args.refuse_first:
        # the refusal first, while the guest is fresh (see --refuse-first)
        migrate(args, tap, vmm, "vmm-refuse", args.refuse_to, ping, "refuse", None, "failed")
    for i, bdf in enumerate(args.vf[1:], 1):
        cmd = args.switch_cmd[i - 1] if i - 1 < len(args.switch_cmd) else None
        nxt = migrate(args, tap, vmm, f"vmm{i}", bdf, ping, f"m{i}", cmd,
                      "failed" if args.expect_refusal else "completed")
        if nxt is None:
            break
        vmm = nxt
    else:
        if args.refuse_to and not args.refuse_first:
            # then a target that cannot take it: the guest stays where it is, VF working
            migrate(args, tap, vmm, "vmm-refuse", args.refuse_to, ping, "refuse", None,
                    "failed")
    ping.finish()
    vmm.quit()
    print(f"# e2e: {len(ping.sent)} requests, {len(ping.replies)} replies, "
          f"{len(ping.corrupt)} corrupt, {ping.dups} duplicates", flush=True)
    print(f"1..{tap.n}", flush=True)
    return 1 if tap.failed else 0


def kill_vmms():
    for p in VMMS:
        if p.poll() is None:
            p.kill()


if __name__ == "__main__":
    import atexit
    atexit.register(kill_vmms)
    sys.exit(main())
