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

/* One input of a run with several (generate_many.c): makes `out` from the
 * image at `in`, printing its own line (or its reason on stderr); returns
 * the exit status it would have alone (0 done). */
typedef int (*orf_cli_one_fn)(void *ctx, const char *in, const char *out);

/* `orfeas generate IN... -o OUTDIR/` (generate_many.c): the inputs (files,
 * or directories standing for their .png, .jpg, .jpeg and .webp files in
 * name order) each made into OUTDIR/<name>.<ext> by one(), with a progress
 * line per file and a summary on stdout; OUTDIR is created when missing.
 * Returns 0 when every file was done, else the first failure's status (2
 * no OUTDIR, 3 no images or an unreadable input, 4 OUTDIR not creatable). */
int orf_cli_generate_many(int n, const char *const *inputs, const char *outdir, const char *ext,
                          orf_cli_one_fn one, void *ctx);

/* 1 when path names a directory, else 0. */
int orf_cli_is_dir(const char *path);

#endif
