/*
 * redis_harness.c - redis-server for the tests (redis_harness.h).
 *
 * A free port is found by binding port 0 and reading what the kernel gave,
 * then handed to redis-server (which cannot pick its own and print it); the
 * moment between the two is a race with other processes, so a start that
 * does not answer is tried again on another port, three times.
 */
#include "redis_harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  int port = -1;
  if (!bind(fd, (struct sockaddr *)&a, sizeof a) && !getsockname(fd, (struct sockaddr *)&a, &len))
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

/* 1 when something on the port answers "+PONG" to PING. */
static int pings(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  struct sockaddr_in a = {
      .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  struct timeval tv = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[16] = {0};
  int ok = !connect(fd, (struct sockaddr *)&a, sizeof a) && write(fd, "PING\r\n", 6) == 6 &&
           read(fd, buf, sizeof buf - 1) >= 5 && !strncmp(buf, "+PONG", 5);
  close(fd);
  return ok;
}

static int spawn(tr_redis *r, int aof) {
  char port[16];
  snprintf(port, sizeof port, "%d", r->port);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    if (chdir(r->dir)) _exit(126);
    FILE *null = freopen("/dev/null", "w", stdout);
    (void)null;
    execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
           "--appendonly", aof ? "yes" : "no", "--dir", r->dir, "--logfile", "redis.log", "--protected-mode",
           "yes", (char *)NULL);
    _exit(127);
  }
  r->pid = pid;
  for (int i = 0; i < 200; i++) {
    if (pings(r->port)) return 0;
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) {
      r->pid = 0;
      return -1;
    }
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  tr_redis_stop(r, 1);
  return -1;
}

int tr_redis_start(tr_redis *r, int aof) {
  if (!r->dir[0]) {
    snprintf(r->dir, sizeof r->dir, "/tmp/orf_redis_XXXXXX");
    if (!mkdtemp(r->dir)) {
      perror("redis harness: mkdtemp");
      r->dir[0] = 0;
      return -1;
    }
  }
  if (r->port) return spawn(r, aof);
  for (int attempt = 0; attempt < 3; attempt++) {
    r->port = free_port();
    if (r->port > 0 && spawn(r, aof) == 0) return 0;
  }
  fprintf(stderr, "redis harness: redis-server did not start (is it installed? scripts/setup.sh build)\n");
  r->port = 0;
  return -1;
}

void tr_redis_stop(tr_redis *r, int crash) {
  if (!r->pid) return;
  kill(r->pid, crash ? SIGKILL : SIGTERM);
  int st;
  while (waitpid(r->pid, &st, 0) < 0 && errno == EINTR) {
  }
  r->pid = 0;
}

void tr_redis_cleanup(tr_redis *r) {
  if (!r->dir[0]) return;
  char cmd[200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", r->dir);
  if (system(cmd)) fprintf(stderr, "redis harness: could not remove %s\n", r->dir);
  r->dir[0] = 0;
}
