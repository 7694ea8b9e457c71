#include "hplace_internal.h"
#include "test.h"
const struct t_case t_classify_cases[] = { { NULL, NULL } };
