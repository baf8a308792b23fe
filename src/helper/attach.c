/* The attach socket: a unix stream socket on which clients (`tsrun attach`)
 * receive the container's output and send its stdin and terminal size while
 * the monitor runs. Frames both ways: an 8-byte header [type, 0, 0, 0,
 * length as big-endian u32] then the payload (Docker's stdcopy header);
 * types in PLAN.md. Output to the clients is one frame at a time: until every
 * client took the current one, the monitor reads no more output (backpressure,
 * as Docker's attach), and a client that takes nothing for ATTACH_STALL_MS is
 * dropped so it cannot stop the container for ever. */
#include "helper.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define ATTACH_MAX_CLIENTS 16
#define ATTACH_STALL_MS 10000

struct client {
  int fd;
  size_t off;           /* bytes of the pending frame already sent */
  unsigned char hdr[8]; /* header of the input frame being read */
  unsigned hlen;
  uint32_t left;        /* payload bytes of that frame still to come */
  unsigned char arg[4]; /* first payload bytes of a resize frame */
  unsigned alen;
  unsigned char once;   /* sent ATTACH_STDIN_ONCE: the end of its input ends the container's stdin */
  unsigned char in_eof; /* it shut down its writing side (its stdin ended): it only receives now */
};

static struct client clients[ATTACH_MAX_CLIENTS];
static int nclients;
static int stdin_ended;
static int listen_fd = -1;
static const char *sock_path;
static unsigned char pend[8 + ATTACH_FRAME_MAX];
static size_t pend_len;
static long long last_progress;

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void put_header(unsigned char *h, int type, size_t len) {
  h[0] = (unsigned char)type, h[1] = h[2] = h[3] = 0;
  h[4] = (unsigned char)(len >> 24), h[5] = (unsigned char)(len >> 16);
  h[6] = (unsigned char)(len >> 8), h[7] = (unsigned char)len;
}

int attach_listen(const char *path) {
  int fd = unix_listen(path, 8);
  if (fd < 0) return -1;
  listen_fd = fd;
  sock_path = path;
  return 0;
}

static void drop(struct client *c) {
  if (c->once) stdin_ended = 1; /* gone, detached or dropped: its input has ended too */
  close(c->fd);
  c->fd = -1;
}

int attach_stdin_ended(void) {
  return stdin_ended;
}

static void compact(void) {
  int n = 0;
  for (int i = 0; i < nclients; i++)
    if (clients[i].fd >= 0) clients[n++] = clients[i];
  nclients = n;
}

static void flush_client(struct client *c) {
  while (c->fd >= 0 && c->off < pend_len) {
    ssize_t w = send(c->fd, pend + c->off, pend_len - c->off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w > 0) {
      c->off += (size_t)w;
      last_progress = now_ms();
    } else if (w < 0 && errno == EINTR) {
      continue;
    } else {
      if (w < 0 && errno != EAGAIN) drop(c);
      return;
    }
  }
}

int attach_busy(void) {
  for (int i = 0; i < nclients; i++)
    if (clients[i].fd >= 0 && clients[i].off < pend_len) return 1;
  return 0;
}

int attach_timeout_ms(void) {
  if (!attach_busy()) return -1;
  long long left = last_progress + ATTACH_STALL_MS - now_ms();
  return left < 0 ? 0 : (int)left;
}

void attach_broadcast(int type, const char *data, size_t len) {
  if (nclients == 0 || len == 0) return;
  if (len > ATTACH_FRAME_MAX) len = ATTACH_FRAME_MAX; /* callers read at most that much */
  put_header(pend, type, len);
  memcpy(pend + 8, data, len);
  pend_len = 8 + len;
  last_progress = now_ms();
  for (int i = 0; i < nclients; i++) {
    clients[i].off = 0;
    flush_client(&clients[i]);
  }
  compact();
}

int attach_fds(struct pollfd *pf, int want_input) {
  if (listen_fd < 0) return 0;
  int n = 0;
  pf[n++] = (struct pollfd){.fd = listen_fd, .events = nclients < ATTACH_MAX_CLIENTS ? POLLIN : 0};
  for (int i = 0; i < nclients; i++) {
    short ev = (short)((want_input && !clients[i].in_eof ? POLLIN : 0) | (clients[i].off < pend_len ? POLLOUT : 0));
    pf[n++] = (struct pollfd){.fd = clients[i].fd, .events = ev};
  }
  return n;
}

