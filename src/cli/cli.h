/*
 * cli.h - the subcommands of the `orfeas` command line that live in files
 * of their own (main.c dispatches to them).
 */
#ifndef ORF_CLI_H
#define ORF_CLI_H

#include <stddef.h>
#include <stdint.h>

/* Reads the file at path, at most limit + 1 bytes (so a larger file is
 * seen as such), into a malloc'd buffer the caller frees; *size gets its
 * length.  NULL on error (errno set).  Used by generate and repair. */
uint8_t *orf_cli_read_file(const char *path, size_t *size, size_t limit);

/* `orfeas repair IN -o OUT [options]` (repair_cmd.c); argv holds the
 * arguments after "repair".  Returns the process exit status: 0 done, 2 bad
 * usage or parameter, 3 bad or too large input mesh, 4 internal or I/O
 * error. */
int orf_cli_repair(int argc, char **argv);

#endif
