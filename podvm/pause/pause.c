/*
 * The pod's sandbox ("pause") process: kata-agent starts it from /pause_bundle as the first
 * container of every pod, to hold the pod's namespaces. It waits for a signal, reaps any
 * child handed to it (it is the PID namespace's init when the pod shares one), and exits 0 on
 * SIGINT or SIGTERM. Built statically by podvm/build.sh so the bundle needs no libraries.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int sig) {
  (void)sig;
  _exit(0);
}

static void reap(int sig) {
  (void)sig;
  int saved = errno;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
  errno = saved;
}

static void on(int sig, void (*handler)(int), int flags) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sa.sa_flags = flags;
  sigemptyset(&sa.sa_mask);
  if (sigaction(sig, &sa, NULL) < 0) {
    perror("pause: sigaction");
    exit(1);
  }
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "-v") == 0) {
    puts("pause (peer-pod image)");
    return 0;
  }
  if (getpid() != 1)
    fputs("pause: not the first process of its PID namespace\n", stderr);
  on(SIGINT, stop, 0);
  on(SIGTERM, stop, 0);
  on(SIGCHLD, reap, SA_NOCLDSTOP | SA_RESTART);
  for (;;)
    pause();
}
