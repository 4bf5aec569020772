// SPDX-License-Identifier: GPL-2.0
/*
 * vfmig_util: helpers shared by the VF test programs and the bench/demo tools (see
 * vfmig_util.h).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/iommufd.h>
#include <linux/vfio.h>

#include "vfmig_util.h"

/* --- environment and identity ------------------------------------------------------------ */

const char *vfmig_env(const char *name)
{
	const char *v = getenv(name);

	return v ? v : "";
}

int vfmig_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int m[6];

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = m[i];
	return 0;
}

long vfmig_state_num(const char *bdf, const char *key)
{
	char path[128], line[256];
	size_t klen = strlen(key);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/debug/vfio/%s/vfmig/state", bdf);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':')
			v = strtol(line + klen + 1, NULL, 10);
	fclose(f);
	return v;
}

int vfmig_wait_carrier(const char *ifname, int timeout_ms)
{
	char path[PATH_MAX], c = '0';
	int fd;

	snprintf(path, sizeof(path), "/sys/class/net/%s/carrier", ifname);
	for (int t = 0; t <= timeout_ms; t += 50) {
		fd = open(path, O_RDONLY);
		if (fd >= 0) {
			if (read(fd, &c, 1) != 1)
				c = '0';
			close(fd);
		}
		if (c == '1')
			return 0;
		usleep(50 * 1000);
	}
	return -ETIMEDOUT;
}

int vfmig_netdev_mac(const char *ifname, uint8_t mac[6])
{
	char path[PATH_MAX], buf[64];
	int ret = -EIO;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/net/%s/address", ifname);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	if (fgets(buf, sizeof(buf), f))
		ret = vfmig_parse_mac(buf, mac) ? -EINVAL : 0;
	fclose(f);
	return ret;
}

int vfmig_vf_index(const char *bdf)
{
	char path[PATH_MAX], target[PATH_MAX];
	ssize_t n;

	for (int i = 0; i < 64; i++) {
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/physfn/virtfn%d", bdf, i);
		n = readlink(path, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = 0;
		if (!strcmp(basename(target), bdf))
			return i;
	}
	return -1;
}

int vfmig_pf_vf_line(const char *pf_if, int vf, char *out, size_t len)
{
	char cmd[128], line[1024], key[16];
	int ret = -ENOENT;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ip link show dev %s 2>/dev/null", pf_if);
	snprintf(key, sizeof(key), "vf %d ", vf);
	p = popen(cmd, "r");
	if (!p)
		return -errno;
	while (fgets(line, sizeof(line), p)) {
		char *s = line;

		while (*s == ' ' || *s == '\t')
			s++;
		if (strncmp(s, key, strlen(key)))
			continue;
		s[strcspn(s, "\n")] = 0;
		snprintf(out, len, "%s", s);
		ret = 0;
		break;
	}
	pclose(p);
	return ret;
}

int vfmig_pf_view_of_vf_mac(const char *pf_if, int vf, uint8_t mac[6])
{
	char line[1024], *m;
	int ret = vfmig_pf_vf_line(pf_if, vf, line, sizeof(line));

	if (ret)
		return ret;
	m = strstr(line, "link/ether ");
	if (m)
		m += strlen("link/ether ");
	else if ((m = strstr(line, "MAC ")))
		m += strlen("MAC ");
	return m && !vfmig_parse_mac(m, mac) ? 0 : -ENOENT;
}

int vfmig_cdev_name(const char *bdf, char *buf, size_t len)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vfio-dev", bdf);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (!strncmp(de->d_name, "vfio", 4)) {
			snprintf(buf, len, "%s", de->d_name);
			closedir(d);
			return 0;
		}
	}
	closedir(d);
	return -ENOENT;
}

int vfmig_open_iommufd(const char *bdf, int *iommufd, const char **step)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	struct vfio_device_attach_iommufd_pt attach = { .argsz = sizeof(attach) };
	char name[NAME_MAX + 1], path[PATH_MAX];
	int dev = -1, ictx = -1, ret;

	*step = "vfio-dev in sysfs";
	ret = vfmig_cdev_name(bdf, name, sizeof(name));
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "/dev/vfio/devices/%s", name);
	*step = "open /dev/vfio/devices/vfioN";
	dev = open(path, O_RDWR);
	if (dev < 0)
		goto err;
	*step = "open /dev/iommu";
	ictx = open("/dev/iommu", O_RDWR);
	if (ictx < 0)
		goto err;
	*step = "VFIO_DEVICE_BIND_IOMMUFD";
	bind.iommufd = ictx;
	if (ioctl(dev, VFIO_DEVICE_BIND_IOMMUFD, &bind))
		goto err;
	*step = "IOMMU_IOAS_ALLOC";
	if (ioctl(ictx, IOMMU_IOAS_ALLOC, &alloc))
		goto err;
	*step = "VFIO_DEVICE_ATTACH_IOMMUFD_PT";
	attach.pt_id = alloc.out_ioas_id;
	if (ioctl(dev, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach))
		goto err;
	*step = NULL;
	*iommufd = ictx;
	return dev;
