/* gopusher_hook.c: connect hooks over libcurl's multi interface on one thread (see
 * gopusher_hook.h). */
#include "logic/gopusher_hook.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/status.h"

/* One call: shared by its caller and the hook thread (references under the hook's lock). */
struct hook_call {
    struct hook_call *next; /* the queue of calls not yet started */
    int references;         /* 2 while both hold it */
    bool done;
    int status;
    CURL *easy;
    char *fields; /* token=<escaped> */
    char *url;
    char body[GOPUSHER_HOOK_MAX_BODY + 1];
    size_t body_length;
    char error[CURL_ERROR_SIZE];
    pthread_cond_t finished;
};

struct gopusher_hook {
    pthread_mutex_t lock;
    pthread_t thread;
    CURLM *multi;
    struct hook_call *queued; /* under lock: started by the thread */
    int waiting;              /* callers waiting now (under lock) */
    int max_waiting;
    int timeout_ms;
    bool stopping;
};

static void call_release(struct hook_call *call)
{
    if (--call->references > 0)
        return;
    if (call->easy != NULL)
        curl_easy_cleanup(call->easy);
    free(call->fields);
    free(call->url);
    pthread_cond_destroy(&call->finished);
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

/* Ends call with status (under the lock), waking its caller. */
static void call_finish(struct hook_call *call, int status)
{
    call->status = status;
    call->done = true;
    pthread_cond_signal(&call->finished);
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
            if (stopping || curl_multi_add_handle(hook->multi, call->easy) != CURLM_OK) {
                pthread_mutex_lock(&hook->lock);
                call_finish(call, stopping ? GIM_ERR_CLOSED : GIM_ERR_NO_MEMORY);
                call_release(call);
                pthread_mutex_unlock(&hook->lock);
            }
        }
        curl_multi_perform(hook->multi, &running);
        while ((message = curl_multi_info_read(hook->multi, &left)) != NULL) {
            struct hook_call *call = NULL;
            if (message->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, (char **)&call);
            curl_multi_remove_handle(hook->multi, message->easy_handle);
            pthread_mutex_lock(&hook->lock);
            if (message->data.result == CURLE_OK)
                call_finish(call, GIM_OK);
            else
                call_finish(call, message->data.result == CURLE_OPERATION_TIMEDOUT ? GIM_ERR_TIMEOUT
                                                                                   : GIM_ERR_IO);
            if (call->error[0] == '\0')
                snprintf(call->error, sizeof(call->error), "%s",
                         curl_easy_strerror(message->data.result));
            call_release(call);
            pthread_mutex_unlock(&hook->lock);
        }
        if (stopping && running == 0)
            break; /* calls in flight end by themselves, each within the timeout */
        curl_multi_poll(hook->multi, NULL, 0, 1000, NULL);
    }
    return NULL;
}

int gopusher_hook_start(struct gopusher_hook **out, int timeout_ms, int max_waiting)
{
    struct gopusher_hook *hook;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return GIM_ERR_IO;
    hook = calloc(1, sizeof(*hook));
    if (hook == NULL)
        return GIM_ERR_NO_MEMORY;
    hook->multi = curl_multi_init();
    if (hook->multi == NULL) {
        free(hook);
        return GIM_ERR_IO;
    }
    hook->timeout_ms = timeout_ms;
    hook->max_waiting = max_waiting < 1 ? 1 : max_waiting;
    pthread_mutex_init(&hook->lock, NULL);
    if (pthread_create(&hook->thread, NULL, hook_main, hook) != 0) {
        curl_multi_cleanup(hook->multi);
        pthread_mutex_destroy(&hook->lock);
        free(hook);
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
                       char body[GOPUSHER_HOOK_MAX_BODY + 1], size_t *body_length, char *error,
                       size_t error_size)
{
    struct hook_call *call;
    struct timespec until;
    int status;

    pthread_mutex_lock(&hook->lock);
    if (hook->stopping || hook->waiting >= hook->max_waiting) {
        status = hook->stopping ? GIM_ERR_CLOSED : GIM_ERR_AGAIN;
        pthread_mutex_unlock(&hook->lock);
        return status;
    }
    hook->waiting++;
    pthread_mutex_unlock(&hook->lock);

    call = calloc(1, sizeof(*call));
    if (call == NULL) {
        status = GIM_ERR_NO_MEMORY;
        goto out;
    }
    pthread_cond_init(&call->finished, NULL);
    call->references = 1;
    status = call_prepare(hook, call, url, token);
    if (status != GIM_OK) {
        call_release(call);
        goto out;
    }
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += hook->timeout_ms / 1000 + 1;
    until.tv_nsec += (long)(hook->timeout_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&hook->lock);
    call->references = 2; /* the caller's and the hook thread's */
    call->next = hook->queued;
    hook->queued = call;
    curl_multi_wakeup(hook->multi);
    while (!call->done)
        if (pthread_cond_timedwait(&call->finished, &hook->lock, &until) != 0)
            break; /* libcurl's own timeout should have ended it: do not wait longer */
    status = call->done ? call->status : GIM_ERR_TIMEOUT;
    if (status == GIM_OK) {
        memcpy(body, call->body, GOPUSHER_HOOK_MAX_BODY + 1);
        *body_length = call->body_length;
    } else if (error_size > 0) {
        snprintf(error, error_size, "%s", call->error[0] ? call->error : gim_strerror(status));
    }
    call_release(call);
    pthread_mutex_unlock(&hook->lock);
out:
    pthread_mutex_lock(&hook->lock);
    hook->waiting--;
    pthread_mutex_unlock(&hook->lock);
    return status;
}

void gopusher_hook_stop(struct gopusher_hook *hook)
{
    if (hook == NULL)
        return;
    pthread_mutex_lock(&hook->lock);
    hook->stopping = true;
    pthread_mutex_unlock(&hook->lock);
    curl_multi_wakeup(hook->multi);
    pthread_join(hook->thread, NULL);
    curl_multi_cleanup(hook->multi);
    pthread_mutex_destroy(&hook->lock);
    free(hook);
    curl_global_cleanup();
}
