#include "hplace_internal.h"
#include "test.h"
const struct t_case t_rtree_cases[] = { { NULL, NULL } };
