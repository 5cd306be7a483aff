/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Blocking frame I/O with timeouts on Unix stream sockets. Any thread.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl_io.h"

int
ctl_send(int fd, uint16_t type, uint32_t seq, uint32_t flags, const void *payload, size_t len)
{
	struct ctl_msg_hdr h = {
		.version = CTL_PROTO_VERSION,
		.type = type,
		.len = (uint32_t) len,
		.seq = seq,
		.flags = flags,
	};
	struct iovec iov[2] = {
		{.iov_base = &h, .iov_len = sizeof(h)},
		{.iov_base = (void *) payload, .iov_len = len},
	};
	int n = len ? 2 : 1;
	struct iovec *v = iov;

	if (len > CTL_PROTO_MAX_FRAME - sizeof(h))
		return -EMSGSIZE;
	while (n > 0) {
		ssize_t w = writev(fd, v, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		while (n > 0 && (size_t) w >= v->iov_len) {
			w -= (ssize_t) v->iov_len;
			v++;
			n--;
		}
		if (n > 0) {
			v->iov_base = (char *) v->iov_base + w;
			v->iov_len -= (size_t) w;
		}
	}
	return 0;
}

static int64_t
ctl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
ctl_read_full(int fd, void *buf, size_t len, int64_t deadline)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int wait = -1, r;
		ssize_t n;

		if (deadline >= 0) {
			int64_t left = deadline - ctl_now_ms();

			if (left <= 0)
				return -ETIMEDOUT;
			wait = (int) left;
		}
		r = poll(&p, 1, wait);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -ETIMEDOUT;
		n = read(fd, (char *) buf + got, len - got);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ECONNRESET;
		got += (size_t) n;
	}
	return 0;
}

ssize_t
ctl_recv(int fd, struct ctl_msg_hdr *hdr, void *buf, size_t size, int timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? -1 : ctl_now_ms() + timeout_ms;
	int ret;

	ret = ctl_read_full(fd, hdr, sizeof(*hdr), deadline);
	if (ret != 0)
		return ret;
	if (hdr->version != CTL_PROTO_VERSION || hdr->len > CTL_PROTO_MAX_FRAME - sizeof(*hdr))
		return -EPROTO;
	if (hdr->len > size)
		return -EMSGSIZE;
	ret = ctl_read_full(fd, buf, hdr->len, deadline);
	if (ret != 0)
		return ret;
	return (ssize_t) hdr->len;
}

static int
ctl_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memcpy(sa->sun_path, path, strlen(path) + 1);
	return 0;
}

int
ctl_connect(const char *path)
{
	struct sockaddr_un sa;
	int fd, ret;

	ret = ctl_addr(path, &sa);
	if (ret != 0)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

int
ctl_listen(const char *path)
{
	struct sockaddr_un sa;
	mode_t old;
	int fd, ret;

	ret = ctl_addr(path, &sa);
	if (ret != 0)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	(void) unlink(path);
	old = umask(0117);
	ret = bind(fd, (struct sockaddr *) &sa, sizeof(sa));
	umask(old);
	if (ret != 0 || listen(fd, 64) != 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}
