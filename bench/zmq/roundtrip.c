/* ZeroMQ's own cost of a round trip on this machine, without CellCluster (BENCHMARKS.md, session 38):
 * a DEALER sends a frame to a ROUTER that echoes it from a thread of its own, one in flight;
 * prints the process's CPU time (user + system, getrusage) and wall time per round trip.
 *   gcc -O2 -o /tmp/roundtrip bench/zmq/roundtrip.c -lzmq -lpthread
 *   /tmp/roundtrip tcp://127.0.0.1:5599 20000 64
 *   /tmp/roundtrip ipc:///tmp/roundtrip.sock 20000 64
 */
#include <zmq.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
static const char *ep;
static void *echo(void *ctx) {
  void *s = zmq_socket(ctx, ZMQ_ROUTER); zmq_bind(s, ep);
  char id[256], buf[65536];
  for (;;) {
    int il = zmq_recv(s, id, sizeof id, 0); if (il < 0) break;
    int bl = zmq_recv(s, buf, sizeof buf, 0); if (bl < 0) break;
    if (bl == 4 && !memcmp(buf, "stop", 4)) break;
    zmq_send(s, id, il, ZMQ_SNDMORE); zmq_send(s, buf, bl, 0);
  }
  zmq_close(s); return 0;
}
static double cpu(void) { struct rusage r; getrusage(RUSAGE_SELF, &r); return r.ru_utime.tv_sec + r.ru_utime.tv_usec/1e6 + r.ru_stime.tv_sec + r.ru_stime.tv_usec/1e6; }
int main(int argc, char **argv) {
  ep = argv[1]; int count = atoi(argv[2]); int size = atoi(argv[3]);
  void *ctx = zmq_ctx_new(); pthread_t t; pthread_create(&t, 0, echo, ctx);
  struct timespec d = {0, 100000000}; nanosleep(&d, 0);
  void *c = zmq_socket(ctx, ZMQ_DEALER); zmq_connect(c, ep);
  char *buf = calloc(1, size > 4 ? size : 4), *in = malloc(65536);
  for (int i = 0; i < 1000; i++) { zmq_send(c, buf, size, 0); zmq_recv(c, in, 65536, 0); }
  double c0 = cpu(); struct timespec w0, w1; clock_gettime(CLOCK_MONOTONIC, &w0);
  for (int i = 0; i < count; i++) { zmq_send(c, buf, size, 0); zmq_recv(c, in, 65536, 0); }
  clock_gettime(CLOCK_MONOTONIC, &w1); double c1 = cpu();
  double wall = (w1.tv_sec - w0.tv_sec) + (w1.tv_nsec - w0.tv_nsec)/1e9;
  printf("%-28s size %5d: %.1f us cpu/round trip, %.1f us wall\n", ep, size, (c1-c0)/count*1e6, wall/count*1e6);
  zmq_send(c, "stop", 4, 0); pthread_join(t, 0); return 0;
}
