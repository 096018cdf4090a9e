/* gopusher_hook.c: connect hooks over libcurl's multi interface on one thread (see
 * gopusher_hook.h). */
#include "logic/gopusher_hook.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/status.h"

/* One call: its caller's until queued, then the hook thread's alone. */
struct hook_call {
    struct hook_call *previous, *next; /* the queue (next only), then the active list */
    CURL *easy;
    char *fields; /* token=<escaped> */
    char *url;
    gopusher_hook_done_fn done;
    void *user;
    char body[GOPUSHER_HOOK_MAX_BODY + 1];
    size_t body_length;
    char error[CURL_ERROR_SIZE];
};

struct gopusher_hook {
    pthread_mutex_t lock;
    pthread_t thread;
    CURLM *multi;
    struct hook_call *queued; /* under lock: calls the thread has not taken yet */
    struct hook_call *active; /* the thread's: calls added to multi */
    int in_flight;            /* under lock: calls accepted and not yet ended */
    int max_in_flight;
    int timeout_ms;
    bool stopping; /* under lock */
    bool joined;   /* the stopper's */
};

static void call_free(struct hook_call *call)
{
    if (call->easy != NULL)
        curl_easy_cleanup(call->easy);
    free(call->fields);
    free(call->url);
    free(call);
}

static size_t body_received(char *data, size_t size, size_t count, void *user)
{
    struct hook_call *call = user;
    size_t length = size * count, room = GOPUSHER_HOOK_MAX_BODY - call->body_length;

    if (call->body_length <= GOPUSHER_HOOK_MAX_BODY) {
        size_t taken = length < room ? length : room;
        memcpy(call->body + call->body_length, data, taken);
        call->body[call->body_length + taken] = '\0';
        /* past the bound the length says so: it can never equal a tag */
        call->body_length += length > room ? room + 1 : taken;
    }
    return length;
}

/* Ends call with status on the hook thread: reports it (outside the lock), frees it and gives
 * its place in the bound back. */
static void call_finish(struct gopusher_hook *hook, struct hook_call *call, int status)
{
    if (status != GIM_OK && call->error[0] == '\0')
        snprintf(call->error, sizeof(call->error), "%s", gim_strerror(status));
    call->done(call->user, status, call->body, call->body_length, call->error);
    call_free(call);
    pthread_mutex_lock(&hook->lock);
    hook->in_flight--;
    pthread_mutex_unlock(&hook->lock);
}

static void active_unlink(struct gopusher_hook *hook, struct hook_call *call)
{
    if (call->previous != NULL)
        call->previous->next = call->next;
    else
        hook->active = call->next;
    if (call->next != NULL)
        call->next->previous = call->previous;
}

static void *hook_main(void *argument)
{
    struct gopusher_hook *hook = argument;

    for (;;) {
        struct hook_call *queued;
        CURLMsg *message;
        int running = 0, left;
        bool stopping;

        pthread_mutex_lock(&hook->lock);
        queued = hook->queued;
        hook->queued = NULL;
        stopping = hook->stopping;
        pthread_mutex_unlock(&hook->lock);
        while (queued != NULL) {
            struct hook_call *call = queued;
            queued = call->next;
            if (stopping) {
                call_finish(hook, call, GIM_ERR_CLOSED);
            } else if (curl_multi_add_handle(hook->multi, call->easy) != CURLM_OK) {
                call_finish(hook, call, GIM_ERR_NO_MEMORY);
            } else {
                call->previous = NULL;
                call->next = hook->active;
                if (hook->active != NULL)
                    hook->active->previous = call;
                hook->active = call;
            }
        }
        if (stopping) { /* every call in flight ends now */
            while (hook->active != NULL) {
                struct hook_call *call = hook->active;
                active_unlink(hook, call);
                curl_multi_remove_handle(hook->multi, call->easy);
                call_finish(hook, call, GIM_ERR_CLOSED);
            }
            break;
        }
        curl_multi_perform(hook->multi, &running);
        while ((message = curl_multi_info_read(hook->multi, &left)) != NULL) {
            struct hook_call *call = NULL;
            CURLcode result = message->data.result;
            if (message->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, (char **)&call);
            curl_multi_remove_handle(hook->multi, message->easy_handle);
            active_unlink(hook, call);
            if (result != CURLE_OK && call->error[0] == '\0')
                snprintf(call->error, sizeof(call->error), "%s", curl_easy_strerror(result));
            call_finish(hook, call,
                        result == CURLE_OK                   ? GIM_OK
                        : result == CURLE_OPERATION_TIMEDOUT ? GIM_ERR_TIMEOUT
                                                             : GIM_ERR_IO);
        }
        curl_multi_poll(hook->multi, NULL, 0, 1000, NULL);
    }
    return NULL;
}

