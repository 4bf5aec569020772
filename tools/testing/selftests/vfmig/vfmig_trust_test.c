// SPDX-License-Identifier: GPL-2.0
/*
 * vfmig_trust_test: host policy must not come from stream data (regression tests for the code
 * review of Nov 2026, defect 1). vfmig loaded with migration on (the default); the userspace VF
 * driver (vf82576.c) plays the guest.
 *
 *  - pfcfg.*: the administrator's settings of a VF (`ip link set PF vf N trust|spoofchk|vlan
 *    qos|max_tx_rate ...`) belong to the target host's orchestrator, not to the migration
 *    stream. VF0 (source) gets one setting that VF1 (target) does not have; VF0 is saved through
 *    the uAPI and the stream restored into VF1 (RESUMING, write, RESUMING -> STOP):
 *      mismatch_refused   RESUMING -> STOP fails with EPERM, the device stays in RESUMING (not
 *                         ERROR), the kernel log has a vfmig line with "differs" naming the
 *                         setting and both values, and `ip link show PF` lists VF1 byte for
 *                         byte as before;
 *      identical_accepted the same setting on both: the restore succeeds, VF1's settings are
 *                         what they were (the MAC aside: it moves through VF1's mailbox);
 *      mismatch_warn      (module loaded with pf_mismatch_warn=1; the suite runs it alone
 *                         with VFMIG_PF_MISMATCH_WARN=1) the mismatching restore succeeds,
 *                         with a "differs" warning in the log, and VF1's settings are still
 *                         unchanged: never applied.
 *    The MAC is not compared (the guest's MAC moves through the target VF's mailbox); link
 *    state has no variant: igb has no ndo_set_vf_link_state.
 *
 *  - mbx.*: what the guest asked of the PF through the mailbox is recorded for the target only
 *    when the PF ACKed it. With a port VLAN on VF0 (`ip link set PF vf 0 vlan 10`) igb NACKs
 *    the guest's E1000_VF_SET_VLAN; igb NACKs E1000_VF_SET_PROMISC with the unicast mode (it only
 *    knows multicast promiscuous). The saved stream's IGB_MBX section (0x8002) must not hold
 *    either. An ACKed multicast request, recorded, is the control that the section is read
 *    right; ack_recorded checks that ACKed VLAN and multicast requests are kept. The *_unread
 *    variants leave the PF's reply unread by the guest when the device is saved, so that the
 *    snapshot (not a trapped read of the reply) decides the request.
 *
 * Environment: VFMIG_BDF (VF0), VFMIG_BDF2 (VF1, same PF), VFMIG_PF_IF (the PF netdev, up),
 * VFMIG_PF_MISMATCH_WARN ("1" when the module was loaded with pf_mismatch_warn=1).
 * The tests change VF0's and VF1's administrator settings and put them back to igb's defaults
 * (vlan 0, spoofchk on, trust off, max_tx_rate 0) in their teardown.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "vf82576.h"
#include "vfmig_util.h"
#include "vfmig_adv.h"

#define STREAM_MAX	VFMIG_STREAM_MAX

/* --- the two VFs, one container ------------------------------------------------------------- */

struct two {
	struct vf_container c;
	struct vf_dev vf0, vf1;
	struct vf_dma dma;
	const char *pf_if;
	int idx0, idx1;
	uint8_t *stream;
	bool with_vf1;
};

/* igb's defaults for a VF's administrator settings (errors ignored: rate needs the link up). */
static void pf_defaults(const char *pf_if, int vf)
{
	if (vf < 0)
		return;
	adv_sh("ip link set dev %s vf %d vlan 0 >/dev/null 2>&1", pf_if, vf);
	adv_sh("ip link set dev %s vf %d spoofchk on >/dev/null 2>&1", pf_if, vf);
	adv_sh("ip link set dev %s vf %d trust off >/dev/null 2>&1", pf_if, vf);
	adv_sh("ip link set dev %s vf %d max_tx_rate 0 >/dev/null 2>&1", pf_if, vf);
}

