/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ndrguard-control: reads and validates ndrguard.conf, keeps the directory (flat files, last
 * good snapshot, ndrctl overlay), pushes both to the dataplane and answers ndrctl. One thread,
 * one poll loop; SIGHUP reloads, SIGTERM/SIGINT stop.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl_io.h"
#include "log.h"
#include "metrics.h"
#include "ndrguardd.h"
#include "obs.h"
#include "xdp.h"

#define CTLD_CMD_MAX	       (64 * 1024) /* one ndrctl request */
#define CTLD_REPLY_MAX	       (512 * 1024)
#define CTLD_ARGS_MAX	       16
#define CTLD_GUARD_MIN_REMOVED 10 /* smaller shrinks never trip the guard (tiny directories) */

static void
usage(void)
{
	fprintf(stderr, "usage: ndrguard-control [-dv] [-f CONF] [-s SOCKET]\n"
			"       ndrguard-control -n [-f CONF]\n"
			"  -f CONF    configuration file (default /etc/ndrguard/ndrguard.conf)\n"
			"  -n         check the configuration and exit (0 valid, 1 not)\n"
			"  -s SOCKET  control socket for ndrctl (overrides 'control socket')\n"
			"  -v         verbose (debug) logging\n");
	exit(2);
}

static void
ctld_overlay_path(const struct ctld *d, char *buf, size_t size)
{
	snprintf(buf, size, "%s.local", d->conf->snapshot_path);
}

int
ctld_overlay_write(const struct ctld *d)
{
	char path[CONF_PATH_MAX + 16];

	ctld_overlay_path(d, path, sizeof(path));
	return dir_write_lines(path,
		"# ndrctl dir add (+) and dir del (-), applied over the directory sources\n",
		&d->local_add, "+", &d->local_del, "-");
}

int
ctld_blocks_write(const struct ctld *d)
{
	char path[CONF_PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s.blocks", d->conf->snapshot_path);
	return dir_write_lines(path, "# ndrctl block add: networks refused at connect\n",
		&d->blocks, "", NULL, NULL);
}

static void
ctld_blocks_read(struct ctld *d)
{
	char path[CONF_PATH_MAX + 16], line[64];
	FILE *f;

	snprintf(path, sizeof(path), "%s.blocks", d->conf->snapshot_path);
	f = fopen(path, "r");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		uint32_t ip;
		uint8_t plen;

		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] != '#' && conf_parse_net(line, &ip, &plen) == 0)
			(void) dir_set_add(&d->blocks, line);
	}
	fclose(f);
	dir_set_finish(&d->blocks);
}

static void
ctld_overlay_read(struct ctld *d)
{
	char path[CONF_PATH_MAX + 16], line[DIR_ADDR_MAX + 8], norm[DIR_ADDR_MAX + 1];
	const char *why;
	FILE *f;

	ctld_overlay_path(d, path, sizeof(path));
	f = fopen(path, "r");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if ((line[0] != '+' && line[0] != '-') ||
			dir_addr_normalize(line + 1, false, norm, &why) != 0)
			continue;
		(void) dir_set_add(line[0] == '+' ? &d->local_add : &d->local_del, norm);
	}
	fclose(f);
	dir_set_finish(&d->local_add);
	dir_set_finish(&d->local_del);
}

int
ctld_dir_sync(struct ctld *d, FILE *report)
{
	return ctld_dir_sync_force(d, report, false);
}

bool
ctld_dir_guard_alarm(const struct ctld *d, time_t now)
{
	if (d->held_valid)
		return true;
	return d->conf->dir_max_age_ms != 0 && d->dir.n != 0 &&
	       (uint64_t) (now - d->dir_synced) * 1000 > d->conf->dir_max_age_ms;
}

