/* test_comet_metrics.c: unit tests of comet's close reason classes (comet/metrics.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "comet/metrics.h"
#include "common/status.h"

static void test_close_reasons_fall_into_their_class(void **state)
{
    static const struct {
        const char *reason;
        enum comet_close_class class_;
    } cases[] = {
        {"closed by peer", COMET_CLOSE_PEER},
        {"socket error or hang-up", COMET_CLOSE_PEER},
        {"websocket closed", COMET_CLOSE_PEER},
        {"read failed", COMET_CLOSE_IO_ERROR},
        {"write failed", COMET_CLOSE_IO_ERROR},
        {"websocket read failed", COMET_CLOSE_IO_ERROR},
        {"websocket write failed", COMET_CLOSE_IO_ERROR},
        {"handshake timeout", COMET_CLOSE_HANDSHAKE_TIMEOUT},
        {"heartbeat timeout", COMET_CLOSE_HEARTBEAT_TIMEOUT},
        {"auth failed", COMET_CLOSE_AUTH_FAILED},
        {"comet draining", COMET_CLOSE_SHUTDOWN},
        {"replaced by a newer connection with the same key", COMET_CLOSE_REPLACED},
        {"replaced by a new connection with the same key", COMET_CLOSE_REPLACED},
        {"output full on reply", COMET_CLOSE_SLOW_READER},
        {"comet shutting down", COMET_CLOSE_SHUTDOWN},
        {"out of memory at auth", COMET_CLOSE_OUT_OF_MEMORY},
        {"out of memory for websocket", COMET_CLOSE_OUT_OF_MEMORY},
        {"input over the frame limit", COMET_CLOSE_PROTOCOL},
        {"bad websocket upgrade", COMET_CLOSE_PROTOCOL},
        {"websocket message is not exactly one goim frame", COMET_CLOSE_PROTOCOL},
        {"never heard of", COMET_CLOSE_PROTOCOL},
        {NULL, COMET_CLOSE_PROTOCOL},
    };
    size_t index;

    (void)state;
    for (index = 0; index < sizeof(cases) / sizeof(cases[0]); index++)
        assert_int_equal(comet_close_class_of(cases[index].reason), cases[index].class_);
}

static void test_status_texts_used_as_reasons_are_classified(void **state)
{
    (void)state;
    /* connection_close(connection, gim_strerror(status)) after a failed consume or keep */
    assert_int_equal(comet_close_class_of(gim_strerror(GIM_ERR_INVALID)), COMET_CLOSE_PROTOCOL);
    assert_int_equal(comet_close_class_of(gim_strerror(GIM_ERR_TOO_LARGE)), COMET_CLOSE_PROTOCOL);
    assert_int_equal(comet_close_class_of(gim_strerror(GIM_ERR_NO_MEMORY)),
                     COMET_CLOSE_OUT_OF_MEMORY);
    assert_int_equal(comet_close_class_of(gim_strerror(GIM_ERR_IO)), COMET_CLOSE_IO_ERROR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_close_reasons_fall_into_their_class),
        cmocka_unit_test(test_status_texts_used_as_reasons_are_classified),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
