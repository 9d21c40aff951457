/* spool.c - placeholder (issue 4). */
#include "internal.h"