int
ctld_dir_sync_force(struct ctld *d, FILE *report, bool force)
{
	const struct conf_str *src;
	struct dir_set next;
	size_t bad = 0;
	int ret = 0;

	dir_set_init(&next);
	TAILQ_FOREACH (src, &d->conf->dir_files, entry) {
		ret = dir_file_read(src->s, &next, report, &bad);
		if (ret != 0) {
			snprintf(d->dir_error, sizeof(d->dir_error), "%.180s: %.60s", src->s,
				strerror(-ret));
			log_warnx("directory source %s: %s; keeping the last good directory",
				src->s, strerror(-ret));
			dir_set_free(&next);
			return ret;
		}
	}
	for (size_t i = 0; ret == 0 && i < d->local_add.n; i++)
		ret = dir_set_add(&next, d->local_add.v[i]);
	if (ret != 0) {
		dir_set_free(&next);
		return ret;
	}
	dir_set_finish(&next);
	for (size_t i = 0; i < d->local_del.n; i++)
		(void) dir_set_del(&next, d->local_del.v[i]);
	/* Integrity guard: a source that suddenly lost many addresses is more likely broken
	 * than right; hold it until an admin accepts it (ndrctl dir accept). */
	if (!force && d->dir.n > next.n + CTLD_GUARD_MIN_REMOVED &&
		next.n * 100 < d->dir.n * (100 - (size_t) d->conf->dir_max_shrink_pct)) {
		if (d->held_valid)
			dir_set_free(&d->held);
		d->held = next;
		d->held_valid = true;
		log_warnx("directory guard: a sync would shrink the directory from %zu to %zu "
			  "addresses; held, unknown recipients get 450 4.1.1 until 'ndrctl dir "
			  "accept'",
			d->dir.n, next.n);
		if (report != NULL)
			fprintf(report,
				"held: the sources would shrink the directory from %zu to %zu "
				"addresses (more than %u%%); run 'ndrctl dir accept' to apply\n",
				d->dir.n, next.n, d->conf->dir_max_shrink_pct);
		return -EAGAIN;
	}
	if (d->held_valid) {
		dir_set_free(&d->held);
		d->held_valid = false;
	}
	d->dir_error[0] = '\0';
	d->dir_bad_lines = bad;
	d->dir_synced = time(NULL);
	if (next.gen == d->dir.gen && next.n == d->dir.n) {
		dir_set_free(&next);
		return 0;
	}
	dir_set_free(&d->dir);
	d->dir = next;
	ret = dir_snapshot_write(&d->dir, d->conf->snapshot_path);
	if (ret != 0)
		log_error_errno(ret, "writing the snapshot %s, ignoring", d->conf->snapshot_path);
	log_info("directory: %zu addresses (%zu bad lines skipped)", d->dir.n, bad);
	if (d->dp_fd >= 0)
		(void) ctld_dp_sync(d);
	return 0;
}

/* At start, the last good snapshot is in force until the sources have been read. */
static void
ctld_snapshot_load(struct ctld *d)
{
	size_t bad = 0;
	int ret = dir_file_read(d->conf->snapshot_path, &d->dir, NULL, &bad);

	if (ret != 0 && ret != -ENOENT)
		log_error_errno(ret, "reading the snapshot %s, ignoring", d->conf->snapshot_path);
	dir_set_finish(&d->dir);
	if (d->dir.n == 0) {
		d->dir.gen = 0;
	} else {
		struct stat st;

		/* The snapshot is as old as the last good sync that wrote it. */
		if (stat(d->conf->snapshot_path, &st) == 0)
			d->dir_synced = st.st_mtime;
		log_info("snapshot: %zu addresses from %s", d->dir.n, d->conf->snapshot_path);
	}
}

static void
ctld_mkdir_for(const char *path)
{
	char dir[CONF_PATH_MAX];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		(void) mkdir(dir, 0755);
		*p = '/';
	}
	(void) mkdir(dir, 0755);
}

/* 'ndrctl block add' networks into the XDP trie: pinned maps usually still hold them, a new
 * bpffs (a reboot) does not. Entries already there keep their counters. */
static void
ctld_xdp_admin_blocks(struct ctld *d)
{
	for (size_t i = 0; xdp_active() && i < d->blocks.n; i++)
		if (xdp_block_add(d->blocks.v[i], obs_block_ttl(d, d->blocks.v[i], time(NULL)),
			    XDPG_REASON_ADMIN) != 0)
			log_warnx("xdp: %s not blocked at XDP, ignoring", d->blocks.v[i]);
}

int
ctld_reload(struct ctld *d, FILE *report)
{
	struct ndg_conf *c;

	/* Reopened on the next record: a new path, or a log rotated away before SIGHUP (also
	 * when the new configuration turns out invalid). */
	if (d->dlog != NULL) {
		fclose(d->dlog);
		d->dlog = NULL;
	}
	c = conf_load(d->conf_path, report ? report : stderr);

	if (c == NULL) {
		log_warnx("reload of %s failed; the previous configuration stays in force",
			d->conf_path);
		return -EINVAL;
	}
	conf_free(d->conf);
	d->conf = c;
	obs_conf_loaded(d);
	d->conf_gen = ctld_config_digest(d);
	d->conf_loaded = time(NULL);
	log_info("configuration %s loaded", c->path);
	if (xdp_reconfigure(c) != 0)
		log_warnx("xdp: the new settings are not in force");
	ctld_xdp_admin_blocks(d);
	(void) ctld_dir_sync(d, report);
	d->dir_next_sync = time(NULL) + (time_t) (c->dir_sync_interval_ms / 1000);
	if (d->dp_fd >= 0)
		(void) ctld_dp_sync(d);
	return 0;
}