/* Parses what a client sent: stdin payload goes to in (when in is not NULL), resizes to the pty. */
static void parse_input(struct client *c, const unsigned char *b, size_t n, struct attach_input *in) {
  size_t i = 0;
  while (i < n) {
    if (c->hlen < 8) {
      c->hdr[c->hlen++] = b[i++];
      if (c->hlen < 8) continue;
      c->left = (uint32_t)c->hdr[4] << 24 | (uint32_t)c->hdr[5] << 16 | (uint32_t)c->hdr[6] << 8 | c->hdr[7];
      c->alen = 0;
    } else {
      size_t take = n - i < c->left ? n - i : c->left;
      if (c->hdr[0] == ATTACH_STDIN && in && in->buf) {
        memcpy(in->buf + *in->len, b + i, take);
        *in->len += take;
      } else if (c->hdr[0] == ATTACH_RESIZE) {
        for (size_t k = 0; k < take && c->alen < sizeof c->arg; k++) c->arg[c->alen++] = b[i + k];
      }
      i += take;
      c->left -= (uint32_t)take;
    }
    if (c->hlen == 8 && c->left == 0) {
      if (c->hdr[0] == ATTACH_STDIN_ONCE) c->once = 1;
      if (c->hdr[0] == ATTACH_RESIZE && c->alen == 4 && in && in->pty >= 0) {
        struct winsize ws = {.ws_row = (unsigned short)(c->arg[0] << 8 | c->arg[1]), .ws_col = (unsigned short)(c->arg[2] << 8 | c->arg[3])};
        if (ws.ws_row && ws.ws_col) ioctl(in->pty, TIOCSWINSZ, &ws);
      }
      c->hlen = 0;
    }
  }
}

static void read_client(struct client *c, short revents, struct attach_input *in) {
  unsigned char b[4096];
  size_t room = sizeof b;
  if (in->buf && in->cap - *in->len < room) room = in->cap - *in->len;
  if (room == 0) {
    /* No room for stdin now: a client that hung up is dropped, one that writes waits. */
    if (revents & (POLLHUP | POLLERR)) drop(c);
    return;
  }
  ssize_t n = recv(c->fd, b, room, MSG_DONTWAIT);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n == 0 && !(revents & (POLLHUP | POLLERR))) {
    /* Shut down for writing (its stdin reached EOF): it still takes the output. */
    c->in_eof = 1;
    if (c->once) stdin_ended = 1;
    return;
  }
  if (n <= 0) {
    drop(c); /* detached (or gone): the container's stdin stays open unless it sent ATTACH_STDIN_ONCE */
    return;
  }
  parse_input(c, b, (size_t)n, in);
}

void attach_io(const struct pollfd *pf, int n, struct attach_input *in) {
  if (listen_fd < 0 || n <= 0) return;
  for (int i = 1; i < n; i++) {
    struct client *c = NULL;
    for (int k = 0; k < nclients; k++)
      if (clients[k].fd == pf[i].fd) c = &clients[k];
    if (!c || !pf[i].revents) continue;
    if (pf[i].revents & POLLOUT) flush_client(c);
    if (c->fd >= 0 && (pf[i].revents & (POLLIN | POLLHUP | POLLERR))) read_client(c, pf[i].revents, in);
  }
  if (attach_busy() && now_ms() - last_progress >= ATTACH_STALL_MS) {
    for (int i = 0; i < nclients; i++)
      if (clients[i].fd >= 0 && clients[i].off < pend_len) drop(&clients[i]);
  }
  compact();
}

void attach_accept(const struct pollfd *pf, int n) {
  if (listen_fd < 0 || n <= 0 || !(pf[0].revents & POLLIN)) return;
  while (nclients < ATTACH_MAX_CLIENTS) {
    int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) break;
    clients[nclients++] = (struct client){.fd = fd, .off = pend_len};
  }
}

void attach_finish(int exit_code) {
  if (listen_fd < 0) return;
  close(listen_fd);
  listen_fd = -1;
  unlink(sock_path);
  unsigned char frame[8 + 16];
  int len = snprintf((char *)frame + 8, 16, "%d", exit_code);
  put_header(frame, ATTACH_EXIT, (size_t)len);
  for (int i = 0; i < nclients; i++) {
    struct client *c = &clients[i];
    if (c->fd < 0) continue;
    /* The last output and the exit code, waiting at most a second for each client. */
    struct timeval tv = {.tv_sec = 1};
    fcntl(c->fd, F_SETFL, 0);
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if ((c->off >= pend_len || write_all(c->fd, pend + c->off, pend_len - c->off) == 0))
      write_all(c->fd, frame, 8 + (size_t)len);
    close(c->fd);
  }
  nclients = 0;
}
