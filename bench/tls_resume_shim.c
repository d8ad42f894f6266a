/* tls_resume_shim.c -- LD_PRELOAD'ed into wrk by tls.sh (built there with cc, never shipped).
 *
 * wrk keeps one SSL object per connection slot and, after a "Connection: close" answer,
 * SSL_clear()s it and connects again: SSL_clear keeps the session, so the next handshake
 * offers it and a server with a session cache resumes. That makes wrk's "new connection per
 * request" a resumed-handshake benchmark, and on a server whose cache is per process a mix of
 * both. This shim wraps SSL_connect to
 *   - drop the kept session before a handshake starts when TLS_SHIM_RESUME=0, so every
 *     connection is a full handshake, and
 *   - count completed handshakes and resumed ones, written to $TLS_SHIM_COUNTS at exit as
 *     "handshakes resumed", so the bench can say what it measured.
 * wrk calls SSL_connect again after each WANT_READ/WANT_WRITE: only a handshake that has not
 * started (SSL_in_before) loses its session, and only the call that returns 1 is counted.
 * One wrk thread (-t1) is assumed: the counters are not atomic. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>

static unsigned long handshakes, resumed;

int SSL_connect(SSL *ssl) {
    static int (*real_connect)(SSL *);
    static int drop = -1;
    if (!real_connect) real_connect = (int (*)(SSL *))dlsym(RTLD_NEXT, "SSL_connect");
    if (drop < 0) {
        const char *v = getenv("TLS_SHIM_RESUME");
        drop = v && v[0] == '0';
    }
    if (drop && SSL_in_before(ssl)) SSL_set_session(ssl, NULL);
    int r = real_connect(ssl);
    if (r == 1) {
        ++handshakes;
        if (SSL_session_reused(ssl)) ++resumed;
    }
    return r;
}

__attribute__((destructor)) static void write_counts(void) {
    const char *path = getenv("TLS_SHIM_COUNTS");
    FILE *f = path ? fopen(path, "w") : NULL;
    if (!f) return;
    fprintf(f, "%lu %lu\n", handshakes, resumed);
    fclose(f);
}
