/* daemon.c: the shared start-up of comet, logic and job (see daemon.h). */
#include "common/daemon.h"

#include "common/log.h"
#include "common/status.h"

bool gim_daemon_start(const struct gim_daemon *daemon, void *config, int argc, char **argv,
                      int *exit_code)
{
    struct gim_config_command command = {0};
    char error[512] = "";
    bool debug;
    int status;

    status = daemon->load(config, argc, argv, &command, error, sizeof(error));
    if (command.help) {
        daemon->usage(argv[0], stdout);
        daemon->free(config);
        *exit_code = 0;
        return false;
    }
    if (status != GIM_OK) {
        fprintf(stderr, "%s: bad configuration: %s\n", daemon->role,
                error[0] ? error : gim_strerror(status));
        daemon->free(config);
        *exit_code = 2;
        return false;
    }
    if (command.check_only) {
        daemon->dump(config, stdout);
        daemon->free(config);
        *exit_code = 0;
        return false;
    }
    debug = *(const bool *)((const char *)config + daemon->debug_offset);
    gim_log_init(daemon->role, debug ? GIM_LOG_DEBUG : GIM_LOG_INFO);
    *exit_code = 0;
    return true;
}
