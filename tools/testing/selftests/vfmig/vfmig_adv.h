/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vfmig_adv: small helpers shared by the adversarial regression tests (vfmig_trust_test.c,
 * vfmig_dirty_arcs_test.c, vfmig_hostile_test.c), header-only so that vfmig_util.[ch] (also
 * linked by tools/bench) stays as it is: the state stream's layout
 * (Documentation/vfmig/state-format.rst) and its CRC, the kernel log since a marker, the PF
 * driver's view of a VF (`ip link show`), /proc/meminfo, and one mailbox request.
 */
#ifndef VFMIG_ADV_H
#define VFMIG_ADV_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vf82576.h"
#include "vfmig_util.h"

/* --- the state stream ------------------------------------------------------------------------ */

#define ADV_HDR_LEN		40
#define ADV_HDR_MAJOR		4
#define ADV_HDR_DEVICE		10
#define ADV_HDR_PROVIDER	18
#define ADV_HDR_FLAGS		24
#define ADV_HDR_TOTAL_LEN	28
#define ADV_HDR_SECTIONS	32
#define ADV_SEC_HDR_LEN		12
#define ADV_FLAG_PRECOPY	(1u << 16)

#define ADV_SEC_PF_VF		0x0005
#define ADV_SEC_IGB_MBX		0x8002
#define ADV_MBX_PAYLOAD_LEN	140
#define ADV_MBX_HAS_MULTICAST	(1u << 0)
#define ADV_MBX_HAS_LPE		(1u << 1)
#define ADV_MBX_HAS_PROMISC	(1u << 2)

static inline uint16_t adv_le16(const uint8_t *p)
{
	return p[0] | p[1] << 8;
}

static inline uint32_t adv_le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void adv_put_le16(uint8_t *p, uint16_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}

static inline void adv_put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}

/* CRC32C (Castagnoli, reflected), as the stream trailer uses. */
static inline uint32_t adv_crc32c(const uint8_t *p, size_t n)
{
	uint32_t crc = ~0u;

	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82F63B78u & -(crc & 1));
	}
	return ~crc;
}

/* Recomputes the trailer after an edit, so that only the edit is wrong. */
static inline void adv_fix_crc(uint8_t *buf, size_t len)
{
	adv_put_le32(buf + len - 4, adv_crc32c(buf, len - 4));
}

/* The payload of section (type, instance) in the stream s[0..len) and its length, or NULL. Only
 * walks the sections the header declares, bounded by len. */
static inline const uint8_t *adv_section(const uint8_t *s, size_t len, uint16_t type,
					  uint16_t instance, uint32_t *plen)
{
	size_t off = ADV_HDR_LEN;
	uint32_t count;

	if (len < ADV_HDR_LEN)
		return NULL;
	count = adv_le32(s + ADV_HDR_SECTIONS);
	for (uint32_t i = 0; i < count && off + ADV_SEC_HDR_LEN <= len; i++) {
		uint16_t ty = adv_le16(s + off), inst = adv_le16(s + off + 4);
		uint32_t l = adv_le32(s + off + 8);

		if (off + ADV_SEC_HDR_LEN + l > len)
			return NULL;
		if (ty == type && inst == instance) {
			*plen = l;
			return s + off + ADV_SEC_HDR_LEN;
		}
		off += ADV_SEC_HDR_LEN + l;
	}
	return NULL;
}

/* What the guest asked of the PF, as recorded in section 0x8002 (IGB_MBX). */
struct adv_mbx {
	uint16_t flags;
	uint16_t vlan_count;
	uint32_t multicast[16];
	uint32_t lpe;
	uint32_t promisc;
	uint16_t vlans[32];
};

/* 0, -ENOENT (no such section) or -EINVAL (wrong length). */
static inline int adv_mbx_decode(const uint8_t *s, size_t len, struct adv_mbx *m)
{
	const uint8_t *p;
	uint32_t l;

	memset(m, 0, sizeof(*m));
	p = adv_section(s, len, ADV_SEC_IGB_MBX, 0, &l);
	if (!p)
		return -ENOENT;
	if (l != ADV_MBX_PAYLOAD_LEN)
		return -EINVAL;
	m->flags = adv_le16(p);
	m->vlan_count = adv_le16(p + 2);
	for (int i = 0; i < 16; i++)
		m->multicast[i] = adv_le32(p + 4 + 4 * i);
	m->lpe = adv_le32(p + 68);
	m->promisc = adv_le32(p + 72);
	for (int i = 0; i < 32; i++)
		m->vlans[i] = adv_le16(p + 76 + 2 * i);
	return 0;
}

/* The PF-side section (0x0005): what `ip link set ... vf N` controls. */
struct adv_pfcfg {
	uint8_t mac[6];
	uint16_t vlan, vlan_proto;
	uint8_t qos, spoofchk, trusted, link_state;
	uint32_t min_tx_rate, max_tx_rate;
};

static inline int adv_pfcfg_decode(const uint8_t *s, size_t len, struct adv_pfcfg *c)
{
	const uint8_t *p;
	uint32_t l;

	memset(c, 0, sizeof(*c));
	p = adv_section(s, len, ADV_SEC_PF_VF, 0, &l);
	if (!p)
		return -ENOENT;
	if (l != 24)
		return -EINVAL;
	memcpy(c->mac, p, 6);
	c->vlan = adv_le16(p + 6);
	c->vlan_proto = adv_le16(p + 8);
	c->qos = p[10];
	c->spoofchk = p[11];
	c->trusted = p[12];
	c->link_state = p[13];
	c->min_tx_rate = adv_le32(p + 16);
	c->max_tx_rate = adv_le32(p + 20);
	return 0;
}

