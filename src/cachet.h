/*
 * cachet.h - the cachet tool: one file per sub-command, dispatched from
 * cachet.c.
 */
#ifndef CACHET_TOOL_H
#define CACHET_TOOL_H

#include <stdio.h>

/* cmd_cache.c */
int cmd_cache(int argc, char **argv);

#endif
