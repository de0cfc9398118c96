/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Minimal TAP output for the native unit tests and the guest test programs.
 * Each check prints "ok N - name" or "not ok N - name # detail"; the harness
 * counts those lines.
 */
#ifndef VDUSE_TESTS_TAP_H
#define VDUSE_TESTS_TAP_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

static inline void tap_result(int ok, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static inline void tap_result(int ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	tap_n++;
	if (!ok)
		tap_failed++;
	printf("%sok %d - %s", ok ? "" : "not ", tap_n, name);
	if (!ok && fmt) {
		printf(" # ");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
	}
	printf("\n");
	fflush(stdout);
}

/* A check with a free-form failure detail. */
#define TAP_OK(cond, name, ...) tap_result(!!(cond), name, __VA_ARGS__)

/* Expect equality of two integers. */
#define TAP_EQ(got, want, name) do { \
	long long g_ = (long long)(got), w_ = (long long)(want); \
	tap_result(g_ == w_, name, "got %lld, want %lld", g_, w_); \
} while (0)

/* Expect a syscall-style call to fail with errno E (call returns < 0). */
#define TAP_ERRNO(call, e, name) do { \
	errno = 0; \
	long r_ = (long)(call); \
	int er_ = errno; \
	tap_result(r_ < 0 && er_ == (e), name, "returned %ld errno %d (%s), want errno %d (%s)", \
		   r_, r_ < 0 ? er_ : 0, r_ < 0 ? strerror(er_) : "none", (e), strerror(e)); \
} while (0)

/* Expect a syscall-style call to succeed (returns >= 0). */
#define TAP_SYS(call, name) do { \
	errno = 0; \
	long r_ = (long)(call); \
	int er_ = errno; \
	tap_result(r_ >= 0, name, "returned %ld errno %d (%s)", r_, er_, strerror(er_)); \
} while (0)

static inline void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void tap_diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static inline int tap_done(void)
{
	printf("# %d passed, %d failed\n", tap_n - tap_failed, tap_failed);
	return tap_failed ? 1 : 0;
}

#endif
