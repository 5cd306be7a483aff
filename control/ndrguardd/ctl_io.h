/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Framing of control/proto/ctl_proto-t.h over Unix stream sockets, blocking with a timeout.
 * Used by ndrguard-control and ndrctl; any thread, one thread per descriptor.
 */
#ifndef NDG_CONTROL_CTL_IO_H
#define NDG_CONTROL_CTL_IO_H

#include <stddef.h>
#include <stdint.h>

#include "ctl_proto-t.h"

/**
 * Send one frame: header (version, <type>, <seq>, <flags>) then <len> bytes of <payload>.
 * @return 0; -EMSGSIZE when the frame exceeds CTL_PROTO_MAX_FRAME; -errno of write().
 */
int ctl_send(int fd, uint16_t type, uint32_t seq, uint32_t flags, const void *payload, size_t len);

/**
 * Receive one frame into <hdr> and <buf> (<size> bytes), waiting at most <timeout_ms>
 * (negative: forever). Frames of another protocol version are refused.
 * @return the payload length; -ETIMEDOUT; -EPROTO (bad version or length); -EMSGSIZE
 *   (payload larger than <size>); -ECONNRESET (peer closed); -errno of read().
 */
ssize_t ctl_recv(int fd, struct ctl_msg_hdr *hdr, void *buf, size_t size, int timeout_ms);

/**
 * Connect to the Unix socket <path>. @return the descriptor, or -errno.
 */
int ctl_connect(const char *path);

/**
 * Create, bind (replacing a stale socket file) and listen on <path> with mode 0660.
 * @return the descriptor, or -errno.
 */
int ctl_listen(const char *path);

#endif /* NDG_CONTROL_CTL_IO_H */