static void two_setup(struct __test_metadata *_metadata, struct two *t, bool with_vf1)
{
	uint64_t flags;

	t->c.fd = -1;
	t->vf0.device_fd = t->vf0.group_fd = -1;
	t->vf1.device_fd = t->vf1.group_fd = -1;
	t->idx0 = t->idx1 = -1;
	t->with_vf1 = with_vf1;
	if (!*vfmig_env("VFMIG_BDF") || !*vfmig_env("VFMIG_PF_IF") ||
	    (with_vf1 && !*vfmig_env("VFMIG_BDF2")))
		SKIP(return, "VFMIG_BDF, VFMIG_BDF2 and VFMIG_PF_IF must be set");
	t->pf_if = vfmig_env("VFMIG_PF_IF");
	t->idx0 = vfmig_vf_index(vfmig_env("VFMIG_BDF"));
	ASSERT_GE(t->idx0, 0);
	if (with_vf1) {
		t->idx1 = vfmig_vf_index(vfmig_env("VFMIG_BDF2"));
		ASSERT_GE(t->idx1, 0);
	}
	pf_defaults(t->pf_if, t->idx0);
	pf_defaults(t->pf_if, t->idx1);
	t->stream = malloc(STREAM_MAX);
	ASSERT_NE(NULL, t->stream);
	ASSERT_EQ(0, vf_container_open(&t->c));
	ASSERT_EQ(0, vf_open(&t->c, vfmig_env("VFMIG_BDF"), &t->vf0));
	if (with_vf1)
		ASSERT_EQ(0, vf_open(&t->c, vfmig_env("VFMIG_BDF2"), &t->vf1));
	ASSERT_EQ(0, vf_dma_map(&t->c, &t->dma, VFMIG_DMA_SIZE, VFMIG_DMA_IOVA));
	ASSERT_EQ(0, mig_flags(t->vf0.device_fd, &flags))
		TH_LOG("MIGRATION feature missing: is vfmig loaded with migration on (the default)?");
	ASSERT_EQ(0, vfmig_bring_up(&t->vf0, 0x08, 0));
	if (with_vf1)
		ASSERT_EQ(0, vfmig_bring_up(&t->vf1, 0x08, 1));
}

static void two_teardown(struct two *t)
{
	if (t->vf1.device_fd >= 0)
		vf_close(&t->vf1);
	if (t->vf0.device_fd >= 0)
		vf_close(&t->vf0);
	vf_dma_unmap(&t->dma);
	if (t->c.fd >= 0)
		vf_container_close(&t->c);
	if (t->pf_if) {
		pf_defaults(t->pf_if, t->idx0);
		pf_defaults(t->pf_if, t->idx1);
	}
	free(t->stream);
}

/* Saves `vf` (RUNNING -> STOP_COPY, the whole stream read, -> STOP) into buf: the length. */
static ssize_t save_stop(struct __test_metadata *_metadata, struct vf_dev *vf, uint8_t *buf)
{
	ssize_t len;
	int fd;

	ASSERT_EQ(0, mig_set(vf->device_fd, VFIO_DEVICE_STATE_STOP_COPY, &fd));
	ASSERT_GE(fd, 0);
	len = mig_read_stream(fd, buf, STREAM_MAX, 4096);
	close(fd);
	ASSERT_GT(len, ADV_HDR_LEN) TH_LOG("reading the save stream: %s",
					   strerror(len < 0 ? -len : 0));
	ASSERT_EQ(0, mig_set(vf->device_fd, VFIO_DEVICE_STATE_STOP, NULL));
	return len;
}

/* RESUMING, the stream written, RESUMING -> STOP: that arc's result (0 or -errno). *werr is
 * the first write's -errno (0 if all went in), the data fd is left in *fdp for the caller. */
static int restore_keep(struct __test_metadata *_metadata, struct vf_dev *vf, const uint8_t *buf,
			size_t len, int *werr, int *fdp)
{
	int fd;

	*fdp = -1;
	ASSERT_EQ(0, mig_set(vf->device_fd, VFIO_DEVICE_STATE_RESUMING, &fd));
	ASSERT_GE(fd, 0);
	*fdp = fd;
	*werr = mig_write_stream(fd, buf, len, NULL, 0);
	return mig_set(vf->device_fd, VFIO_DEVICE_STATE_STOP, NULL);
}

/* --- pfcfg: the administrator's settings -------------------------------------------------------- */

FIXTURE(pfcfg) {
	struct two t;
};

FIXTURE_VARIANT(pfcfg) {
	const char *name;		/* how the log line names the setting (case-insensitive) */
	const char *set;		/* `ip link set PF vf N <set>` */
	const char *src_vals[4];	/* how the source's value may be printed */
	const char *dst_vals[4];	/* how the target's (igb's default) may be printed */
	bool may_be_refused;		/* igb may refuse it under QEMU (max_tx_rate: link speed) */
};

