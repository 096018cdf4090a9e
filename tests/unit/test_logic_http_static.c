/* test_logic_http_static.c: which embedded file each static path serves (logic/http_static.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "logic/http_static.h"

/* The asset path serves must exist, be named name, carry type and contain needle. */
static void expect_asset(const char *path, const char *name, const char *type, const char *needle)
{
    const char *content_type = NULL;
    const struct logic_web_asset *asset = http_static_find(path, &content_type);

    assert_non_null(asset);
    assert_string_equal(asset->name, name);
    assert_string_equal(content_type, type);
    assert_true(asset->length > 0);
    assert_int_equal(asset->data[asset->length], 0); /* embed.sh ends each file with a 0 */
    assert_int_equal(strlen((const char *)asset->data), asset->length);
    assert_non_null(strstr((const char *)asset->data, needle));
}

static void test_routes_serve_their_files(void **state)
{
    (void)state;
    expect_asset("/demo/", "index.html", "text/html; charset=utf-8", "<title>goim-c demo</title>");
    expect_asset("/demo/demo.js", "demo.js", "text/javascript; charset=utf-8",
                 "import { GoimClient } from '/client/goim.js';");
    expect_asset("/demo/demo.css", "demo.css", "text/css; charset=utf-8", "#messages");
    expect_asset("/client/goim.js", "goim.js", "text/javascript; charset=utf-8",
                 "export class GoimClient");
}

static void test_other_paths_serve_nothing(void **state)
{
    const char *content_type = "untouched";

    (void)state;
    assert_null(http_static_find("/demo", &content_type)); /* a redirect, not a file */
    assert_null(http_static_find("/demo/index.html", &content_type));
    assert_null(http_static_find("/demo/../goim.js", &content_type));
    assert_null(http_static_find("/client/", &content_type));
    assert_null(http_static_find("/client/goim.js/", &content_type));
    assert_null(http_static_find("/goim/push/mids", &content_type));
    assert_string_equal(content_type, "untouched");
}

static void test_owned_paths(void **state)
{
    (void)state;
    assert_true(http_static_owns("/demo"));
    assert_true(http_static_owns("/demo/"));
    assert_true(http_static_owns("/demo/nothing.txt"));
    assert_true(http_static_owns("/client/goim.js"));
    assert_false(http_static_owns("/demos"));
    assert_false(http_static_owns("/goim/nodes/weighted"));
    assert_false(http_static_owns("/metrics"));
    assert_false(http_static_owns("/"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes_serve_their_files),
        cmocka_unit_test(test_other_paths_serve_nothing),
        cmocka_unit_test(test_owned_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
