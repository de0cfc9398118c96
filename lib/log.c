// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Logging: every message goes to the device's log callback, filtered by its
 * level. Without a callback the library stays silent.
 */
#include <errno.h>
#include <stdio.h>
#include "internal.h"

void vduse_log(const struct vduse_dev *dev, enum vduse_log_level lvl, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int saved = errno;

	if (!dev || !dev->o.log || lvl > dev->o.log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	dev->o.log(dev->o.user, lvl, buf);
	/* callers log an error and then return -errno: keep it theirs */
	errno = saved;
}