FIXTURE_VARIANT_ADD(pfcfg, trust) {
	.name = "trust",
	.set = "trust on",
	.src_vals = { "on", "1", "true", NULL },
	.dst_vals = { "off", "0", "false", NULL },
};

FIXTURE_VARIANT_ADD(pfcfg, spoofchk) {
	.name = "spoof",
	.set = "spoofchk off",
	.src_vals = { "off", "0", "false", NULL },
	.dst_vals = { "on", "1", "true", NULL },
};

FIXTURE_VARIANT_ADD(pfcfg, vlan_qos) {
	.name = "vlan",
	.set = "vlan 5 qos 2",
	.src_vals = { "5", NULL },
	.dst_vals = { "0", NULL },
};

FIXTURE_VARIANT_ADD(pfcfg, max_tx_rate) {
	.name = "rate",
	.set = "max_tx_rate 100",
	.src_vals = { "100", NULL },
	.dst_vals = { "0", NULL },
	.may_be_refused = true,
};

FIXTURE_SETUP(pfcfg)
{
	two_setup(_metadata, &self->t, true);
}

FIXTURE_TEARDOWN(pfcfg)
{
	two_teardown(&self->t);
}

/* Whether `line` says "source S, target D" for one of the source values and one of the
 * target values (exactly: not a digit of a timestamp or an address). */
static bool both_in(const char *line, const char *const *src, const char *const *dst)
{
	char want[96];

	for (int i = 0; i < 4 && src[i]; i++) {
		for (int j = 0; j < 4 && dst[j]; j++) {
			snprintf(want, sizeof(want), "source %s, target %s", src[i], dst[j]);
			if (strstr(line, want))
				return true;
		}
	}
	return false;
}

/* Whether `log` has a vfmig line with "differs" naming the setting (and, with both_values, both
 * values); prints the vfmig lines either way. */
static bool differs_logged(const char *log, const FIXTURE_VARIANT(pfcfg) *v, bool both_values)
{
	const char *p = log;
	bool found = false;

	while (p && *p) {
		const char *nl = strchr(p, '\n');
		int n = nl ? (int)(nl - p) : (int)strlen(p);
		char line[512];

		snprintf(line, sizeof(line), "%.*s", n, p);
		if (strstr(line, "vfmig")) {
			ksft_print_msg("pfcfg: log: %s\n", line);
			if (strstr(line, "differs") && strcasestr(line, v->name) &&
			    (!both_values || both_in(line, v->src_vals, v->dst_vals)))
				found = true;
		}
		p = nl ? nl + 1 : NULL;
	}
	return found;
}

/* Applies the variant's setting to VF `vf`: 0, or SKIPs when igb refuses a setting it may refuse
 * under QEMU. */
static int apply_setting(struct __test_metadata *_metadata, const struct two *t,
			 const FIXTURE_VARIANT(pfcfg) *v, int vf)
{
	int st = adv_sh("ip link set dev %s vf %d %s", t->pf_if, vf, v->set);

	if (st && v->may_be_refused)
		return -1;
	EXPECT_EQ(0, st) TH_LOG("ip link set dev %s vf %d %s", t->pf_if, vf, v->set);
	return st ? -1 : 0;
}