int gopusher_hook_start(struct gopusher_hook **out, int timeout_ms, int max_in_flight)
{
    struct gopusher_hook *hook;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return GIM_ERR_IO;
    hook = calloc(1, sizeof(*hook));
    if (hook == NULL) {
        curl_global_cleanup();
        return GIM_ERR_NO_MEMORY;
    }
    hook->multi = curl_multi_init();
    if (hook->multi == NULL) {
        free(hook);
        curl_global_cleanup();
        return GIM_ERR_IO;
    }
    hook->timeout_ms = timeout_ms;
    hook->max_in_flight = max_in_flight < 1 ? 1 : max_in_flight;
    pthread_mutex_init(&hook->lock, NULL);
    if (pthread_create(&hook->thread, NULL, hook_main, hook) != 0) {
        curl_multi_cleanup(hook->multi);
        pthread_mutex_destroy(&hook->lock);
        free(hook);
        curl_global_cleanup();
        return GIM_ERR_IO;
    }
    *out = hook;
    return GIM_OK;
}

/* A call's easy handle: POST fields to url, bounded in time, http(s) only, no redirects. */
static int call_prepare(struct gopusher_hook *hook, struct hook_call *call, const char *url,
                        const char *token)
{
    char *escaped;

    call->easy = curl_easy_init();
    call->url = strdup(url);
    if (call->easy == NULL || call->url == NULL)
        return GIM_ERR_NO_MEMORY;
    escaped = curl_easy_escape(call->easy, token, 0);
    if (escaped == NULL)
        return GIM_ERR_NO_MEMORY;
    call->fields = malloc(strlen(escaped) + sizeof("token="));
    if (call->fields == NULL) {
        curl_free(escaped);
        return GIM_ERR_NO_MEMORY;
    }
    strcpy(call->fields, "token=");
    strcat(call->fields, escaped);
    curl_free(escaped);
    curl_easy_setopt(call->easy, CURLOPT_URL, call->url);
    curl_easy_setopt(call->easy, CURLOPT_POSTFIELDS, call->fields);
    curl_easy_setopt(call->easy, CURLOPT_TIMEOUT_MS, (long)hook->timeout_ms);
    curl_easy_setopt(call->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(call->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(call->easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(call->easy, CURLOPT_WRITEFUNCTION, body_received);
    curl_easy_setopt(call->easy, CURLOPT_WRITEDATA, call);
    curl_easy_setopt(call->easy, CURLOPT_ERRORBUFFER, call->error);
    curl_easy_setopt(call->easy, CURLOPT_PRIVATE, call);
    return GIM_OK;
}

int gopusher_hook_call(struct gopusher_hook *hook, const char *url, const char *token,
                       gopusher_hook_done_fn done, void *user)
{
    struct hook_call *call;
    int status;

    pthread_mutex_lock(&hook->lock);
    if (hook->stopping || hook->in_flight >= hook->max_in_flight) {
        status = hook->stopping ? GIM_ERR_CLOSED : GIM_ERR_AGAIN;
        pthread_mutex_unlock(&hook->lock);
        return status;
    }
    hook->in_flight++; /* the place is taken before the call is built */
    pthread_mutex_unlock(&hook->lock);

    call = calloc(1, sizeof(*call));
    status = call == NULL ? GIM_ERR_NO_MEMORY : call_prepare(hook, call, url, token);
    pthread_mutex_lock(&hook->lock);
    if (status == GIM_OK && hook->stopping)
        status = GIM_ERR_CLOSED; /* the thread may be gone: nobody would end it */
    if (status != GIM_OK) {
        hook->in_flight--;
        pthread_mutex_unlock(&hook->lock);
        if (call != NULL)
            call_free(call);
        return status;
    }
    call->done = done;
    call->user = user;
    call->next = hook->queued;
    hook->queued = call;
    pthread_mutex_unlock(&hook->lock);
    curl_multi_wakeup(hook->multi);
    return GIM_OK;
}

void gopusher_hook_stop(struct gopusher_hook *hook)
{
    if (hook == NULL || hook->joined)
        return;
    pthread_mutex_lock(&hook->lock);
    hook->stopping = true;
    pthread_mutex_unlock(&hook->lock);
    curl_multi_wakeup(hook->multi);
    pthread_join(hook->thread, NULL);
    hook->joined = true;
}

void gopusher_hook_destroy(struct gopusher_hook *hook)
{
    if (hook == NULL)
        return;
    gopusher_hook_stop(hook);
    curl_multi_cleanup(hook->multi);
    pthread_mutex_destroy(&hook->lock);
    free(hook);
    curl_global_cleanup();
}
