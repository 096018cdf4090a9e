/* event_loop.c: a worker thread's epoll loop, inbox and deadlines (see event_loop.h). */
#include "comet/event_loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/status.h"

#define EPOLL_BATCH 256

static void loop_on_inbox(struct loop_handle *handle, uint32_t events);

static void loop_stop_item(struct inbox_item *item, struct event_loop *loop)
{
    (void)item;
    loop->stopping = true;
}

int event_loop_create(struct event_loop **out, int index, const struct event_loop_hooks *hooks)
{
    struct event_loop *loop = calloc(1, sizeof(*loop));

    *out = NULL;
    if (loop == NULL)
        return GIM_ERR_NO_MEMORY;
    loop->index = index;
    loop->epoll_fd = -1;
    loop->inbox.event_fd = -1;
    loop->hooks = *hooks;
    loop->now_ms = gim_monotonic_ms();
    timer_wheel_init(&loop->wheel, loop->now_ms);
    loop->stop_item.run = loop_stop_item;
    loop->scratch = malloc(LOOP_SCRATCH_SIZE);
    loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->scratch == NULL || loop->epoll_fd < 0 || inbox_init(&loop->inbox) != GIM_OK) {
        int status = loop->scratch == NULL ? GIM_ERR_NO_MEMORY : GIM_ERR_IO;
        loop->hooks.stopped = NULL;
        loop->hooks.after_iteration = NULL;
        event_loop_destroy(loop);
        return status;
    }
    loop->inbox_handle.on_events = loop_on_inbox;
    loop->inbox_handle.fd = loop->inbox.event_fd;
    if (event_loop_watch(loop, &loop->inbox_handle, EPOLLIN) != GIM_OK) {
        loop->hooks.stopped = NULL;
        loop->hooks.after_iteration = NULL;
        event_loop_destroy(loop);
        return GIM_ERR_IO;
    }
    *out = loop;
    return GIM_OK;
}

int event_loop_watch(struct event_loop *loop, struct loop_handle *handle, uint32_t events)
{
    struct epoll_event event = {0};

    event.events = events;
    event.data.ptr = handle;
    return epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, handle->fd, &event) == 0 ? GIM_OK : GIM_ERR_IO;
}

void event_loop_modify(struct event_loop *loop, struct loop_handle *handle, uint32_t events)
{
    struct epoll_event event = {0};

    event.events = events;
    event.data.ptr = handle;
    if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_MOD, handle->fd, &event) != 0)
        gim_log_warn("epoll_ctl MOD fd %d: %s", handle->fd, strerror(errno));
}

void event_loop_forget(struct event_loop *loop, struct loop_handle *handle)
{
    epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, handle->fd, NULL);
}

static void loop_run_items(struct event_loop *loop, struct inbox_item *item)
{
    struct inbox_item *next;

    for (; item != NULL; item = next) {
        next = item->next;
        item->run(item, loop); /* may free item */
    }
}

static void loop_on_inbox(struct loop_handle *handle, uint32_t events)
{
    struct event_loop *loop =
        (struct event_loop *)((char *)handle - offsetof(struct event_loop, inbox_handle));

    (void)events;
    loop_run_items(loop, inbox_take_all(&loop->inbox));
}

int event_loop_run_once(struct event_loop *loop, int max_wait_ms)
{
    struct epoll_event events[EPOLL_BATCH];
    int count, index, timeout = timer_wheel_wait_ms(&loop->wheel, loop->now_ms);

    if (loop->hooks.before_wait != NULL) {
        int wish = loop->hooks.before_wait(loop->hooks.context);
        if (wish >= 0 && (timeout < 0 || wish < timeout))
            timeout = wish;
    }
    if (max_wait_ms >= 0 && (timeout < 0 || max_wait_ms < timeout))
        timeout = max_wait_ms;
    count = epoll_wait(loop->epoll_fd, events, EPOLL_BATCH, timeout);
    if (count < 0 && errno != EINTR) {
        gim_log_error("loop %d: epoll_wait: %s", loop->index, strerror(errno));
        return GIM_ERR_IO;
    }
    loop->now_ms = gim_monotonic_ms();
    for (index = 0; index < count; index++) {
        struct loop_handle *handle = events[index].data.ptr;
        handle->on_events(handle, events[index].events);
    }
    if (loop->hooks.timer_expired != NULL)
        timer_wheel_advance(&loop->wheel, loop->now_ms, loop->hooks.timer_expired,
                            loop->hooks.context);
    if (loop->hooks.after_iteration != NULL)
        loop->hooks.after_iteration(loop->hooks.context); /* safe point: no callback runs */
    return GIM_OK;
}

/* The end of a loop: everything it holds closed, then freed at the safe point. */
static void loop_finish(struct event_loop *loop)
{
    if (loop->hooks.stopped != NULL)
        loop->hooks.stopped(loop->hooks.context);
    if (loop->hooks.after_iteration != NULL)
        loop->hooks.after_iteration(loop->hooks.context);
}

static void *event_loop_run(void *argument)
{
    struct event_loop *loop = argument;

    while (!loop->stopping && event_loop_run_once(loop, -1) == GIM_OK) {
    }
    loop_finish(loop);
    return NULL;
}

int event_loop_start(struct event_loop *loop)
{
    if (pthread_create(&loop->thread, NULL, event_loop_run, loop) != 0)
        return GIM_ERR_IO;
    loop->thread_started = true;
    return GIM_OK;
}

void event_loop_stop(struct event_loop *loop)
{
    event_loop_post(loop, &loop->stop_item);
}

void event_loop_join(struct event_loop *loop)
{
    if (loop->thread_started)
        pthread_join(loop->thread, NULL);
    loop->thread_started = false;
}

void event_loop_destroy(struct event_loop *loop)
{
    if (loop == NULL)
        return;
    if (loop->inbox.event_fd >= 0) {
        /* auth results and jobs that arrived after the thread ended */
        loop->stopping = true;
        loop_run_items(loop, inbox_take_all(&loop->inbox));
        loop_finish(loop);
        inbox_destroy(&loop->inbox);
    }
    if (loop->epoll_fd >= 0)
        close(loop->epoll_fd);
    free(loop->scratch);
    free(loop);
}

int event_loop_reserve(struct event_loop *loop)
{
    return inbox_reserve(&loop->inbox, LOOP_MAX_WAITING_JOBS);
}

void event_loop_unreserve(struct event_loop *loop)
{
    inbox_unreserve(&loop->inbox);
}

void event_loop_post_reserved(struct event_loop *loop, struct inbox_item *item)
{
    inbox_post_reserved(&loop->inbox, item);
}

void event_loop_post(struct event_loop *loop, struct inbox_item *item)
{
    inbox_post(&loop->inbox, item);
}
