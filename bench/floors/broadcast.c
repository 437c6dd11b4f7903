// The broadcast floor in C (bench/floors.ts compiles it into /tmp and runs it): the cheapest way
// to send one line to every one of N loopback TCP connections. It accepts N connections, then on
// `go <count> <intervalMs> <bytes>` (stdin) writes one line of <bytes> bytes to every socket with a
// plain write() each, in one loop, <count> times, <intervalMs> apart, and prints one JSON line per
// broadcast: its start on the shared clock (ms since 1970), the loop's wall time and the process's
// user and system CPU over the loop (getrusage). No epoll, no buffering: what the kernel does not
// take is counted (`short`), not retried (a line is ~120 bytes and the readers keep up).
//
// With <threads> > 1 the sockets are split into that many equal parts, each written by its own
// thread (started for each broadcast, joined before the figures are taken): the loop spread over
// cores, for the time to the last copy.
//
//   broadcast <n> [threads]    prints "listening <port>", then "ready" once n connections are accepted

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static double tv_us(struct timeval t) { return t.tv_sec * 1e6 + t.tv_usec; }

struct part {
  int *fds;
  int count;
  const char *line;
  int bytes;
  int shortw, errors;
};

static void *write_part(void *arg) {
  struct part *p = arg;
  p->shortw = p->errors = 0;
  for (int i = 0; i < p->count; i++) {
    ssize_t w = write(p->fds[i], p->line, p->bytes);
    if (w < 0) p->errors++;
    else if (w < p->bytes) p->shortw++;
  }
  return NULL;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 10000;
  int threads = argc > 2 ? atoi(argv[2]) : 1;
  if (threads < 1 || threads > 64) threads = 1;
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, 4096) < 0) {
    perror("bind/listen");
    return 1;
  }
  socklen_t len = sizeof addr;
  getsockname(lfd, (struct sockaddr *)&addr, &len);
  printf("listening %d\n", ntohs(addr.sin_port));
  fflush(stdout);
  int *fds = malloc(sizeof(int) * n);
  for (int i = 0; i < n; i++) {
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0) {
      if (errno == EINTR) { i--; continue; }
      perror("accept");
      return 1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    fds[i] = fd;
  }
  printf("ready\n");
  fflush(stdout);
  int count = 0, interval = 0, bytes = 0;
  char cmd[64];
  if (scanf("%63s %d %d %d", cmd, &count, &interval, &bytes) != 4 || strcmp(cmd, "go") != 0) return 1;
  if (bytes < 100) bytes = 100;
  char *line = malloc(bytes + 1);
  double start = now_ms() + 10;
  for (int k = 0; k < count; k++) {
    double due = start + (double)k * interval;
    for (double t = now_ms(); t < due; t = now_ms()) {
      double wait = due - t;
      struct timespec ts = {.tv_sec = (time_t)(wait / 1e3), .tv_nsec = (long)((wait - (time_t)(wait / 1e3) * 1e3) * 1e6)};
      nanosleep(&ts, NULL);
    }
    // The line: the same shape as chat's broadcast event, padded to `bytes` with the LF.
    int head = snprintf(line, bytes + 1, "{\"type\":\"broadcast\",\"id\":%d,\"key\":%d,\"from\":\"u0\",\"at\":%.0f,\"body\":\"", k, k, now_ms());
    memset(line + head, 'x', bytes - head - 3);
    memcpy(line + bytes - 3, "\"}\n", 3);
    struct rusage r0, r1;
    int shortw = 0, errors = 0;
    getrusage(RUSAGE_SELF, &r0);
    double t0 = now_ms();
    struct part parts[64];
    pthread_t tids[64];
    for (int t = 0; t < threads; t++) {
      int from = (int)((long)n * t / threads), to = (int)((long)n * (t + 1) / threads);
      parts[t] = (struct part){.fds = fds + from, .count = to - from, .line = line, .bytes = bytes};
      if (threads == 1) write_part(&parts[t]);
      else pthread_create(&tids[t], NULL, write_part, &parts[t]);
    }
    for (int t = 0; t < threads; t++) {
      if (threads > 1) pthread_join(tids[t], NULL);
      shortw += parts[t].shortw;
      errors += parts[t].errors;
    }
    double t1 = now_ms();
    getrusage(RUSAGE_SELF, &r1);
    printf("{\"i\":%d,\"t0\":%.3f,\"loopMs\":%.3f,\"userUs\":%.0f,\"sysUs\":%.0f,\"short\":%d,\"errors\":%d}\n", k, t0, t1 - t0,
           tv_us(r1.ru_utime) - tv_us(r0.ru_utime), tv_us(r1.ru_stime) - tv_us(r0.ru_stime), shortw, errors);
    fflush(stdout);
  }
  printf("done\n");
  fflush(stdout);
  // Stay until told to go (stdin closed or "exit"), so the readers see no close mid-measurement.
  while (scanf("%63s", cmd) == 1 && strcmp(cmd, "exit") != 0) {}
  return 0;
}
