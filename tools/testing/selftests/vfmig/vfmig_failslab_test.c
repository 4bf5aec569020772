// SPDX-License-Identifier: GPL-2.0
/*
 * vfmig under slab allocation failures (the sanitizer run only: CONFIG_FAILSLAB,
 * CONFIG_FAULT_INJECTION_DEBUG_FS; tools/testing/selftests/vfmig/run_sanitize.sh).
 *
 * VF0 and VF1 bound to vfmig (migration=1, the default), in one type1 container
 * (VFMIG_BDF, VFMIG_BDF2). A "cycle" is what a VMM does for a migration through the uAPI v2:
 * VF0 RUNNING -> STOP_COPY (data fd), the stream read, VF1 RUNNING -> RESUMING (data fd), the
 * stream written, VF1 -> STOP, both fds closed, both VFs back to RUNNING; then VF0 RUNNING ->
 * PRE_COPY (data fd), initial data and VFIO_MIG_GET_PRECOPY_INFO, PRE_COPY_P2P -> STOP_COPY,
 * the rest read, back to RUNNING, the fd closed.
 *
 *   sweep: for n = 1, 2, ... the n-th slab allocation of this task during a cycle fails
 *     (/proc/self/task/TID/fail-nth, which consults failslab), until a cycle makes fewer than
 *     n allocations: every allocation the cycle makes in vfio and vfmig fails once.
 *   random_task_filter: failslab with task-filter (only this task, /proc/self/make-it-fail
 *     set around the cycle), probability 5..50 %, for a bounded number of cycles.
 *
 * After every cycle, with injection off: every data fd closes (close() == 0); no VF is in
 * ERROR (a failed allocation leaves the last good state); each VF is RUNNING, or is brought
 * back there by SET_STATE RUNNING or VFIO_DEVICE_RESET (which must succeed); the next clean cycle succeeds (the driver is not left broken by the error path). At
 * the end no fd is leaked and failures were really injected. A crash, a KASAN report or a leak
 * (kmemleak scan afterwards) fails the run. Bounded: VFMIG_FAILSLAB_SECONDS (default 240) for
 * the sweep, VFMIG_FAILSLAB_CYCLES (default 60) random cycles.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/vfio.h>
#include "kselftest_harness.h"
#include "vfmig_util.h"

#define FAILSLAB "/sys/kernel/debug/failslab"
#define STREAM_MAX VFMIG_STREAM_MAX

static int write_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -EIO;
}

static long read_long(const char *path)
{
	char buf[32] = "";
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? strtol(buf, NULL, 0) : -1;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory's own fd */
}

FIXTURE(failslab) {
	struct vf_container c;
	struct vf_dev vf0, vf1;
	uint8_t *stream;
	int nth_fd;		/* /proc/self/task/TID/fail-nth */
	int mif_fd;		/* /proc/self/make-it-fail */
	/* what the cycles saw */
	int injected, failed_ops, resets, error_states, errnos[256];
};