static inline void adv_pfcfg_print(const char *who, const struct adv_pfcfg *c)
{
	ksft_print_msg("%s: pf_vf: mac %02x:%02x:%02x:%02x:%02x:%02x vlan %u proto 0x%04x qos %u "
		       "spoofchk %u trusted %u link_state %u min_tx %u max_tx %u\n", who,
		       c->mac[0], c->mac[1], c->mac[2], c->mac[3], c->mac[4], c->mac[5], c->vlan,
		       c->vlan_proto, c->qos, c->spoofchk, c->trusted, c->link_state,
		       c->min_tx_rate, c->max_tx_rate);
}

/* --- commands, the kernel log ----------------------------------------------------------------- */

/* Runs a shell command; its exit status (-1 if it could not run). Output is left to the
 * caller's redirections. */
static inline int adv_sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	fflush(stdout);
	fflush(stderr);
	st = system(cmd);
	if (st == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* Writes a unique marker line into the kernel log (without the words the VM harness looks for
 * in it); the tag to give adv_dmesg_since(). */
static inline void adv_kmsg_mark(char *tag, size_t len)
{
	static unsigned int n;
	char line[160];
	int fd;

	snprintf(tag, len, "advtest-mark %d.%u.%llu", getpid(), n++,
		 (unsigned long long)vf_now_ms());
	fd = open("/dev/kmsg", O_WRONLY);
	if (fd < 0)
		return;
	snprintf(line, sizeof(line), "<6>%s\n", tag);
	if (write(fd, line, strlen(line)) < 0)
		; /* a missing marker makes adv_dmesg_since() return the whole log */
	close(fd);
}

/* A line in the kernel log (and on the console) too, for steps whose output a kernel crash
 * would lose. */
static inline void adv_kmsg(const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int fd, n;

	n = snprintf(line, sizeof(line), "<5>advtest: ");	/* above loglevel=6: on the console */
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	fd = open("/dev/kmsg", O_WRONLY);
	if (fd < 0)
		return;
	if (write(fd, line, strlen(line)) < 0)
		; /* best effort */
	close(fd);
}

/* The kernel log after the line holding `tag` (the whole log if it is not there); malloc'd, NULL
 * on error. */
static inline char *adv_dmesg_since(const char *tag)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap), *p;
	FILE *f;
	size_t n;

	if (!buf)
		return NULL;
	fflush(stdout);
	f = popen("dmesg 2>/dev/null", "r");
	if (!f) {
		free(buf);
		return NULL;
	}
	while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (len + 1 == cap) {
			char *nb = realloc(buf, cap * 2);

			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
	}
	pclose(f);
	buf[len] = 0;
	p = strstr(buf, tag);
	if (p) {
		char *nl = strchr(p, '\n');

		p = nl ? nl + 1 : p + strlen(p);
		memmove(buf, p, strlen(p) + 1);
	}
	return buf;
}

/* Prints the lines of `log` that contain `word`, prefixed. */
static inline void adv_print_lines(const char *log, const char *word, const char *prefix)
{
	const char *p = log;

	while (p && *p) {
		const char *nl = strchr(p, '\n');
		int n = nl ? (int)(nl - p) : (int)strlen(p);

		if (memmem(p, n, word, strlen(word)))
			ksft_print_msg("%s%.*s\n", prefix, n, p);
		p = nl ? nl + 1 : NULL;
	}
}

/* --- the PF driver's view of a VF ------------------------------------------------------------- */

/* The line of `ip link show dev PF` for VF `vf` (leading blanks and the newline removed); 0 or
 * -ENOENT. */
static inline int adv_vf_line(const char *pf_if, int vf, char *out, size_t len)
{
	return vfmig_pf_vf_line(pf_if, vf, out, len);
}

/* The same line with the MAC address (after "link/ether " or "MAC ") replaced by "<mac>": what
 * the administrator sets besides the MAC, which migrates through the VF's mailbox. */
static inline void adv_mask_mac(char *s)
{
	static const char *const keys[] = { "link/ether ", "MAC " };

	for (int k = 0; k < 2; k++) {
		char *m = strstr(s, keys[k]);

		if (m && strlen(m + strlen(keys[k])) >= 17) {
			m += strlen(keys[k]);
			memmove(m + 5, m + 17, strlen(m + 17) + 1);
			memcpy(m, "<mac>", 5);
		}
	}
}

/* --- memory ------------------------------------------------------------------------------------ */

/* A /proc/meminfo field in KiB, or -1. */
static inline long adv_meminfo(const char *key)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ':') {
			v = strtol(line + strlen(key) + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

/* --- the mailbox ------------------------------------------------------------------------------- */

/* Sends a mailbox request from `vf` as igbvf does and returns the PF's reply word (ACK or NACK
 * set), or 0 on a mailbox error. */
static inline uint32_t adv_mbx_request(struct vf_dev *vf, const uint32_t *msg, int words)
{
	uint32_t reply[VF_MBX_WORDS] = { 0 };

	if (vf_mbx_write(vf, msg, words, VFMIG_MBX_TIMEOUT_MS) ||
	    vf_mbx_read(vf, reply, words, VFMIG_MBX_TIMEOUT_MS))
		return 0;
	return reply[0];
}

/* mig_state_name() with the PRE_COPY states. */
static inline const char *adv_state_name(int state)
{
	switch (state) {
	case 6: return "PRE_COPY";		/* VFIO_DEVICE_STATE_PRE_COPY */
	case 7: return "PRE_COPY_P2P";		/* VFIO_DEVICE_STATE_PRE_COPY_P2P */
	default: return state < 0 ? strerror(-state) : mig_state_name(state);
	}
}

#endif /* VFMIG_ADV_H */
