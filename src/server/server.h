/*
 * server.h - `orfeas serve`: the HTTP server of docs/API.md on top
 * of the engine.  The CLI hands it the arguments after "serve".
 */
#ifndef ORF_SERVER_H
#define ORF_SERVER_H

/* Runs the server until SIGTERM or SIGINT, then drains: new generation
 * requests get 503 "draining", running and queued jobs finish, open
 * streams end, and it returns 0.  Returns 2 for bad options (a line on
 * stderr names it), 1 when it cannot start (the reason is logged). */
int orf_server_main(int argc, char **argv);

#endif
