/*
 * http_online.h: the /goim/online/... handlers (goim v2), answered from the
 * cluster-wide view of online.h. When the last refresh of that view could
 * not read Redis they answer HTTP 200 with code -500.
 */
#ifndef LOGIC_HTTP_ONLINE_H
#define LOGIC_HTTP_ONLINE_H

#include "logic/http.h"

/*
 * GET /goim/online/top?type=<required>&limit=<int, required, > 0>:
 * data [{"room_id","count"}] of the rooms whose key starts with type
 * (prefix, as goim), "<type>://" stripped, count descending, at most limit.
 */
void http_online_top(const struct http_request *request, struct http_answer *answer);

/* GET /goim/online/room?type=<required>&rooms=<r>[&rooms=...]: data {room: count}. */
void http_online_room(const struct http_request *request, struct http_answer *answer);

/* GET /goim/online/total: data {"conn_count","ip_count"} over the live comets. */
void http_online_total(const struct http_request *request, struct http_answer *answer);

#endif
