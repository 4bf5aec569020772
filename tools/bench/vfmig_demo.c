// SPDX-License-Identifier: GPL-2.0
/*
 * vfmig_demo BDF0 BDF1 PF_IF [FRAMES [STATE_FILE]]: `make demo`, the live part. With vfmig
 * loaded with migration on (the default) and both VFs bound to it, plays a VMM and its guest:
 *   1. opens VF0 and VF1 in ONE type1 container (the "guest memory" is shared, as in
 *      vfmig_migration_test) and does each VF's mailbox reset handshake;
 *   2. programs VF0's Rx/Tx rings and exchanges FRAMES frames both ways with the PF's netdev
 *      (AF_PACKET on PF_IF);
 *   3. saves VF0 through the migration uAPI v2, one arc at a time, printing each arc's time and
 *      the state size, and writes the stream to STATE_FILE (for `vfmigctl inspect`);
 *   4. restores the stream into VF1 (STOP -> RESUMING -> STOP -> RUNNING_P2P -> RUNNING);
 *   5. continues the traffic on VF1 on the same rings and counts lost / duplicated frames;
 *   6. prints the debugfs state of both VFs.
 * VF1's mailbox handshake is done before RESUMING, as vfmig_migration_test.c does (a kernel
 * that does not replay the mailbox leaves VF1 its own MAC); traffic after the migration goes to
 * the MAC the PF driver reports for VF1 (`ip link`), whichever that is.
 * The frame format, PF-side socket and migration uAPI helpers are shared with the selftests
 * (tools/testing/selftests/vfmig/vfmig_util.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "vf82576.h"
#include "vfmig_util.h"

#define RX_TIMEOUT_MS	1000
#define MAX_MISSES	5	/* consecutive lost frames before giving up a direction */

struct stats {
	unsigned int sent[2], got[2], lost[2], dup[2], corrupt[2], others;
};

struct demo {
	struct vf_container c;
	struct vf_dev vf0, vf1;
	struct vf_dma dma;
	struct vf_ring rx, tx;
	int sock, ifindex;
	uint8_t pf_mac[6];
	uint32_t nonce;
	uint8_t *stream;
};

