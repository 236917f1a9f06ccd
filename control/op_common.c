/* op_common.c - helpers of the operation contract (op.h) shared by the front and the ops. */
#include "op.h"

#include <stdio.h>
#include <string.h>

static int status_for(const char *type)
{
    static const struct {
        const char *type;
        int status;
    } map[] = {
        {"InvalidRequestException", 400},      {"UnauthorizedException", 403},
        {"ResourceNotFoundException", 404},    {"ResourceAlreadyExistsException", 400},
        {"ResourceInUseException", 400},       {"TooManyRequestsException", 429},
        {"InternalServerErrorException", 500}, {"InvalidParameterException", 400},
        {"InvalidArnException", 400},          {"LimitExceededException", 400},
        {"InvalidTagException", 400},          {"RequestInProgressException", 400},
        {"AccessDeniedException", 403},        {"ThrottlingException", 400},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i].type, type) == 0)
            return map[i].status;
    return 400;
}

int ctl_error(struct ctl_ctx *ctx, const char *type, const char *fmt, ...)
{
    va_list ap;
    ctx->err_status = status_for(type);
    snprintf(ctx->err_type, sizeof ctx->err_type, "%s", type);
    va_start(ap, fmt);
    vsnprintf(ctx->err_message, sizeof ctx->err_message, fmt, ap);
    va_end(ap);
    return -1;
}

const struct ctl_op *ctl_op_find(const char *service, const char *name)
{
    for (const struct ctl_op *op = ctl_ops; op->name != NULL; op++)
        if (strcmp(op->service, service) == 0 && strcmp(op->name, name) == 0)
            return op;
    return NULL;
}