err:
	ret = -errno;
	if (dev >= 0)
		close(dev);
	if (ictx >= 0)
		close(ictx);
	return ret;
}

int vfmig_bring_up(struct vf_dev *vf, uint8_t mac4, uint8_t mac5)
{
	int ret = vf_reset(vf, VFMIG_MBX_TIMEOUT_MS);

	if (ret == 0) {
		uint8_t mac[6] = { 0x02, 0x76, 0x66, 0x6d, mac4, mac5 };

		ret = vf_set_mac(vf, mac, VFMIG_MBX_TIMEOUT_MS);
	}
	return ret < 0 ? ret : 0;
}

/* --- test frames --------------------------------------------------------------------------- */

int vfmig_frame_len(uint32_t seq)
{
	return 60 + (seq * 37) % 400;
}

void vfmig_build_frame(uint8_t *buf, const uint8_t *dst, const uint8_t *src, uint32_t nonce,
		       int dir, uint32_t seq)
{
	struct vfmig_frame_hdr *h = (struct vfmig_frame_hdr *)buf;
	int len = vfmig_frame_len(seq);

	memcpy(h->dst, dst, 6);
	memcpy(h->src, src, 6);
	h->proto = htons(VFMIG_ETHERTYPE_TEST);
	h->magic = htonl(VFMIG_FRAME_MAGIC);
	h->nonce = nonce;
	h->dir = dir;
	h->pad = 0;
	h->len = htons(len);
	h->seq = htonl(seq);
	for (int i = sizeof(*h); i < len; i++)
		buf[i] = (uint8_t)(seq * 13 + i * 7 + dir);
}

int vfmig_frame_ours(const uint8_t *buf, size_t len, uint32_t nonce, int dir, uint32_t *seq)
{
	const struct vfmig_frame_hdr *h = (const struct vfmig_frame_hdr *)buf;

	if (len < sizeof(*h) || h->proto != htons(VFMIG_ETHERTYPE_TEST) ||
	    h->magic != htonl(VFMIG_FRAME_MAGIC) || h->nonce != nonce || h->dir != dir)
		return 0;
	*seq = ntohl(h->seq);
	return 1;
}

const char *vfmig_frame_mismatch(const uint8_t *buf, size_t len, const uint8_t *dst,
				 const uint8_t *src, uint32_t nonce, int dir, uint32_t seq)
{
	static uint8_t want[VFMIG_FRAME_MAX];
	static char why[128];

	vfmig_build_frame(want, dst, src, nonce, dir, seq);
	if (len != (size_t)vfmig_frame_len(seq)) {
		snprintf(why, sizeof(why), "seq %u: length %zu, sent %d", seq, len,
			 vfmig_frame_len(seq));
		return why;
	}
	for (size_t i = 0; i < len; i++) {
		if (buf[i] != want[i]) {
			snprintf(why, sizeof(why), "seq %u: byte %zu is 0x%02x, sent 0x%02x", seq,
				 i, buf[i], want[i]);
			return why;
		}
	}
	return NULL;
}

/* --- the PF side ------------------------------------------------------------------------------ */