/* One ndrctl request: a CMD frame with NUL-separated arguments; one CMD_REPLY back. */
static void
ctld_serve_client(struct ctld *d, int fd)
{
	struct ctl_msg_hdr h;
	char *req = malloc(CTLD_CMD_MAX + 1), *reply = NULL, *argv[CTLD_ARGS_MAX];
	size_t reply_len = 0;
	struct ctl_cmd_reply *head;
	FILE *out;
	ssize_t n;
	int argc = 0, status;

	if (req == NULL)
		goto out;
	n = ctl_recv(fd, &h, req, CTLD_CMD_MAX, 2000);
	if (n < 0 || h.type != CTL_MSG_CMD)
		goto out;
	req[n] = '\0';
	for (ssize_t i = 0; i < n && argc < CTLD_ARGS_MAX; i += (ssize_t) strlen(req + i) + 1)
		argv[argc++] = req + i;
	out = open_memstream(&reply, &reply_len);
	if (out == NULL)
		goto out;
	fwrite(&(struct ctl_cmd_reply){0}, sizeof(struct ctl_cmd_reply), 1, out);
	d->cmd_keep_fd = false;
	status = 2;
	if (argc > 0)
		status = obs_command(d, fd, argc, argv, out, &d->cmd_keep_fd);
	if (status < 0)
		status = argc > 0 ? ctld_command(d, argc, argv, out) : 2;
	if (fclose(out) != 0 || reply_len < sizeof(*head))
		goto out;
	head = (struct ctl_cmd_reply *) reply;
	head->status = status;
	if (reply_len > CTLD_REPLY_MAX)
		reply_len = CTLD_REPLY_MAX;
	if (ctl_send(fd, CTL_MSG_CMD_REPLY, h.seq, CTL_FLAG_REPLY, reply, reply_len) == 0 &&
		status == 0 && d->cmd_keep_fd) {
		obs_follow_start(d, fd); /* log tail --follow: records follow on this fd */
		fd = -1;
	}
out:
	d->cmd_keep_fd = false;
	free(reply);
	free(req);
	if (fd >= 0)
		close(fd);
}

/* Render /metrics from the dataplane's counters (when reachable) and our own state. */
static void
ctld_metrics_refresh(struct ctld *d)
{
	char *stats = malloc(256 * 1024), *page = NULL;
	size_t len = 0;
	FILE *f;
	bool have = stats != NULL && d->dp_fd >= 0 && ctld_dp_stats(d, stats, 256 * 1024) > 0;

	f = open_memstream(&page, &len);
	if (f != NULL) {
		metrics_render(d, have ? stats : NULL, f);
		if (fclose(f) == 0)
			metrics_publish(page, len);
	}
	free(page);
	free(stats);
}