FIXTURE_SETUP(failslab)
{
	char path[64];

	self->c.fd = -1;
	self->vf0.device_fd = self->vf0.group_fd = -1;
	self->vf1.device_fd = self->vf1.group_fd = -1;
	self->nth_fd = self->mif_fd = -1;
	self->stream = NULL;
	if (!*vfmig_env("VFMIG_BDF") || !*vfmig_env("VFMIG_BDF2"))
		SKIP(return, "VFMIG_BDF and VFMIG_BDF2 must be set");
	if (access(FAILSLAB "/probability", W_OK))
		SKIP(return, "no %s (kernel without CONFIG_FAILSLAB/CONFIG_FAULT_INJECTION_DEBUG_FS)",
		     FAILSLAB);
	self->stream = malloc(STREAM_MAX);
	ASSERT_NE(NULL, self->stream);
	ASSERT_EQ(0, vf_container_open(&self->c));
	ASSERT_EQ(0, vf_open(&self->c, vfmig_env("VFMIG_BDF"), &self->vf0));
	ASSERT_EQ(0, vf_open(&self->c, vfmig_env("VFMIG_BDF2"), &self->vf1));
	ASSERT_EQ(0, vfmig_bring_up(&self->vf0, 0x07, 0));
	ASSERT_EQ(0, vfmig_bring_up(&self->vf1, 0x07, 1));

	snprintf(path, sizeof(path), "/proc/self/task/%ld/fail-nth", (long)syscall(SYS_gettid));
	self->nth_fd = open(path, O_RDWR);
	ASSERT_LE(0, self->nth_fd) TH_LOG("%s: %s", path, strerror(errno));
	self->mif_fd = open("/proc/self/make-it-fail", O_WRONLY);
	ASSERT_LE(0, self->mif_fd);
	/* GFP_KERNEL allocations too (failslab ignores them by default); quiet (a stack dump per
	 * failure would read as a report); nothing fails until a cycle asks for it */
	ASSERT_EQ(0, write_str(FAILSLAB "/probability", "0"));
	ASSERT_EQ(0, write_str(FAILSLAB "/task-filter", "Y"));
	ASSERT_EQ(0, write_str(FAILSLAB "/ignore-gfp-wait", "N"));
	ASSERT_EQ(0, write_str(FAILSLAB "/cache-filter", "N"));
	ASSERT_EQ(0, write_str(FAILSLAB "/verbose", "0"));
	ASSERT_EQ(0, write_str(FAILSLAB "/interval", "1"));
	ASSERT_EQ(0, write_str(FAILSLAB "/space", "0"));
	ASSERT_EQ(0, write_str(FAILSLAB "/times", "-1"));
}

FIXTURE_TEARDOWN(failslab)
{
	write_str(FAILSLAB "/probability", "0");
	write_str(FAILSLAB "/ignore-gfp-wait", "Y");
	write_str(FAILSLAB "/verbose", "2");
	if (self->mif_fd >= 0) {
		pwrite(self->mif_fd, "0", 1, 0);
		close(self->mif_fd);
	}
	if (self->nth_fd >= 0) {
		pwrite(self->nth_fd, "0", 1, 0);
		close(self->nth_fd);
	}
	vf_close(&self->vf1);
	vf_close(&self->vf0);
	vf_container_close(&self->c);
	free(self->stream);
}

static void note_err(FIXTURE_DATA(failslab) *self, int err)
{
	self->failed_ops++;
	self->errnos[err > 0 && err < 256 ? err : 0]++;
}

/* One cycle (see the top); the first failing step's -errno, or 0. Makes no allocation of its
 * own in the kernel besides the uAPI calls; every fd it got is closed, and close() must
 * succeed (*close_bad counts those that did not). */