TEST_F_TIMEOUT(pfcfg, mismatch_refused, 120)
{
	struct two *t = &self->t;
	char before[1024], after[1024], tag[64];
	struct adv_pfcfg src;
	int werr = 0, fd = -1, ret, state;
	char *log;
	ssize_t len;

	/* VF1 as a fresh target, as the migration tests use it */
	ASSERT_EQ(0, ioctl(t->vf1.device_fd, VFIO_DEVICE_RESET));
	if (apply_setting(_metadata, t, variant, t->idx0))
		SKIP(return, "igb refuses `%s` here", variant->set);
	len = save_stop(_metadata, &t->vf0, t->stream);
	ASSERT_EQ(0, adv_pfcfg_decode(t->stream, len, &src));
	adv_pfcfg_print("pfcfg: source", &src);
	ASSERT_EQ(0, adv_vf_line(t->pf_if, t->idx1, before, sizeof(before)));
	ksft_print_msg("pfcfg: target before: %s\n", before);

	adv_kmsg_mark(tag, sizeof(tag));
	ret = restore_keep(_metadata, &t->vf1, t->stream, len, &werr, &fd);
	state = mig_get(t->vf1.device_fd);
	ksft_print_msg("pfcfg: %s differs: write %s, RESUMING -> STOP %s, state %s\n", variant->name,
		       strerror(-werr), strerror(-ret), adv_state_name(state));
	EXPECT_EQ(0, werr);
	EXPECT_EQ(-EPERM, ret) TH_LOG("restoring a stream whose `%s` differs from the target's",
				      variant->set);
	EXPECT_EQ(VFIO_DEVICE_STATE_RESUMING, state) TH_LOG("state %s", adv_state_name(state));
	log = adv_dmesg_since(tag);
	ASSERT_NE(NULL, log);
	EXPECT_TRUE(differs_logged(log, variant, true))
		TH_LOG("no vfmig log line with \"differs\", \"%s\" and both values", variant->name);
	free(log);
	ASSERT_EQ(0, adv_vf_line(t->pf_if, t->idx1, after, sizeof(after)));
	ksft_print_msg("pfcfg: target after:  %s\n", after);
	EXPECT_STREQ(before, after) TH_LOG("the target's administrator settings changed");
	if (fd >= 0)
		close(fd);
	EXPECT_EQ(0, ioctl(t->vf1.device_fd, VFIO_DEVICE_RESET));
}

TEST_F_TIMEOUT(pfcfg, identical_accepted, 120)
{
	struct two *t = &self->t;
	char before[1024], after[1024];
	int werr = 0, fd = -1, ret;
	ssize_t len;

	ASSERT_EQ(0, ioctl(t->vf1.device_fd, VFIO_DEVICE_RESET));
	if (apply_setting(_metadata, t, variant, t->idx0))
		SKIP(return, "igb refuses `%s` here", variant->set);
	ASSERT_EQ(0, apply_setting(_metadata, t, variant, t->idx1));
	len = save_stop(_metadata, &t->vf0, t->stream);
	ASSERT_EQ(0, adv_vf_line(t->pf_if, t->idx1, before, sizeof(before)));
	ret = restore_keep(_metadata, &t->vf1, t->stream, len, &werr, &fd);
	EXPECT_EQ(0, werr);
	EXPECT_EQ(0, ret) TH_LOG("identical `%s` on both: RESUMING -> STOP: %s", variant->set,
				 strerror(-ret));
	EXPECT_EQ(VFIO_DEVICE_STATE_STOP, mig_get(t->vf1.device_fd));
	ASSERT_EQ(0, adv_vf_line(t->pf_if, t->idx1, after, sizeof(after)));
	ksft_print_msg("pfcfg: target before: %s\n", before);
	ksft_print_msg("pfcfg: target after:  %s\n", after);
	adv_mask_mac(before);
	adv_mask_mac(after);
	EXPECT_STREQ(before, after);
	if (fd >= 0)
		close(fd);
}

TEST_F_TIMEOUT(pfcfg, mismatch_warn, 120)
{
	struct two *t = &self->t;
	char before[1024], after[1024], tag[64];
	int werr = 0, fd = -1, ret;
	char *log;
	ssize_t len;

	if (strcmp(vfmig_env("VFMIG_PF_MISMATCH_WARN"), "1"))
		SKIP(return, "needs vfmig loaded with pf_mismatch_warn=1 "
			     "(VFMIG_PF_MISMATCH_WARN=1)");
	ASSERT_EQ(0, ioctl(t->vf1.device_fd, VFIO_DEVICE_RESET));
	if (apply_setting(_metadata, t, variant, t->idx0))
		SKIP(return, "igb refuses `%s` here", variant->set);
	len = save_stop(_metadata, &t->vf0, t->stream);
	ASSERT_EQ(0, adv_vf_line(t->pf_if, t->idx1, before, sizeof(before)));
	adv_kmsg_mark(tag, sizeof(tag));
	ret = restore_keep(_metadata, &t->vf1, t->stream, len, &werr, &fd);
	EXPECT_EQ(0, werr);
	EXPECT_EQ(0, ret) TH_LOG("pf_mismatch_warn=1: RESUMING -> STOP: %s", strerror(-ret));
	EXPECT_EQ(VFIO_DEVICE_STATE_STOP, mig_get(t->vf1.device_fd));
	log = adv_dmesg_since(tag);
	ASSERT_NE(NULL, log);
	EXPECT_TRUE(differs_logged(log, variant, false))
		TH_LOG("no vfmig warning with \"differs\" and \"%s\"", variant->name);
	free(log);
	ASSERT_EQ(0, adv_vf_line(t->pf_if, t->idx1, after, sizeof(after)));
	ksft_print_msg("pfcfg: target before: %s\n", before);
	ksft_print_msg("pfcfg: target after:  %s\n", after);
	adv_mask_mac(before);
	adv_mask_mac(after);
	EXPECT_STREQ(before, after) TH_LOG("the source's `%s` was applied to the target",
					   variant->set);
	if (fd >= 0)
		close(fd);
}

