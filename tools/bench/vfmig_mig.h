/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vfmig_mig.h: the few migration-uAPI and traffic helpers that tools/bench/vfmig_bench.c and
 * tools/bench/vfmig_demo.c share. COPIED (and trimmed to plain C, no kselftest harness) from
 * tools/testing/selftests/vfmig/vfmig_migration_test.c, which its owners keep as the reference;
 * keep the two in step if the uAPI usage or the frame format there changes.
 */
#ifndef VFMIG_MIG_H
#define VFMIG_MIG_H

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/vfio.h>

#include "vf82576.h"

#define MIG_ETHERTYPE_TEST	0x88b5
#define MIG_MAGIC		0x56464d47
#define MIG_DMA_IOVA		0x10000000ull
#define MIG_DMA_SIZE		(1u << 20)
#define MIG_RING_COUNT		32
#define MIG_BUF_SIZE		2048
#define MIG_MBX_TIMEOUT_MS	3000
#define MIG_STREAM_MAX		65536

enum { MIG_DIR_VF_TO_PF = 1, MIG_DIR_PF_TO_VF = 2 };

struct mig_hdr {
	uint8_t dst[6];
	uint8_t src[6];
	uint16_t proto;
	uint32_t magic;
	uint32_t nonce;
	uint8_t dir;
	uint8_t pad;
	uint16_t len;
	uint32_t seq;
} __attribute__((packed));

static inline double mig_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static inline const char *mig_state_name(uint32_t s)
{
	switch (s) {
	case VFIO_DEVICE_STATE_ERROR: return "ERROR";
	case VFIO_DEVICE_STATE_STOP: return "STOP";
	case VFIO_DEVICE_STATE_RUNNING: return "RUNNING";
	case VFIO_DEVICE_STATE_STOP_COPY: return "STOP_COPY";
	case VFIO_DEVICE_STATE_RESUMING: return "RESUMING";
	case VFIO_DEVICE_STATE_RUNNING_P2P: return "RUNNING_P2P";
	default: return "?";
	}
}

/* --- migration uAPI (copied from vfmig_migration_test.c) -------------------------------- */

static inline int mig_flags(int dev, uint64_t *flags)
{
	struct {
		struct vfio_device_feature hdr;
		struct vfio_device_feature_migration mig;
	} f = {};

	f.hdr.argsz = sizeof(f);
	f.hdr.flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION;
	if (ioctl(dev, VFIO_DEVICE_FEATURE, &f))
		return -errno;
	*flags = f.mig.flags;
	return 0;
}

/* Sets the device state; 0 or -errno. *data_fd is the returned fd (-1 for none). */
static inline int mig_set(int dev, uint32_t state, int *data_fd)
{
	struct {
		struct vfio_device_feature hdr;
		struct vfio_device_feature_mig_state st;
	} f = {};

	f.hdr.argsz = sizeof(f);
	f.hdr.flags = VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE;
	f.st.device_state = state;
	f.st.data_fd = -1;
	if (data_fd)
		*data_fd = -1;
	if (ioctl(dev, VFIO_DEVICE_FEATURE, &f))
		return -errno;
	if (data_fd)
		*data_fd = f.st.data_fd;
	else if (f.st.data_fd >= 0)
		close(f.st.data_fd);
	return 0;
}

/* The device state, or -errno. */
static inline int mig_get(int dev)
{
	struct {
		struct vfio_device_feature hdr;
		struct vfio_device_feature_mig_state st;
	} f = {};

	f.hdr.argsz = sizeof(f);
	f.hdr.flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE;
	if (ioctl(dev, VFIO_DEVICE_FEATURE, &f))
		return -errno;
	return f.st.device_state;
}

/* Reads a save fd to its end in chunks of `chunk` bytes: the length, or -errno. */
static inline ssize_t mig_read_stream(int fd, uint8_t *buf, size_t cap, size_t chunk)
{
	size_t got = 0;

	for (;;) {
		size_t want = cap - got < chunk ? cap - got : chunk;
		ssize_t n;

		if (!want)
			return -E2BIG;
		n = read(fd, buf + got, want);
		if (n < 0)
			return -errno;
		if (n == 0)
			return got;
		got += n;
	}
}

/* Writes a whole stream: 0 or -errno. */
static inline int mig_write_stream(int fd, const uint8_t *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t w = write(fd, buf + off, len - off);

		if (w < 0)
			return -errno;
		if (w == 0)
			return -EIO;
		off += w;
	}
	return 0;
}

/* --- frames (the migration test's format) ----------------------------------------------- */

static inline int mig_frame_len(uint32_t seq)
{
	return 60 + (seq * 37) % 400;
}

static inline void mig_build_frame(uint8_t *buf, const uint8_t *dst, const uint8_t *src,
				   uint32_t nonce, int dir, uint32_t seq)
{
	struct mig_hdr *h = (struct mig_hdr *)buf;
	int len = mig_frame_len(seq);

	memcpy(h->dst, dst, 6);
	memcpy(h->src, src, 6);
	h->proto = htons(MIG_ETHERTYPE_TEST);
	h->magic = htonl(MIG_MAGIC);
	h->nonce = nonce;
	h->dir = dir;
	h->pad = 0;
	h->len = htons(len);
	h->seq = htonl(seq);
	for (int i = sizeof(*h); i < len; i++)
		buf[i] = (uint8_t)(seq * 13 + i * 7 + dir);
}

/* 1 and *seq if buf is one of our frames (nonce, direction), else 0. */
static inline int mig_ours(const uint8_t *buf, size_t len, uint32_t nonce, int dir,
			   uint32_t *seq)
{
	const struct mig_hdr *h = (const struct mig_hdr *)buf;

	if (len < sizeof(*h) || h->proto != htons(MIG_ETHERTYPE_TEST) ||
	    h->magic != htonl(MIG_MAGIC) || h->nonce != nonce || h->dir != dir)
		return 0;
	*seq = ntohl(h->seq);
	return 1;
}

static inline int mig_parse_mac(const char *s, uint8_t *mac)
{
	unsigned int m[6];

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = m[i];
	return 0;
}

/* The PF netdev's MAC from sysfs; 0 or -1. */
static inline int mig_if_mac(const char *ifname, uint8_t *mac)
{
	char path[256], buf[64];
	FILE *f;
	int ret = -1;

	snprintf(path, sizeof(path), "/sys/class/net/%s/address", ifname);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		ret = mig_parse_mac(buf, mac);
	fclose(f);
	return ret;
}

/* Reset handshake as a guest driver does at probe; a MAC through the mailbox if none is set
 * (the migration test's bring_up). */
static inline int mig_bring_up(struct vf_dev *vf, uint8_t last)
{
	int ret = vf_reset(vf, MIG_MBX_TIMEOUT_MS);

	if (ret == 0) {
		uint8_t mac[6] = { 0x02, 0x76, 0x66, 0x6d, 0x04, last };

		ret = vf_set_mac(vf, mac, MIG_MBX_TIMEOUT_MS);
	}
	return ret < 0 ? ret : 0;
}

#endif /* VFMIG_MIG_H */
