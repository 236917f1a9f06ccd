/* main.c - worklink-gateway: parse the command line, run the gateway (gateway/README.md). */
#include "gw.h"

#include "log.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    struct gw_options *o = calloc(1, sizeof *o);
    char err[512];
    if (!o)
        return 1;
    int rc = gw_options_parse(argc, argv, o, err, sizeof err);
    if (rc != 0) {
        if (rc < 0)
            fprintf(stderr, "worklink-gateway: %s\n", err);
        free(o);
        return rc == 1 ? 0 : 2;
    }
    wl_log_init("gateway", (enum wl_log_level)o->log_level);
    rc = gw_run(o);
    free(o);
    return rc;
}