int vfmig_pkt_open(int ifindex, int rcvbuf)
{
	struct sockaddr_ll sll = { 0 };
	int sock, ret;

	sock = socket(AF_PACKET, SOCK_RAW, htons(VFMIG_ETHERTYPE_TEST));
	if (sock < 0)
		return -errno;
	if (rcvbuf > 0)
		setsockopt(sock, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(VFMIG_ETHERTYPE_TEST);
	sll.sll_ifindex = ifindex;
	if (bind(sock, (struct sockaddr *)&sll, sizeof(sll))) {
		ret = -errno;
		close(sock);
		return ret;
	}
	return sock;
}

int vfmig_pkt_send(int sock, int ifindex, const uint8_t *dst, const void *buf, size_t len)
{
	struct sockaddr_ll to = { 0 };

	to.sll_family = AF_PACKET;
	to.sll_ifindex = ifindex;
	to.sll_protocol = htons(VFMIG_ETHERTYPE_TEST);
	to.sll_halen = 6;
	memcpy(to.sll_addr, dst, 6);
	for (int tries = 0; tries < 100; tries++) {
		if (sendto(sock, buf, len, 0, (struct sockaddr *)&to, sizeof(to)) == (ssize_t)len)
			return 0;
		if (errno != ENOBUFS && errno != EAGAIN)
			break;
		usleep(1000);
	}
	return -errno;
}

int vfmig_pf_send(int sock, int ifindex, const uint8_t *dst, const uint8_t *src, uint32_t nonce,
		  int dir, uint32_t seq)
{
	static uint8_t buf[VFMIG_FRAME_MAX];

	vfmig_build_frame(buf, dst, src, nonce, dir, seq);
	return vfmig_pkt_send(sock, ifindex, dst, buf, vfmig_frame_len(seq));
}

ssize_t vfmig_pkt_recv_ours(int sock, uint64_t end_ms, uint32_t nonce, int dir, uint8_t *buf,
			    size_t cap, uint32_t *seq)
{
	for (;;) {
		struct pollfd pfd = { .fd = sock, .events = POLLIN };
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		int left = (int)(end_ms - vf_now_ms());
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, left) <= 0)
			return -ETIMEDOUT;
		n = recvfrom(sock, buf, cap, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		if (n < 0 || from.sll_pkttype == PACKET_OUTGOING)
			continue;
		if (!vfmig_frame_ours(buf, n, nonce, dir, seq))
			continue;
		return n;
	}
}

/* --- VFIO_DEVICE_FEATURE: migration uAPI v2 ------------------------------------------------ */

int vfmig_feature(int dev, uint32_t flags, void *data, size_t len)
{
	union {
		struct vfio_device_feature hdr;
		uint8_t bytes[sizeof(struct vfio_device_feature) + 64];
		uint64_t align;
	} f = {};

	if (len > sizeof(f.bytes) - sizeof(f.hdr))
		return -EINVAL;
	f.hdr.argsz = sizeof(f.hdr) + len;
	f.hdr.flags = flags;
	if (len)
		memcpy(f.hdr.data, data, len);
	if (ioctl(dev, VFIO_DEVICE_FEATURE, &f))
		return -errno;
	if (len)
		memcpy(data, f.hdr.data, len);
	return 0;
}

int mig_flags(int dev, uint64_t *flags)
{
	struct vfio_device_feature_migration mig = {};
	int ret = vfmig_feature(dev, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION, &mig,
				sizeof(mig));

	if (!ret)
		*flags = mig.flags;
	return ret;
}

int mig_set(int dev, uint32_t state, int *data_fd)
{
	struct vfio_device_feature_mig_state st = { .device_state = state, .data_fd = -1 };
	int ret;

	if (data_fd)
		*data_fd = -1;
	ret = vfmig_feature(dev, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
			    &st, sizeof(st));
	if (ret)
		return ret;
	if (data_fd)
		*data_fd = st.data_fd;
	else if (st.data_fd >= 0)
		close(st.data_fd);
	return 0;
}

int mig_get(int dev)
{
	struct vfio_device_feature_mig_state st = {};
	int ret = vfmig_feature(dev, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
				&st, sizeof(st));

	return ret ? ret : (int)st.device_state;
}

int mig_data_size(int dev, uint64_t *len)
{
	struct vfio_device_feature_mig_data_size sz = {};
	int ret = vfmig_feature(dev, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DATA_SIZE,
				&sz, sizeof(sz));

	if (!ret)
		*len = sz.stop_copy_length;
	return ret;
}

ssize_t mig_read_stream(int fd, uint8_t *buf, size_t cap, size_t chunk)
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

int mig_write_stream(int fd, const uint8_t *buf, size_t len, const size_t *chunks, int nchunks)
{
	size_t off = 0;

	for (int i = 0; off < len; i++) {
		size_t n = chunks ? chunks[i % nchunks] : len - off;
		ssize_t w;

		if (n > len - off)
			n = len - off;
		w = write(fd, buf + off, n);
		if (w < 0)
			return -errno;
		if (w == 0)
			return -EIO;
		off += w;
	}
	return 0;
}

const char *mig_state_name(uint32_t state)
{
	switch (state) {
	case VFIO_DEVICE_STATE_ERROR: return "ERROR";
	case VFIO_DEVICE_STATE_STOP: return "STOP";
	case VFIO_DEVICE_STATE_RUNNING: return "RUNNING";
	case VFIO_DEVICE_STATE_STOP_COPY: return "STOP_COPY";
	case VFIO_DEVICE_STATE_RESUMING: return "RESUMING";
	case VFIO_DEVICE_STATE_RUNNING_P2P: return "RUNNING_P2P";
	default: return "?";
	}
}

double vfmig_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}
