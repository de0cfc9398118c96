/* SPDX-License-Identifier: GPL-2.0 */
/*
 * UAPI structs that end in a flexible array (vduse_dev_config,
 * vduse_config_data, vhost_vdpa_config) are passed with their payload right
 * behind them. ISO C forbids a struct with a flexible array as a member
 * followed by more members, so the tests overlay the two in a union:
 *
 *	union {
 *		struct vduse_config_data d;
 *		struct {
 *			FLEX_HEAD(struct vduse_config_data);
 *			uint64_t cap;
 *		};
 *	} cd;
 *
 * cd.cap then lies where cd.d.buffer[] starts. Initialise such a union with
 * memset and assignments: a designated initialiser of both members keeps
 * only the last one.
 */
#ifndef VDUSE_TESTS_FLEX_H
#define VDUSE_TESTS_FLEX_H

#define FLEX_HEAD(type) unsigned char flex_head_[sizeof(type)]

#endif