static int cycle(FIXTURE_DATA(failslab) *self, int *close_bad)
{
	struct vfio_precopy_info info = { .argsz = sizeof(info) };
	int fd0 = -1, fd1 = -1, fd2 = -1, ret;
	ssize_t len, n;

	ret = mig_set(self->vf0.device_fd, VFIO_DEVICE_STATE_STOP_COPY, &fd0);
	if (ret)
		goto out;
	len = mig_read_stream(fd0, self->stream, STREAM_MAX, 4096);
	if (len < 0) {
		ret = (int)len;
		goto out;
	}
	ret = mig_set(self->vf1.device_fd, VFIO_DEVICE_STATE_RESUMING, &fd1);
	if (ret)
		goto out;
	ret = mig_write_stream(fd1, self->stream, len, NULL, 0);
	if (ret)
		goto out;
	ret = mig_set(self->vf1.device_fd, VFIO_DEVICE_STATE_STOP, NULL);
	if (ret)
		goto out;
	ret = mig_set(self->vf1.device_fd, VFIO_DEVICE_STATE_RUNNING, NULL);
	if (ret)
		goto out;
	ret = mig_set(self->vf0.device_fd, VFIO_DEVICE_STATE_RUNNING, NULL);
	if (ret)
		goto out;

	ret = mig_set(self->vf0.device_fd, VFIO_DEVICE_STATE_PRE_COPY, &fd2);
	if (ret)
		goto out;
	if (ioctl(fd2, VFIO_MIG_GET_PRECOPY_INFO, &info)) {
		ret = -errno;
		goto out;
	}
	n = read(fd2, self->stream, STREAM_MAX);
	if (n < 0 && errno != ENOMSG) {
		ret = -errno;
		goto out;
	}
	ret = mig_set(self->vf0.device_fd, VFIO_DEVICE_STATE_PRE_COPY_P2P, NULL);
	if (ret)
		goto out;
	ret = mig_set(self->vf0.device_fd, VFIO_DEVICE_STATE_STOP_COPY, NULL);
	if (ret)
		goto out;
	len = mig_read_stream(fd2, self->stream, STREAM_MAX, 4096);
	if (len < 0) {
		ret = (int)len;
		goto out;
	}
	ret = mig_set(self->vf0.device_fd, VFIO_DEVICE_STATE_RUNNING, NULL);
out:
	if (fd0 >= 0 && close(fd0))
		(*close_bad)++;
	if (fd1 >= 0 && close(fd1))
		(*close_bad)++;
	if (fd2 >= 0 && close(fd2))
		(*close_bad)++;
	return ret;
}

/* With injection off: the VF back to RUNNING (SET_STATE, else VFIO_DEVICE_RESET and the guest
 * driver's bring-up again); 0 or -errno. */
static int recover(FIXTURE_DATA(failslab) *self, struct vf_dev *vf, uint8_t idx)
{
	int st = mig_get(vf->device_fd);

	if (st == VFIO_DEVICE_STATE_RUNNING)
		return 0;
	/*
	 * A failed allocation never leaves the device state unknown (vfmig keeps the last good
	 * state; ERROR is for a device that does not answer), so ERROR here is a failure.
	 */
	if (st == VFIO_DEVICE_STATE_ERROR)
		self->error_states++;
	if (st >= 0 && st != VFIO_DEVICE_STATE_ERROR &&
	    !mig_set(vf->device_fd, VFIO_DEVICE_STATE_RUNNING, NULL))
		return 0;
	self->resets++;
	if (ioctl(vf->device_fd, VFIO_DEVICE_RESET))
		return -errno;
	st = mig_get(vf->device_fd);
	if (st != VFIO_DEVICE_STATE_RUNNING)
		return st < 0 ? st : -EPROTO;
	return vfmig_bring_up(vf, 0x07, idx);
}

/* After a cycle under injection: fds closed, both VFs RUNNING, a clean cycle works. */
static void after(struct __test_metadata *_metadata, FIXTURE_DATA(failslab) *self,
		  int ret, int close_bad, const char *what, long n)
{
	int r0, r1, bad = 0;

	if (ret)
		note_err(self, -ret);
	EXPECT_EQ(0, close_bad) TH_LOG("%s %ld: a data fd did not close", what, n);
	r0 = recover(self, &self->vf0, 0);
	r1 = recover(self, &self->vf1, 1);
	ASSERT_EQ(0, r0) TH_LOG("%s %ld (%s): VF0 not recovered: %s", what, n,
				ret ? strerror(-ret) : "ok", strerror(-r0));
	ASSERT_EQ(0, r1) TH_LOG("%s %ld (%s): VF1 not recovered: %s", what, n,
				ret ? strerror(-ret) : "ok", strerror(-r1));
	ret = cycle(self, &bad);
	ASSERT_EQ(0, ret) TH_LOG("%s %ld: the clean cycle after it failed: %s", what, n,
				 strerror(-ret));
	ASSERT_EQ(0, bad);
}

