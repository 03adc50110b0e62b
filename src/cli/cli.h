/*
 * cli.h - the subcommands of the `orfeas` command line that live in files
 * of their own (main.c dispatches to them).
 */
#ifndef ORF_CLI_H
#define ORF_CLI_H

/* `orfeas repair IN -o OUT [options]` (repair_cmd.c); argv holds the
 * arguments after "repair".  Returns the process exit status: 0 done, 2 bad
 * usage or parameter, 3 bad or too large input mesh, 4 internal or I/O
 * error. */
int orf_cli_repair(int argc, char **argv);

#endif
