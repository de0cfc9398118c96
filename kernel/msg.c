// SPDX-License-Identifier: GPL-2.0
/*
 * VDUSE message channel: synchronous requests from the kernel to the
 * userspace device, carried by read(2)/write(2) on /dev/vduse/$name.
 *
 * A request lives on the sender's stack.  It sits on send_list until a
 * reader takes it, then on recv_list until a response with its request_id
 * is written.  Whoever gives up on a request (timeout, fatal signal, broken
 * device) unlinks it under msg_lock before the sender returns, so the
 * channel never points at a dead stack frame.
 */

#include <linux/fs.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/uio.h>

#include "vduse.h"

static struct vduse_msg *vduse_msg_find(struct list_head *head, u32 id)
{
	struct vduse_msg *msg;

	list_for_each_entry(msg, head, list)
		if (msg->req.request_id == id)
			return msg;
	return NULL;
}

/* Fail every pending request and refuse new ones. Caller holds msg_lock. */
static void vduse_msg_break(struct vduse_dev *dev)
{
	struct vduse_msg *msg, *tmp;

	if (dev->broken)
		return;
	dev->broken = true;
	list_splice_init(&dev->recv_list, &dev->send_list);
	list_for_each_entry_safe(msg, tmp, &dev->send_list, list) {
		list_del_init(&msg->list);
		msg->resp.result = VDUSE_REQ_RESULT_FAILED;
		msg->completed = true;
		wake_up(&msg->waitq);
	}
	wake_up(&dev->waitq);
	dev_err(dev->dev, "no response within %u s: device marked broken\n",
		dev->msg_timeout);
}

/**
 * vduse_msg_sync() - send a request and wait for its response
 * @dev: the device
 * @msg: the request, zeroed except for type and payload
 *
 * Waits up to msg_timeout seconds (forever if 0).  A timeout marks the
 * device broken; a fatal signal only abandons this request.
 *
 * Return: 0 if userspace answered OK, -EIO otherwise (FAILED, timeout,
 * signal, broken device).  @msg->completed then tells whether the device
 * answered (or broke meanwhile) rather than the request being given up.
 */
int vduse_msg_sync(struct vduse_dev *dev, struct vduse_msg *msg)
{
	unsigned int timeout = READ_ONCE(dev->msg_timeout);
	long left;
	int ret;

	init_waitqueue_head(&msg->waitq);
	msg->completed = false;
	spin_lock(&dev->msg_lock);
	if (dev->broken) {
		spin_unlock(&dev->msg_lock);
		return -EIO;
	}
	msg->req.request_id = dev->msg_next++;
	list_add_tail(&msg->list, &dev->send_list);
	wake_up(&dev->waitq);
	spin_unlock(&dev->msg_lock);

	if (timeout)
		left = wait_event_killable_timeout(msg->waitq, msg->completed,
						   (long)timeout * HZ);
	else
		left = wait_event_killable(msg->waitq, msg->completed) ?: 1;

	spin_lock(&dev->msg_lock);
	if (!msg->completed) {
		list_del(&msg->list);
		msg->resp.result = VDUSE_REQ_RESULT_FAILED;
		if (left == 0)
			vduse_msg_break(dev);
	}
	ret = msg->resp.result == VDUSE_REQ_RESULT_OK ? 0 : -EIO;
	spin_unlock(&dev->msg_lock);
	return ret;
}

/**
 * vduse_msg_requeue_all() - put requests read but not answered back in line
 * @dev: the device, whose fd is being closed
 *
 * The next opener of the device fd reads them again (reconnection).
 */
void vduse_msg_requeue_all(struct vduse_dev *dev)
{
	spin_lock(&dev->msg_lock);
	list_splice_init(&dev->recv_list, &dev->send_list);
	spin_unlock(&dev->msg_lock);
}

/**
 * vduse_msg_read() - read(2) of one request
 * @dev: the device
 * @file: the device file (for O_NONBLOCK)
 * @to: destination, at least one struct vduse_dev_request
 *
 * The request moves to recv_list before it is copied; if the copy fails it
 * goes back to the head of send_list, provided its sender still waits, and
 * the next reader is woken for it.
 *
 * Return: bytes read or a negative errno.
 */
ssize_t vduse_msg_read(struct vduse_dev *dev, struct file *file,
		       struct iov_iter *to)
{
	struct vduse_dev_request req;
	struct vduse_msg *msg;
	int ret;

	if (iov_iter_count(to) < sizeof(req))
		return -EINVAL;

	spin_lock(&dev->msg_lock);
	while (list_empty(&dev->send_list)) {
		spin_unlock(&dev->msg_lock);
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		ret = wait_event_interruptible_exclusive(dev->waitq,
							 !list_empty(&dev->send_list));
		if (ret)
			return ret;
		spin_lock(&dev->msg_lock);
	}
	msg = list_first_entry(&dev->send_list, struct vduse_msg, list);
	list_move_tail(&msg->list, &dev->recv_list);
	req = msg->req;
	spin_unlock(&dev->msg_lock);

	if (copy_to_iter(&req, sizeof(req), to) == sizeof(req))
		return sizeof(req);

	spin_lock(&dev->msg_lock);
	msg = vduse_msg_find(&dev->recv_list, req.request_id);
	if (msg) {
		list_move(&msg->list, &dev->send_list);
		/* Readers wait exclusively: this one was the one woken for it. */
		wake_up(&dev->waitq);
	}
	spin_unlock(&dev->msg_lock);
	return -EFAULT;
}

/**
 * vduse_msg_write() - write(2) of one response
 * @dev: the device
 * @from: exactly one struct vduse_dev_response
 *
 * Return: bytes consumed; -EINVAL for a short write or non-zero reserved
 * words, -ENOENT if no read request has this id.
 */
ssize_t vduse_msg_write(struct vduse_dev *dev, struct iov_iter *from)
{
	struct vduse_dev_response resp;
	struct vduse_msg *msg;
	unsigned int i;

	if (copy_from_iter(&resp, sizeof(resp), from) != sizeof(resp))
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(resp.reserved); i++)
		if (resp.reserved[i])
			return -EINVAL;

	spin_lock(&dev->msg_lock);
	msg = vduse_msg_find(&dev->recv_list, resp.request_id);
	if (!msg) {
		spin_unlock(&dev->msg_lock);
		return -ENOENT;
	}
	list_del_init(&msg->list);
	msg->resp = resp;
	msg->completed = true;
	wake_up(&msg->waitq);
	spin_unlock(&dev->msg_lock);
	return sizeof(resp);
}

/**
 * vduse_msg_poll() - poll(2) on the device fd
 * @dev: the device
 * @file: the device file
 * @wait: poll table
 *
 * Return: EPOLLIN with requests to read, EPOLLOUT with responses awaited,
 * EPOLLERR once broken.
 */
__poll_t vduse_msg_poll(struct vduse_dev *dev, struct file *file,
			poll_table *wait)
{
	__poll_t mask = 0;

	poll_wait(file, &dev->waitq, wait);
	spin_lock(&dev->msg_lock);
	if (dev->broken)
		mask |= EPOLLERR;
	if (!list_empty(&dev->send_list))
		mask |= EPOLLIN | EPOLLRDNORM;
	if (!list_empty(&dev->recv_list))
		mask |= EPOLLOUT | EPOLLWRNORM;
	spin_unlock(&dev->msg_lock);
	return mask;
}