int
main(int argc, char **argv)
{
	struct ctld d = {.conf_path = "/etc/ndrguard/ndrguard.conf", .dp_fd = -1, .dp_log_fd = -1};
	bool check = false;
	int verbose = 0, c;
	time_t metrics_next = 0;
	sigset_t mask;

	while ((c = getopt(argc, argv, "df:ns:vh")) != -1) {
		switch (c) {
		case 'd':
			break; /* foreground is the only mode; kept for habit */
		case 'f':
			d.conf_path = optarg;
			break;
		case 'n':
			check = true;
			break;
		case 's':
			d.control_socket = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	log_init("ndrguard-control", verbose);

	d.conf = conf_load(d.conf_path, stderr);
	if (check) {
		if (d.conf == NULL)
			return 1;
		printf("%s: configuration OK\n", d.conf_path);
		conf_free(d.conf);
		return 0;
	}
	if (d.conf == NULL)
		fatalx("%s: invalid configuration", d.conf_path);
	d.conf_gen = ctld_config_digest(&d);
	d.conf_loaded = d.started = time(NULL);
	if (d.control_socket == NULL)
		d.control_socket = d.conf->control_socket;

	ctld_mkdir_for(d.conf->snapshot_path);
	ctld_mkdir_for(d.control_socket);
	ctld_mkdir_for(d.conf->decision_log);
	dir_set_init(&d.dir);
	dir_set_init(&d.local_add);
	dir_set_init(&d.local_del);
	ctld_overlay_read(&d);
	dir_set_init(&d.blocks);
	ctld_blocks_read(&d);
	if (obs_init(&d) != 0)
		fatalx("out of memory");
	d.conf_gen = ctld_config_digest(&d);
	ctld_snapshot_load(&d);
	(void) ctld_dir_sync(&d, stderr);
	d.dir_next_sync = time(NULL) + (time_t) (d.conf->dir_sync_interval_ms / 1000);

	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d.sig_fd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (d.sig_fd < 0)
		fatal("signalfd");
	d.listen_fd = ctl_listen(d.control_socket);
	if (d.listen_fd < 0) {
		errno = -d.listen_fd;
		fatal("listening on %s", d.control_socket);
	}
	if (d.conf->metrics_listen[0] != '\0') {
		int ret = metrics_start(d.conf->metrics_listen);

		if (ret != 0)
			log_error_errno(ret, "serving metrics on %s, ignoring",
				d.conf->metrics_listen);
		else
			log_info("metrics on http://%s/metrics", d.conf->metrics_listen);
	}
	if (xdp_start(d.conf) != 0)
		log_warnx("xdp: not in force; the dataplane still refuses blocked sources at "
			  "connect");
	ctld_xdp_admin_blocks(&d);
	log_info("ready: ndrctl on %s, dataplane at %s", d.control_socket,
		d.conf->dataplane_socket);
	(void) ctld_dp_sync(&d);

	for (;;) {
		struct pollfd p[4] = {
			{.fd = d.sig_fd, .events = POLLIN},
			{.fd = d.listen_fd, .events = POLLIN},
			{.fd = d.dp_fd, .events = POLLIN},
			{.fd = d.dp_log_fd, .events = POLLIN},
		};
		int r = poll(p, 4, 500);

		if (r < 0 && errno != EINTR)
			fatal("poll");
		if (r > 0 && (p[0].revents & POLLIN)) {
			struct signalfd_siginfo si;

			if (read(d.sig_fd, &si, sizeof(si)) == (ssize_t) sizeof(si)) {
				if (si.ssi_signo == SIGHUP) {
					log_info("SIGHUP: reloading");
					(void) ctld_reload(&d, NULL);
					/* A rotated decision log starts anew at once. */
					if (d.dlog == NULL)
						d.dlog = fopen(d.conf->decision_log, "ae");
				} else {
					log_info("signal %u: exiting", si.ssi_signo);
					break;
				}
			}
		}
		if (r > 0 && (p[1].revents & POLLIN)) {
			int fd = accept4(d.listen_fd, NULL, NULL, SOCK_CLOEXEC);

			if (fd >= 0)
				ctld_serve_client(&d, fd);
		}
		if (d.dp_log_fd >= 0 && r > 0 && (p[3].revents & (POLLIN | POLLHUP | POLLERR)))
			(void) ctld_dp_log_read(&d);
		if (d.dp_fd >= 0 && d.dp_log_fd < 0 && time(NULL) >= d.dp_next_try) {
			d.dp_next_try = time(NULL) + 1;
			(void) ctld_dp_log_open(&d);
		}
		/* The dataplane only answers; anything readable out of turn means it went away. */
		if (d.dp_fd >= 0 && r > 0 && (p[2].revents & (POLLIN | POLLHUP | POLLERR)))
			ctld_dp_close(&d);
		if (d.dp_fd < 0 && time(NULL) >= d.dp_next_try)
			(void) ctld_dp_sync(&d);
		if (time(NULL) >= d.dir_next_sync) {
			d.dir_next_sync =
				time(NULL) + (time_t) (d.conf->dir_sync_interval_ms / 1000);
			(void) ctld_dir_sync(&d, NULL);
		}
		obs_tick(&d, time(NULL));
		if (d.dp_fd >= 0 && ctld_dir_guard_alarm(&d, time(NULL)) != d.dp_stale)
			(void) ctld_dp_sync(&d);
		(void) xdp_expire();
		if (d.conf->metrics_listen[0] != '\0' && time(NULL) >= metrics_next) {
			metrics_next = time(NULL) + 1;
			ctld_metrics_refresh(&d);
		}
	}
	metrics_stop();
	obs_fini(&d);
	xdp_stop();
	ctld_dp_close(&d);
	close(d.listen_fd);
	(void) unlink(d.control_socket);
	dir_set_free(&d.dir);
	dir_set_free(&d.local_add);
	dir_set_free(&d.local_del);
	dir_set_free(&d.blocks);
	if (d.held_valid)
		dir_set_free(&d.held);
	if (d.dlog != NULL)
		fclose(d.dlog);
	conf_free(d.conf);
	return 0;
}
