// SPDX-License-Identifier: GPL-2.0
/*
 * blkioctl: issue BLKDISCARD or BLKZEROOUT on a block device (busybox's
 * blkdiscard has no zero-out), for the vduse-blk suite.
 *
 *   blkioctl discard|zeroout DEVICE OFFSET LENGTH
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/fs.h>

int main(int argc, char **argv)
{
	uint64_t range[2];
	unsigned long req;
	int fd;

	if (argc != 5 || (strcmp(argv[1], "discard") && strcmp(argv[1], "zeroout"))) {
		fprintf(stderr, "usage: blkioctl discard|zeroout DEVICE OFFSET LENGTH\n");
		return 2;
	}
	req = strcmp(argv[1], "discard") ? BLKZEROOUT : BLKDISCARD;
	range[0] = strtoull(argv[3], NULL, 0);
	range[1] = strtoull(argv[4], NULL, 0);
	fd = open(argv[2], O_WRONLY);
	if (fd < 0 || ioctl(fd, req, range)) {
		fprintf(stderr, "blkioctl %s %s: %s\n", argv[1], argv[2], strerror(errno));
		return 1;
	}
	return 0;
}