/* --- mbx: guest requests recorded only when ACKed ---------------------------------------------- */

FIXTURE(mbx) {
	struct two t;
};

FIXTURE_SETUP(mbx)
{
	two_setup(_metadata, &self->t, false);
}

FIXTURE_TEARDOWN(mbx)
{
	two_teardown(&self->t);
}

#define MC_HASH		0x0fb0		/* any 12-bit hash */

static bool acked(uint32_t reply, uint32_t type)
{
	return (reply & 0xffff) == type && (reply & VF_MSG_ACK) && !(reply & VF_MSG_NACK);
}

static bool nacked(uint32_t reply, uint32_t type)
{
	return (reply & 0xffff) == type && (reply & VF_MSG_NACK);
}

/* The control: an ACKed E1000_VF_SET_MULTICAST with one hash. */
static void multicast_acked(struct __test_metadata *_metadata, struct vf_dev *vf)
{
	const uint32_t msg[2] = { VF_MSG_SET_MULTICAST | (1u << 16), MC_HASH };
	uint32_t reply = adv_mbx_request(vf, msg, 2);

	ASSERT_TRUE(acked(reply, VF_MSG_SET_MULTICAST)) TH_LOG("SET_MULTICAST reply 0x%08x", reply);
}

static void mbx_print(const struct adv_mbx *m)
{
	ksft_print_msg("mbx: recorded: flags 0x%x vlan_count %u vlans [%u %u %u] multicast[0] "
		       "0x%08x lpe %u promisc 0x%08x\n", m->flags, m->vlan_count, m->vlans[0],
		       m->vlans[1], m->vlans[2], m->multicast[0], m->lpe, m->promisc);
}

/* Saves VF0 and decodes its IGB_MBX section into m, with the control's multicast request in it. */
static void saved_requests(struct __test_metadata *_metadata, struct two *t, struct adv_mbx *m)
{
	ssize_t len = save_stop(_metadata, &t->vf0, t->stream);
	int ret = adv_mbx_decode(t->stream, len, m);

	ASSERT_EQ(0, ret) TH_LOG("IGB_MBX section (0x8002): %s", strerror(-ret));
	mbx_print(m);
	ASSERT_TRUE(m->flags & ADV_MBX_HAS_MULTICAST)
		TH_LOG("the ACKed multicast request is not recorded: the section is not read right");
	EXPECT_EQ(VF_MSG_SET_MULTICAST | (1u << 16), m->multicast[0]);
}

static bool has_vlan(const struct adv_mbx *m, uint16_t vid)
{
	for (int i = 0; i < 32; i++) {
		if (m->vlans[i] == vid)
			return true;
	}
	return false;
}

/*
 * The guest sends a request and waits for the PF's message but has not read its words yet
 * when the device is saved: the snapshot reads the reply and decides the request (recorded
 * on ACK, dropped on NACK). Returns the reply, read through the trap after the save.
 */
static uint32_t request_unread_then_save(struct __test_metadata *_metadata, struct two *t,
					 const uint32_t *msg, int words, struct adv_mbx *m)
{
	uint32_t none[1];

	ASSERT_EQ(0, vf_mbx_write(&t->vf0, msg, words, VFMIG_MBX_TIMEOUT_MS));
	/* waits for PFSTS and releases the mailbox, reading no word of the reply */
	ASSERT_EQ(0, vf_mbx_read(&t->vf0, none, 0, VFMIG_MBX_TIMEOUT_MS));
	saved_requests(_metadata, t, m);
	return vf_rd32(&t->vf0, VF_VMBMEM);
}