static void mac_str(const uint8_t *m, char *s)
{
	sprintf(s, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* PF side: waits for frame `want` from `src`. 1 received, 0 lost. */
static int pf_recv(struct demo *d, const uint8_t *src, uint32_t want, struct stats *st)
{
	static uint8_t buf[4096];
	uint64_t end = vf_now_ms() + RX_TIMEOUT_MS;

	for (;;) {
		uint32_t seq;
		ssize_t n;

		n = vfmig_pkt_recv_ours(d->sock, end, d->nonce, VFMIG_DIR_VF_TO_PF, buf,
					sizeof(buf), &seq);
		if (n < 0) {
			st->lost[0]++;
			return 0;
		}
		if (seq < want) {
			st->dup[0]++;
			continue;
		}
		st->got[0]++;
		if (seq != want || !vfmig_same_frame(buf, n, d->pf_mac, src, d->nonce,
						     VFMIG_DIR_VF_TO_PF, seq))
			st->corrupt[0]++;
		return 1;
	}
}

static int pf_send(struct demo *d, const uint8_t *dst, uint32_t seq)
{
	int ret = vfmig_pf_send(d->sock, d->ifindex, dst, d->pf_mac, d->nonce, VFMIG_DIR_PF_TO_VF,
				seq);

	if (ret)
		fprintf(stderr, "PF: sendto seq %u: %s\n", seq, strerror(-ret));
	return ret ? -1 : 0;
}

/* VF side: waits for frame `want` in the Rx ring. 1 received, 0 lost. */
static int ring_recv(struct demo *d, struct vf_dev *vf, uint32_t want, struct stats *st)
{
	struct vf_rx_frame f;

	for (;;) {
		uint32_t seq;
		int ok;

		if (!vf_rx_wait(&d->rx, &f, RX_TIMEOUT_MS)) {
			st->lost[1]++;
			return 0;
		}
		ok = (f.status_error & VF_RXD_STAT_EOP) && !(f.status_error & VF_RXD_ERR_MASK);
		if (!vfmig_frame_ours(f.data, f.len, d->nonce, VFMIG_DIR_PF_TO_VF, &seq)) {
			st->others++;
			vf_rx_post(vf, &d->rx, -1);
			continue;
		}
		if (seq < want) {
			st->dup[1]++;
			vf_rx_post(vf, &d->rx, -1);
			continue;
		}
		st->got[1]++;
		if (!ok || seq != want || !vfmig_same_frame(f.data, f.len, vf->mac, d->pf_mac,
							    d->nonce, VFMIG_DIR_PF_TO_VF, seq))
			st->corrupt[1]++;
		vf_rx_post(vf, &d->rx, -1);
		return 1;
	}
}

/* Frames first..first+n-1 both ways through `vf`, lock-step (VF -> PF, then PF -> VF). */
static int exchange(struct demo *d, struct vf_dev *vf, uint32_t first, uint32_t n,
		    struct stats *st)
{
	static uint8_t buf[VFMIG_FRAME_MAX];
	int miss0 = 0, miss1 = 0;

	for (uint32_t i = first; i < first + n; i++) {
		vfmig_build_frame(buf, d->pf_mac, vf->mac, d->nonce, VFMIG_DIR_VF_TO_PF, i);
		if (vf_tx_send(vf, &d->tx, buf, vfmig_frame_len(i)))
			return -1;
		st->sent[0]++;
		miss0 = pf_recv(d, vf->mac, i, st) ? 0 : miss0 + 1;
		if (pf_send(d, vf->mac, i))
			return -1;
		st->sent[1]++;
		miss1 = ring_recv(d, vf, i, st) ? 0 : miss1 + 1;
		if (miss0 >= MAX_MISSES || miss1 >= MAX_MISSES) {
			printf("  !! %d frames in a row lost, stopping this traffic run\n", MAX_MISSES);
			return -1;
		}
	}
	vf_tx_clean(&d->tx);
	return 0;
}

static void print_stats(const char *what, const struct stats *st)
{
	static const char *dir[2] = { "VF -> PF", "PF -> VF" };

	for (int k = 0; k < 2; k++)
		printf("  %-14s %-8s sent %4u  received %4u  lost %u  duplicated %u  corrupt %u\n",
		       what, dir[k], st->sent[k], st->got[k], st->lost[k], st->dup[k],
		       st->corrupt[k]);
}

/* One arc, timed and printed. Returns the time in us, or -1 on failure. */
static double arc(struct vf_dev *vf, const char *name, uint32_t to, int *fd)
{
	int from = mig_get(vf->device_fd), ret;
	double t0 = vfmig_now_us(), t;

	ret = mig_set(vf->device_fd, to, fd);
	t = vfmig_now_us() - t0;
	if (ret) {
		printf("  %s %-11s -> %-11s FAILED: %s\n", name, mig_state_name(from),
		       mig_state_name(to), strerror(-ret));
		return -1;
	}
	printf("  %s %-11s -> %-11s %9.1f us   queues: Rx %s, Tx %s%s\n", name,
	       mig_state_name(from), mig_state_name(to), t,
	       vf_rd32(vf, VF_RXDCTL) & VF_RXDCTL_ENABLE ? "on " : "off",
	       vf_rd32(vf, VF_TXDCTL) & VF_TXDCTL_ENABLE ? "on " : "off",
	       fd && *fd >= 0 ? "   (data fd)" : "");
	return t;
}

/* The PF driver's view of VF `bdf`'s MAC (`ip link show PF_IF`); 0 and *mac, or -1 (also when
 * the PF reports no MAC, all zeroes). */
static int pf_view_mac(const char *pf_if, const char *bdf, uint8_t *mac)
{
	int idx = vfmig_vf_index(bdf);

	if (idx < 0 || vfmig_pf_view_of_vf_mac(pf_if, idx, mac))
		return -1;
	return mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5] ? 0 : -1;
}

static void show_debugfs(const char *bdf)
{
	char path[256], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/debug/vfmig/%s/state", bdf);
	printf("  --- %s\n", path);
	f = fopen(path, "r");
	if (!f) {
		printf("    (%s)\n", strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f))
		printf("    %s", line);
	fclose(f);
}

#define DIE(...)							\
	do {								\
		fprintf(stderr, "vfmig_demo: " __VA_ARGS__);		\
		fprintf(stderr, "\n");					\
		return 1;						\
	} while (0)

int main(int argc, char **argv)
{
	static struct demo d;
	struct stats before = { 0 }, after = { 0 };
	const char *out = argc > 5 ? argv[5] : "/tmp/vf0.state";
	uint32_t frames = argc > 4 ? strtoul(argv[4], NULL, 0) : 100;
	double t_p2p, t_stop, t_copy, t_read, t_end, t_res, t_write, t_rstop, t_rp2p, t_run;
	double save_us, restore_us;
	uint64_t flags = 0;
	char m0[18], m1[18], mp[18];
	ssize_t len;
	int fd, ofd, rc = 0;
	double t0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 4)
		DIE("usage: %s BDF0 BDF1 PF_IF [FRAMES [STATE_FILE]]", argv[0]);
	d.ifindex = if_nametoindex(argv[3]);
	if (d.ifindex <= 0 || vfmig_netdev_mac(argv[3], d.pf_mac))
		DIE("PF netdev %s not found", argv[3]);
	srand(time(NULL) ^ getpid());
	d.nonce = (uint32_t)rand() ^ ((uint32_t)getpid() << 16);
	d.stream = malloc(VFMIG_STREAM_MAX);
	if (!d.stream)
		DIE("malloc");

	printf("== 1. a VMM opens VF0 %s and VF1 %s in one VFIO type1 container\n", argv[1],
	       argv[2]);
	if (vf_container_open(&d.c) || vf_open(&d.c, argv[1], &d.vf0) ||
	    vf_open(&d.c, argv[2], &d.vf1))
		DIE("cannot open the VFs");
	if (vf_dma_map(&d.c, &d.dma, VFMIG_DMA_SIZE, VFMIG_DMA_IOVA))
		DIE("DMA map");
	if (mig_flags(d.vf0.device_fd, &flags))
		DIE("VF0 offers no MIGRATION feature: is vfmig loaded with migration on (the default)?");
	printf("  guest memory: %u KiB at IOVA 0x%llx, shared by both VFs\n", VFMIG_DMA_SIZE >> 10,
	       VFMIG_DMA_IOVA);
	printf("  VFIO_DEVICE_FEATURE_MIGRATION flags 0x%llx:%s%s%s\n", (unsigned long long)flags,
	       flags & VFIO_MIGRATION_STOP_COPY ? " STOP_COPY" : "",
	       flags & VFIO_MIGRATION_P2P ? " P2P" : "",
	       flags & VFIO_MIGRATION_PRE_COPY ? " PRE_COPY" : "");
	if (vfmig_bring_up(&d.vf0, 0x04, 0) || vfmig_bring_up(&d.vf1, 0x04, 1))
		DIE("mailbox reset handshake failed");
	mac_str(d.vf0.mac, m0);
	mac_str(d.vf1.mac, m1);
	mac_str(d.pf_mac, mp);
	printf("  mailbox reset handshake (guest driver probe): VF0 MAC %s, VF1 MAC %s\n", m0, m1);
	printf("  (VF1's own handshake is done now, before RESUMING, as vfmig_migration_test does;\n"
	       "   after the restore, VF1 is addressed by the MAC the PF driver reports for it)\n");

	printf("== 2. the guest runs traffic on VF0: %u frames each way with PF %s (%s)\n", frames,
	       argv[3], mp);
	if (vf_ring_alloc(&d.dma, &d.rx, VFMIG_RING_COUNT, VFMIG_BUF_SIZE) ||
	    vf_ring_alloc(&d.dma, &d.tx, VFMIG_RING_COUNT, VFMIG_BUF_SIZE))
		DIE("rings");
	d.sock = vfmig_pkt_open(d.ifindex, 0);
	if (d.sock < 0)
		DIE("AF_PACKET socket on %s: %s", argv[3], strerror(-d.sock));
	if (vf_rx_attach(&d.vf0, &d.rx) || vf_tx_attach(&d.vf0, &d.tx))
		DIE("attach rings");
	vf_rx_post(&d.vf0, &d.rx, -1);
	printf("  rings: Rx and Tx %u descriptors each, Rx at IOVA 0x%llx, Tx at IOVA 0x%llx\n",
	       VFMIG_RING_COUNT, (unsigned long long)d.rx.desc_iova,
	       (unsigned long long)d.tx.desc_iova);
	t0 = vfmig_now_us();
	if (exchange(&d, &d.vf0, 0, frames, &before))
		rc = 1;
	printf("  %u round trips in %.1f ms\n", frames, (vfmig_now_us() - t0) / 1e3);
	print_stats("before (VF0)", &before);
	printf("  VF0 hardware: RDH %u RDT %u TDH %u TDT %u\n", vf_rd32(&d.vf0, VF_RDH),
	       vf_rd32(&d.vf0, VF_RDT), vf_rd32(&d.vf0, VF_TDH), vf_rd32(&d.vf0, VF_TDT));
	if (rc)
		goto out;

	printf("== 3. save VF0 (source), one arc at a time\n");
	if (mig_set(d.vf1.device_fd, VFIO_DEVICE_STATE_STOP, NULL) < 0)
		DIE("VF1 -> STOP");
	printf("  (the target VF1 waits in %s)\n", mig_state_name(mig_get(d.vf1.device_fd)));
	t_p2p = arc(&d.vf0, "VF0", VFIO_DEVICE_STATE_RUNNING_P2P, NULL);
	t_stop = arc(&d.vf0, "VF0", VFIO_DEVICE_STATE_STOP, NULL);
	t_copy = arc(&d.vf0, "VF0", VFIO_DEVICE_STATE_STOP_COPY, &fd);
	if (t_p2p < 0 || t_stop < 0 || t_copy < 0 || fd < 0)
		DIE("save arcs failed");
	t0 = vfmig_now_us();
	len = mig_read_stream(fd, d.stream, VFMIG_STREAM_MAX, VFMIG_STREAM_MAX);
	t_read = vfmig_now_us() - t0;
	close(fd);
	if (len <= 0)
		DIE("reading the stream: %s", strerror(-len));
	printf("  VF0 read data fd to EOF                   %9.1f us   state size %zd bytes\n",
	       t_read, len);
	t_end = arc(&d.vf0, "VF0", VFIO_DEVICE_STATE_STOP, NULL);
	save_us = t_p2p + t_stop + t_copy + t_read;
	printf("  save: %.1f us (RUNNING -> STOP_COPY + stream); the source stays in STOP\n",
	       save_us);
	(void)t_end;

	printf("== 4. restore into VF1 (target)\n");
	t_res = arc(&d.vf1, "VF1", VFIO_DEVICE_STATE_RESUMING, &fd);
	if (t_res < 0 || fd < 0)
		DIE("STOP -> RESUMING failed");
	t0 = vfmig_now_us();
	if (mig_write_stream(fd, d.stream, len, NULL, 0))
		DIE("writing the stream: %s", strerror(errno));
	t_write = vfmig_now_us() - t0;
	printf("  VF1 write %zd bytes to data fd            %9.1f us\n", len, t_write);
	t_rstop = arc(&d.vf1, "VF1", VFIO_DEVICE_STATE_STOP, NULL);
	close(fd);
	t_rp2p = arc(&d.vf1, "VF1", VFIO_DEVICE_STATE_RUNNING_P2P, NULL);
	t_run = arc(&d.vf1, "VF1", VFIO_DEVICE_STATE_RUNNING, NULL);
	if (t_rstop < 0 || t_rp2p < 0 || t_run < 0)
		DIE("restore arcs failed");
	restore_us = t_res + t_write + t_rstop + t_rp2p + t_run;
	printf("  restore: %.1f us (STOP -> RESUMING, write, -> RUNNING)\n", restore_us);
	printf("  VF1 hardware: RDH %u RDT %u TDH %u TDT %u (VF0 stopped at RDH %u TDH %u)\n",
	       vf_rd32(&d.vf1, VF_RDH), vf_rd32(&d.vf1, VF_RDT), vf_rd32(&d.vf1, VF_TDH),
	       vf_rd32(&d.vf1, VF_TDT), vf_rd32(&d.vf0, VF_RDH), vf_rd32(&d.vf0, VF_TDH));
	ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (ofd < 0 || write(ofd, d.stream, len) != len)
		fprintf(stderr, "vfmig_demo: writing %s: %s\n", out, strerror(errno));
	else
		printf("  the saved stream is in %s\n", out);
	if (ofd >= 0)
		close(ofd);

	printf("== 5. the guest's traffic continues on VF1, same rings, next sequence numbers\n");
	{
		uint8_t pm[6];

		/* whatever the restore did to VF1's PF-side config, address VF1 as the PF sees it */
		if (!pf_view_mac(argv[3], argv[2], pm)) {
			mac_str(pm, m1);
			printf("  the PF's view of VF1 now: MAC %s%s\n", m1,
			       memcmp(pm, d.vf1.mac, 6) ? " (changed by the restore)" : "");
			memcpy(d.vf1.mac, pm, 6);
		}
	}
	t0 = vfmig_now_us();
	if (exchange(&d, &d.vf1, frames, frames, &after))
		rc = 1;
	printf("  %u round trips in %.1f ms\n", frames, (vfmig_now_us() - t0) / 1e3);
	print_stats("after (VF1)", &after);
	printf("  VF0 (source) after: RDH %u TDH %u (unchanged: it never moved again)\n",
	       vf_rd32(&d.vf0, VF_RDH), vf_rd32(&d.vf0, VF_TDH));

	printf("== summary\n");
	printf("  frames before migration (VF0, both ways): %u sent, %u received\n",
	       before.sent[0] + before.sent[1], before.got[0] + before.got[1]);
	printf("  frames after migration  (VF1, both ways): %u sent, %u received\n",
	       after.sent[0] + after.sent[1], after.got[0] + after.got[1]);
	printf("  lost %u, duplicated %u, corrupt %u, unrelated frames ignored %u\n",
	       before.lost[0] + before.lost[1] + after.lost[0] + after.lost[1],
	       before.dup[0] + before.dup[1] + after.dup[0] + after.dup[1],
	       before.corrupt[0] + before.corrupt[1] + after.corrupt[0] + after.corrupt[1],
	       before.others + after.others);
	printf("  state size %zd bytes; save %.1f us; restore %.1f us; P2P quiesce %.1f us\n", len,
	       save_us, restore_us, t_p2p);
	if (before.lost[0] + before.lost[1] + after.lost[0] + after.lost[1] +
	    before.dup[0] + before.dup[1] + after.dup[0] + after.dup[1] +
	    before.corrupt[0] + before.corrupt[1] + after.corrupt[0] + after.corrupt[1])
		rc = 1;
	printf("  result: %s\n", rc ? "FRAMES LOST, DUPLICATED OR CORRUPT" :
	       "every frame arrived exactly once, in order");

out:
	printf("== 6. debugfs state of both VFs (VF0 saved and stopped, VF1 running)\n");
	show_debugfs(argv[1]);
	show_debugfs(argv[2]);
	vf_rx_detach(&d.vf1);
	vf_tx_detach(&d.vf1);
	close(d.sock);
	vf_close(&d.vf1);
	vf_close(&d.vf0);
	vf_dma_unmap(&d.dma);
	vf_container_close(&d.c);
	free(d.stream);
	return rc;
}