static void summary(FIXTURE_DATA(failslab) *self, const char *what)
{
	char buf[512];
	int off = 0;

	for (int e = 0; e < 256; e++)
		if (self->errnos[e])
			off += snprintf(buf + off, sizeof(buf) - off, " %s:%d",
					e ? strerrorname_np(e) ?: "?" : "other", self->errnos[e]);
	buf[off] = 0;
	ksft_print_msg("failslab %s: %d injected, %d cycles failed (%s ), %d resets, %d times "
		       "in ERROR\n", what, self->injected, self->failed_ops, off ? buf : " none",
		       self->resets, self->error_states);
}

TEST_F_TIMEOUT(failslab, sweep, 600)
{
	long limit_s = strtol(vfmig_env("VFMIG_FAILSLAB_SECONDS"), NULL, 0) ?: 240;
	uint64_t end = vf_now_ms() + limit_s * 1000;
	int close_bad = 0, ret, fds = count_fds();
	char num[24];
	long n, left;

	/* two clean cycles first: what is checked after each failure works without one */
	ret = cycle(self, &close_bad);
	ASSERT_EQ(0, ret) TH_LOG("clean cycle: %s", strerror(-ret));
	ret = cycle(self, &close_bad);
	ASSERT_EQ(0, ret) TH_LOG("second clean cycle: %s", strerror(-ret));
	ASSERT_EQ(0, close_bad);

	for (n = 1;; n++) {
		ASSERT_LT(vf_now_ms(), end)
			TH_LOG("sweep incomplete after %ld s: %ld allocations failed one by one",
			       limit_s, n - 1);
		snprintf(num, sizeof(num), "%ld", n);
		close_bad = 0;
		ASSERT_EQ((ssize_t)strlen(num), pwrite(self->nth_fd, num, strlen(num), 0));
		ret = cycle(self, &close_bad);
		/* fail-nth counts down; 0: the n-th allocation happened and failed */
		left = pread(self->nth_fd, num, sizeof(num) - 1, 0) > 0 ? strtol(num, NULL, 0) : -1;
		pwrite(self->nth_fd, "0", 1, 0);
		ASSERT_LE(0, left);
		if (left == 0)
			self->injected++;
		after(_metadata, self, ret, close_bad, "allocation", n);
		if (left > 0)
			break;	/* the cycle made fewer than n allocations: all were failed once */
	}
	summary(self, "sweep");
	ksft_print_msg("failslab sweep: a cycle makes %ld slab allocations\n", n - 1);
	EXPECT_GT(self->injected, 0);
	EXPECT_EQ(0, self->error_states) TH_LOG("a failed allocation left a VF in ERROR");
	EXPECT_EQ(fds, count_fds()) TH_LOG("file descriptors leaked");
}

TEST_F_TIMEOUT(failslab, random_task_filter, 600)
{
	long cycles = strtol(vfmig_env("VFMIG_FAILSLAB_CYCLES"), NULL, 0) ?: 60;
	static const char *prob[] = { "5", "20", "50" };
	int close_bad, ret, fds = count_fds();
	long times;

	ASSERT_EQ(0, write_str(FAILSLAB "/times", "1000000"));
	for (long i = 0; i < cycles; i++) {
		ASSERT_EQ(0, write_str(FAILSLAB "/probability", prob[i % 3]));
		close_bad = 0;
		ASSERT_EQ(1, pwrite(self->mif_fd, "1", 1, 0));
		ret = cycle(self, &close_bad);
		ASSERT_EQ(1, pwrite(self->mif_fd, "0", 1, 0));
		ASSERT_EQ(0, write_str(FAILSLAB "/probability", "0"));
		after(_metadata, self, ret, close_bad, "random cycle", i);
	}
	times = read_long(FAILSLAB "/times");
	ASSERT_LE(0, times);
	self->injected = (int)(1000000 - times);
	summary(self, "random");
	EXPECT_GT(self->injected, 0);
	EXPECT_EQ(0, self->error_states) TH_LOG("a failed allocation left a VF in ERROR");
	EXPECT_EQ(fds, count_fds()) TH_LOG("file descriptors leaked");
}

TEST_HARNESS_MAIN