/*
 * VF0's E1000_VF_SET_VLAN add `vid` after the control, with the administrator's port VLAN 10
 * set first if `port_vlan` (igb then NACKs it). The guest reads the reply before the save (a
 * trapped read decides the request) or, if `unread`, leaves it unread (the snapshot decides).
 * Returns the reply; *m is what the saved stream recorded.
 */
static uint32_t vlan_request(struct __test_metadata *_metadata, struct two *t, uint32_t vid,
			     bool port_vlan, bool unread, struct adv_mbx *m)
{
	const uint32_t msg[2] = { VF_MSG_SET_VLAN | (1u << 16), vid };
	uint32_t reply;

	if (port_vlan)
		ASSERT_EQ(0, adv_sh("ip link set dev %s vf %d vlan 10", t->pf_if, t->idx0));
	multicast_acked(_metadata, &t->vf0);
	if (unread) {
		reply = request_unread_then_save(_metadata, t, msg, 2, m);
	} else {
		reply = adv_mbx_request(&t->vf0, msg, 2);
		saved_requests(_metadata, t, m);
	}
	ksft_print_msg("mbx: SET_VLAN add %u%s%s: reply 0x%08x\n", vid,
		       port_vlan ? " with port VLAN 10" : ", no port VLAN",
		       unread ? ", reply unread at the save" : "", reply);
	return reply;
}

/* A port VLAN set by the administrator: igb NACKs the guest's VLAN 20, which is not recorded. */
static void vlan_nack(struct __test_metadata *_metadata, struct two *t, bool unread)
{
	struct adv_mbx m;
	uint32_t reply = vlan_request(_metadata, t, 20, true, unread, &m);

	ASSERT_TRUE(nacked(reply, VF_MSG_SET_VLAN)) TH_LOG("igb did not NACK: reply 0x%08x", reply);
	EXPECT_FALSE(has_vlan(&m, 20)) TH_LOG("the NACKed VLAN 20 is recorded for the target");
	EXPECT_EQ(0, m.vlan_count);
}

/* The control: an ACKed VLAN (no port VLAN) is recorded, as the multicast request is. */
static void vlan_ack(struct __test_metadata *_metadata, struct two *t, bool unread)
{
	struct adv_mbx m;
	uint32_t reply = vlan_request(_metadata, t, 30, false, unread, &m);

	ASSERT_TRUE(acked(reply, VF_MSG_SET_VLAN)) TH_LOG("igb did not ACK: reply 0x%08x", reply);
	EXPECT_TRUE(has_vlan(&m, 30)) TH_LOG("the ACKed VLAN 30 is not recorded");
	EXPECT_EQ(1, m.vlan_count);
}

TEST_F_TIMEOUT(mbx, vlan_nack_not_recorded, 120)
{
	vlan_nack(_metadata, &self->t, false);
}

/* Unicast promiscuous mode: igb knows only the multicast mode and NACKs it (trust off). */
TEST_F_TIMEOUT(mbx, promisc_nack_not_recorded, 120)
{
	const uint32_t msg[1] = { 0x06 | (0x01u << 16) };	/* E1000_VF_SET_PROMISC_UNICAST */
	struct two *t = &self->t;
	struct adv_mbx m;
	uint32_t reply;

	multicast_acked(_metadata, &t->vf0);
	reply = adv_mbx_request(&t->vf0, msg, 1);
	ksft_print_msg("mbx: SET_PROMISC unicast, trust off: reply 0x%08x\n", reply);
	ASSERT_TRUE(nacked(reply, 0x06)) TH_LOG("igb did not NACK: reply 0x%08x", reply);
	saved_requests(_metadata, t, &m);
	EXPECT_FALSE(m.flags & ADV_MBX_HAS_PROMISC)
		TH_LOG("the NACKed promiscuous request is recorded (0x%08x)", m.promisc);
	EXPECT_EQ(0, m.promisc);
}

TEST_F_TIMEOUT(mbx, ack_recorded, 120)
{
	vlan_ack(_metadata, &self->t, false);
}

/* The snapshot path: the PF's reply left unread by the guest when the device is saved. */
TEST_F_TIMEOUT(mbx, vlan_nack_unread_not_recorded, 120)
{
	vlan_nack(_metadata, &self->t, true);
}

TEST_F_TIMEOUT(mbx, ack_unread_recorded, 120)
{
	vlan_ack(_metadata, &self->t, true);
}

TEST_HARNESS_MAIN
