/*
 * mock-cluster: an in-memory Kafka cluster for tests, from librdkafka's mock broker (rdkafka_mock.h).
 * It speaks the real Kafka protocol on loopback, so kafkajs talks to it like to a real cluster.
 *
 * Usage: mock-cluster <brokers> [topic:partitions ...]
 *
 * Prints one line `bootstrap <host:port,...>` once the cluster is up, then reads commands on stdin,
 * one per line, and answers each with `ok <command>` or `err <command>: <reason>`:
 *   down <brokerId|all>   disconnect a broker and refuse new connections (no leader change)
 *   up <brokerId|all>     accept connections again
 *   topic <name> <partitions> [replicas]  create a topic (the mock does not implement the CreateTopics admin API);
 *                         replicas defaults to the broker count, at most 3
 *   quit                  stop
 * It also stops when stdin closes, so the cluster never outlives the process that spawned it.
 *
 * Build: gcc -O2 -o mock-cluster mock-cluster.c $(pkg-config --cflags --libs rdkafka)
 * (Debian: apt-get install librdkafka-dev)
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static int parse_int(const char *s, long min, long max, long *out) {
  char *end = NULL;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < min || v > max) return -1;
  *out = v;
  return 0;
}

/* Parses `<brokerId|all>` into a broker id, -1 meaning every broker (librdkafka's convention). */
static int parse_broker(const char *arg, int brokers, int32_t *out) {
  long id;
  if (strcmp(arg, "all") == 0) {
    *out = -1;
    return 0;
  }
  if (parse_int(arg, 1, brokers, &id) != 0) return -1;
  *out = (int32_t)id;
  return 0;
}

static void reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void reply(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  fflush(stdout);
}

/* Replication factor by default = broker count (at most 3) so metadata looks like a real cluster's. */
static rd_kafka_resp_err_t create_topic(rd_kafka_mock_cluster_t *mc, int brokers, const char *name, int partitions,
                                        int replicas) {
  if (replicas <= 0) replicas = brokers < 3 ? brokers : 3;
  return rd_kafka_mock_topic_create(mc, name, partitions, replicas);
}

static int run_command(rd_kafka_mock_cluster_t *mc, int brokers, char *line) {
  char *cmd = strtok(line, " \t\r\n");
  char *arg = strtok(NULL, " \t\r\n");
  int32_t id;
  rd_kafka_resp_err_t err;

  if (cmd == NULL) return 0;
  if (strcmp(cmd, "quit") == 0) return 1;
  if (strcmp(cmd, "topic") == 0) {
    char *count = strtok(NULL, " \t\r\n");
    char *rf = strtok(NULL, " \t\r\n");
    long partitions;
    long replicas = 0;
    if (arg == NULL || count == NULL || parse_int(count, 1, 1000, &partitions) != 0 ||
        (rf != NULL && parse_int(rf, 1, brokers, &replicas) != 0)) {
      reply("err topic: expected topic <name> <partitions 1..1000> [replicas 1..%d]", brokers);
      return 0;
    }
    err = create_topic(mc, brokers, arg, (int)partitions, (int)replicas);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
      reply("err topic %s: %s", arg, rd_kafka_err2str(err));
    else
      reply("ok topic %s %ld", arg, partitions);
    return 0;
  }
  if (strcmp(cmd, "down") != 0 && strcmp(cmd, "up") != 0) {
    reply("err %s: unknown command", cmd);
    return 0;
  }
  if (arg == NULL || parse_broker(arg, brokers, &id) != 0) {
    reply("err %s %s: broker id must be 1..%d or all", cmd, arg ? arg : "", brokers);
    return 0;
  }
  err = strcmp(cmd, "down") == 0 ? rd_kafka_mock_broker_set_down(mc, id) : rd_kafka_mock_broker_set_up(mc, id);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    reply("err %s %s: %s", cmd, arg, rd_kafka_err2str(err));
  else
    reply("ok %s %s", cmd, arg);
  return 0;
}

int main(int argc, char **argv) {
  char errstr[512];
  char line[512];
  long brokers;
  rd_kafka_conf_t *conf;
  rd_kafka_t *rk;
  rd_kafka_mock_cluster_t *mc;

  if (argc < 2 || parse_int(argv[1], 1, 16, &brokers) != 0) {
    fprintf(stderr, "usage: %s <brokers 1..16> [topic:partitions ...]\n", argv[0]);
    return 2;
  }
  /* A parent that dies closes our stdin; a write to a closed stdout must not kill us mid-shutdown. */
  signal(SIGPIPE, SIG_IGN);

  /* The mock cluster lives inside a client handle; this producer is never used to produce. */
  conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
    fprintf(stderr, "conf: %s\n", errstr);
    return 1;
  }
  rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (rk == NULL) {
    fprintf(stderr, "rd_kafka_new: %s\n", errstr);
    return 1;
  }
  mc = rd_kafka_mock_cluster_new(rk, (int)brokers);
  if (mc == NULL) {
    fprintf(stderr, "rd_kafka_mock_cluster_new failed\n");
    rd_kafka_destroy(rk);
    return 1;
  }

  for (int i = 2; i < argc; i++) {
    char spec[256];
    char *colon;
    long partitions;
    rd_kafka_resp_err_t err;
    snprintf(spec, sizeof spec, "%s", argv[i]);
    colon = strrchr(spec, ':');
    if (colon == NULL || colon == spec || parse_int(colon + 1, 1, 1000, &partitions) != 0) {
      fprintf(stderr, "bad topic spec '%s', expected name:partitions\n", argv[i]);
      return 2;
    }
    *colon = '\0';
    err = create_topic(mc, (int)brokers, spec, (int)partitions, 0);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      fprintf(stderr, "topic %s: %s\n", spec, rd_kafka_err2str(err));
      return 1;
    }
  }

  reply("bootstrap %s", rd_kafka_mock_cluster_bootstraps(mc));

  while (fgets(line, sizeof line, stdin) != NULL) {
    if (run_command(mc, (int)brokers, line)) break;
  }

  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  return 0;
}
