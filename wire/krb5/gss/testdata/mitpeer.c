/*
 * mitpeer: a test peer for package gss built on MIT's libgssapi_krb5. It
 * speaks the legacy ceod frame protocol ([u32 len][u32 type][body], big
 * endian, each frame sent with one write) over TCP, in either role:
 *
 *   mitpeer init HOST PORT MSG...
 *       Connects, establishes a context with "ceod@localhost" (or
 *       $MITPEER_SERVICE) using MUTUAL|REPLAY|SEQUENCE|CONF|INTEG, then for
 *       each MSG sends gss_wrap(conf=1, MSG) as a type-2 frame and prints
 *       "reply: TEXT" for the unwrapped answer.
 *   mitpeer accept PORT
 *       Listens on 127.0.0.1:PORT (0: any port) and prints "listening N";
 *       accepts one connection and a context as "ceod@localhost" (or
 *       $MITPEER_SERVICE) with the default keytab ($KRB5_KTNAME), prints
 *       "peer NAME", then answers each op frame with
 *       gss_wrap(conf=1, "echo: " + request), printing "request: TEXT",
 *       until the peer closes.
 *
 * Both roles require the context to have CONF, INTEG and MUTUAL (like the
 * legacy programs), require every received message to be sealed, and end
 * by printing "enctype N", the enctype of the per-message key. Errors go to
 * stderr with exit status 1.
 *
 * Test-vector recording: with MITPEER_DUMP=1 the last line is instead
 * "enctype N key HEX", the per-message key, and the initiator sends a MSG
 * that starts with "i:" with gss_wrap(conf=0), integrity only.
 *
 * Fixed clock: with MITPEER_FIXED_TIME=SECONDS.MICROSECONDS, gettimeofday
 * and time return that instant (built with -rdynamic, these definitions
 * also serve libkrb5), so that several peer processes send authenticators
 * with equal (ctime, cusec), as parallel MIT clients often do.
 *
 * Build: gcc -rdynamic -o mitpeer mitpeer.c -lgssapi_krb5
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_krb5.h>

#define MSG_AUTH 0x08000000u
/* The op msgtype: 2 (the legacy mail op) unless MITPEER_MSGTYPE says. */
static uint32_t msg_op(void) {
    const char *t = getenv("MITPEER_MSGTYPE");
    return t != NULL && *t != '\0' ? (uint32_t)strtoul(t, NULL, 0) : 2;
}
#define MSG_OP msg_op()
#define MAX_FRAME 65536u

/* fixed_time parses MITPEER_FIXED_TIME; 0 if unset. */
static int fixed_time(struct timeval *tv) {
    const char *f = getenv("MITPEER_FIXED_TIME");
    long sec, usec;
    if (f == NULL || sscanf(f, "%ld.%ld", &sec, &usec) != 2)
        return 0;
    tv->tv_sec = sec;
    tv->tv_usec = usec;
    return 1;
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz) {
    (void)tz;
    if (fixed_time(tv))
        return 0;
    struct timespec ts;
    if (syscall(SYS_clock_gettime, CLOCK_REALTIME, &ts) != 0)
        return -1;
    tv->tv_sec = ts.tv_sec;
    tv->tv_usec = ts.tv_nsec / 1000;
    return 0;
}

time_t time(time_t *out) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    if (out != NULL)
        *out = tv.tv_sec;
    return tv.tv_sec;
}

static void die(const char *what) {
    fprintf(stderr, "mitpeer: %s\n", what);
    exit(1);
}

static void print_status(OM_uint32 code, int type) {
    OM_uint32 min, ctx = 0;
    gss_buffer_desc msg;
    do {
        gss_display_status(&min, code, type, GSS_C_NO_OID, &ctx, &msg);
        fprintf(stderr, "  %.*s\n", (int)msg.length, (char *)msg.value);
        gss_release_buffer(&min, &msg);
    } while (ctx != 0);
}

static void gss_die(const char *what, OM_uint32 maj, OM_uint32 min) {
    fprintf(stderr, "mitpeer: %s failed:\n", what);
    print_status(maj, GSS_C_GSS_CODE);
    if (min != 0)
        print_status(min, GSS_C_MECH_CODE);
    exit(1);
}

static int read_full(int fd, void *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return got == 0 && r == 0 ? 0 : -1;
        got += (size_t)r;
    }
    return 1;
}

/* read_frame returns 1 with a malloc'd body, 0 on clean EOF; dies otherwise. */
static int read_frame(int fd, uint32_t *type, gss_buffer_desc *body) {
    unsigned char hdr[8];
    int r = read_full(fd, hdr, sizeof hdr);
    if (r == 0)
        return 0;
    if (r < 0)
        die("short frame header");
    uint32_t len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
    *type = (uint32_t)hdr[4] << 24 | (uint32_t)hdr[5] << 16 | (uint32_t)hdr[6] << 8 | hdr[7];
    if (len == 0 || len > MAX_FRAME)
        die("bad frame length");
    body->value = malloc(len);
    body->length = len;
    if (body->value == NULL)
        die("out of memory");
    if (read_full(fd, body->value, len) != 1)
        die("short frame body");
    return 1;
}

static void write_frame(int fd, uint32_t type, const gss_buffer_desc *body) {
    size_t n = 8 + body->length;
    unsigned char *buf = malloc(n);
    if (buf == NULL)
        die("out of memory");
    uint32_t len = (uint32_t)body->length;
    unsigned char hdr[8] = {len >> 24, len >> 16, len >> 8, len, type >> 24, type >> 16, type >> 8, type};
    memcpy(buf, hdr, 8);
    memcpy(buf + 8, body->value, body->length);
    if (write(fd, buf, n) != (ssize_t)n) /* one write: legacy readers need it */
        die("write failed");
    free(buf);
}

/* service_name is MITPEER_SERVICE, else ceod@ the canonical name of host
 * as the legacy ceoc gets it (gethostbyname(host)->h_name), else
 * ceod@localhost for a numeric address. */
static gss_name_t service_name(const char *host) {
    static char canon[300];
    const char *svc = getenv("MITPEER_SERVICE");
    struct in_addr numeric;
    if ((svc == NULL || *svc == '\0') && inet_pton(AF_INET, host, &numeric) != 1) {
        struct hostent *he = gethostbyname(host);
        if (he == NULL)
            die("gethostbyname");
        snprintf(canon, sizeof canon, "ceod@%s", he->h_name);
        svc = canon;
    }
    if (svc == NULL || *svc == '\0')
        svc = "ceod@localhost";
    gss_buffer_desc buf = {strlen(svc), (void *)svc};
    gss_name_t name;
    OM_uint32 maj, min;
    maj = gss_import_name(&min, &buf, GSS_C_NT_HOSTBASED_SERVICE, &name);
    if (GSS_ERROR(maj))
        gss_die("gss_import_name", maj, min);
    return name;
}

static void check_flags(OM_uint32 flags) {
    OM_uint32 need = GSS_C_CONF_FLAG | GSS_C_INTEG_FLAG | GSS_C_MUTUAL_FLAG;
    if ((flags & need) != need) {
        fprintf(stderr, "mitpeer: context flags %#x lack CONF|INTEG|MUTUAL\n", flags);
        exit(1);
    }
}

static int dump_mode(void) {
    const char *d = getenv("MITPEER_DUMP");
    return d != NULL && *d != '\0' && strcmp(d, "0") != 0;
}

static void wrap_and_send(int fd, gss_ctx_id_t ctx, uint32_t type, const char *text, size_t len, int seal) {
    OM_uint32 maj, min;
    int conf = 0;
    gss_buffer_desc in = {len, (void *)text}, out;
    maj = gss_wrap(&min, ctx, seal, GSS_C_QOP_DEFAULT, &in, &conf, &out);
    if (GSS_ERROR(maj))
        gss_die("gss_wrap", maj, min);
    if (conf != seal)
        die("gss_wrap did not honour conf_req_flag");
    write_frame(fd, type, &out);
    gss_release_buffer(&min, &out);
}

static void seal_and_send(int fd, gss_ctx_id_t ctx, uint32_t type, const char *text, size_t len) {
    wrap_and_send(fd, ctx, type, text, len, 1);
}

static void unseal(gss_ctx_id_t ctx, gss_buffer_desc *in, gss_buffer_desc *out) {
    OM_uint32 maj, min;
    int conf = 0;
    maj = gss_unwrap(&min, ctx, in, out, &conf, NULL);
    if (GSS_ERROR(maj) || maj != GSS_S_COMPLETE)
        gss_die("gss_unwrap", maj, min);
    if (!conf)
        die("received message was not sealed");
}

static void print_enctype(gss_ctx_id_t *ctx) {
    OM_uint32 maj, min;
    void *lucid;
    maj = gss_krb5_export_lucid_sec_context(&min, ctx, 1, &lucid);
    if (GSS_ERROR(maj))
        gss_die("gss_krb5_export_lucid_sec_context", maj, min);
    gss_krb5_lucid_context_v1_t *lc = lucid;
    if (lc->protocol != 1)
        die("context does not use RFC 4121 tokens");
    gss_krb5_lucid_key_t *key = lc->cfx_kd.have_acceptor_subkey ? &lc->cfx_kd.acceptor_subkey : &lc->cfx_kd.ctx_key;
    printf("enctype %u", key->type);
    if (dump_mode()) {
        printf(" key ");
        for (OM_uint32 i = 0; i < key->length; i++)
            printf("%02x", ((unsigned char *)key->data)[i]);
    }
    printf("\n");
    gss_krb5_free_lucid_sec_context(&min, lucid);
}

static int do_init(const char *host, const char *port, int nmsg, char **msgs) {
    struct addrinfo hints = {0}, *ai;
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &ai) != 0)
        die("getaddrinfo");
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0)
        die("connect");
    freeaddrinfo(ai);

    gss_name_t target = service_name(host);
    gss_ctx_id_t ctx = GSS_C_NO_CONTEXT;
    gss_buffer_desc in = GSS_C_EMPTY_BUFFER, out;
    OM_uint32 maj, min, ret_flags = 0;
    OM_uint32 req = GSS_C_MUTUAL_FLAG | GSS_C_REPLAY_FLAG | GSS_C_SEQUENCE_FLAG | GSS_C_CONF_FLAG | GSS_C_INTEG_FLAG;
    if (getenv("MITPEER_DELEG") != NULL)
        req |= GSS_C_DELEG_FLAG; /* forward the TGT (kinit -f) */
    for (;;) {
        maj = gss_init_sec_context(&min, GSS_C_NO_CREDENTIAL, &ctx, target, (gss_OID)gss_mech_krb5, req, 0,
                                   GSS_C_NO_CHANNEL_BINDINGS, in.length ? &in : GSS_C_NO_BUFFER, NULL, &out,
                                   &ret_flags, NULL);
        if (in.value != NULL) {
            free(in.value);
            in.value = NULL;
            in.length = 0;
        }
        if (GSS_ERROR(maj))
            gss_die("gss_init_sec_context", maj, min);
        if (out.length > 0)
            write_frame(fd, MSG_AUTH, &out);
        gss_release_buffer(&min, &out);
        if (!(maj & GSS_S_CONTINUE_NEEDED))
            break;
        uint32_t type;
        if (!read_frame(fd, &type, &in))
            die("connection closed during authentication");
        if (type != MSG_AUTH)
            die("expected an auth frame");
    }
    check_flags(ret_flags);
    if (req & GSS_C_DELEG_FLAG)
        printf("delegated %s\n", (ret_flags & GSS_C_DELEG_FLAG) ? "yes" : "no");

    for (int i = 0; i < nmsg; i++) {
        int seal = !(dump_mode() && strncmp(msgs[i], "i:", 2) == 0);
        wrap_and_send(fd, ctx, MSG_OP, msgs[i], strlen(msgs[i]), seal);
        uint32_t type;
        gss_buffer_desc body, plain;
        if (!read_frame(fd, &type, &body))
            die("connection closed before the reply");
        if (type != MSG_OP)
            die("reply has another msgtype");
        unseal(ctx, &body, &plain);
        printf("reply: %.*s\n", (int)plain.length, (char *)plain.value);
        free(body.value);
        gss_release_buffer(&min, &plain);
    }
    print_enctype(&ctx);
    gss_release_name(&min, &target);
    close(fd);
    return 0;
}

/* use_delegated starts a context to service (host-based, "ldap@host")
 * with the credential the initiator delegated, which needs a TGS exchange
 * with the forwarded TGT, and prints whose it is. */
static void use_delegated(OM_uint32 flags, gss_cred_id_t deleg, const char *service) {
    OM_uint32 maj, min;
    if (!(flags & GSS_C_DELEG_FLAG) || deleg == GSS_C_NO_CREDENTIAL) {
        printf("delegated none\n");
        return;
    }
    gss_name_t owner;
    maj = gss_inquire_cred(&min, deleg, &owner, NULL, NULL, NULL);
    if (GSS_ERROR(maj))
        gss_die("gss_inquire_cred", maj, min);
    gss_buffer_desc disp, buf = {strlen(service), (void *)service}, out = GSS_C_EMPTY_BUFFER;
    maj = gss_display_name(&min, owner, &disp, NULL);
    if (GSS_ERROR(maj))
        gss_die("gss_display_name", maj, min);
    gss_name_t target;
    maj = gss_import_name(&min, &buf, GSS_C_NT_HOSTBASED_SERVICE, &target);
    if (GSS_ERROR(maj))
        gss_die("gss_import_name", maj, min);
    gss_ctx_id_t ctx = GSS_C_NO_CONTEXT;
    maj = gss_init_sec_context(&min, deleg, &ctx, target, (gss_OID)gss_mech_krb5, GSS_C_MUTUAL_FLAG, 0,
                               GSS_C_NO_CHANNEL_BINDINGS, GSS_C_NO_BUFFER, NULL, &out, NULL, NULL);
    if (GSS_ERROR(maj))
        gss_die("gss_init_sec_context with the delegated credential", maj, min);
    printf("delegated %.*s usable for %s\n", (int)disp.length, (char *)disp.value, service);
    gss_release_buffer(&min, &out);
    gss_release_buffer(&min, &disp);
    gss_delete_sec_context(&min, &ctx, GSS_C_NO_BUFFER);
    gss_release_name(&min, &target);
    gss_release_name(&min, &owner);
}

static int do_accept(const char *port) {
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)atoi(port));
    if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(ls, 1) < 0)
        die("listen");
    socklen_t sl = sizeof sa;
    if (getsockname(ls, (struct sockaddr *)&sa, &sl) < 0)
        die("getsockname");
    printf("listening %d\n", ntohs(sa.sin_port));
    fflush(stdout);
    int fd = accept(ls, NULL, NULL);
    if (fd < 0)
        die("accept");
    close(ls);

    OM_uint32 maj, min, ret_flags = 0;
    gss_name_t me = service_name("127.0.0.1"), client = GSS_C_NO_NAME;
    gss_cred_id_t cred;
    maj = gss_acquire_cred(&min, me, GSS_C_INDEFINITE, GSS_C_NO_OID_SET, GSS_C_ACCEPT, &cred, NULL, NULL);
    if (GSS_ERROR(maj))
        gss_die("gss_acquire_cred", maj, min);

    gss_ctx_id_t ctx = GSS_C_NO_CONTEXT;
    gss_cred_id_t deleg = GSS_C_NO_CREDENTIAL;
    for (;;) {
        uint32_t type;
        gss_buffer_desc in, out;
        if (!read_frame(fd, &type, &in))
            die("connection closed during authentication");
        if (type != MSG_AUTH)
            die("op before authentication");
        maj = gss_accept_sec_context(&min, &ctx, cred, &in, GSS_C_NO_CHANNEL_BINDINGS, &client, NULL, &out,
                                     &ret_flags, NULL, &deleg);
        free(in.value);
        if (out.length > 0)
            write_frame(fd, MSG_AUTH, &out); /* also sends error tokens */
        gss_release_buffer(&min, &out);
        if (GSS_ERROR(maj))
            gss_die("gss_accept_sec_context", maj, min);
        if (!(maj & GSS_S_CONTINUE_NEEDED))
            break;
    }
    check_flags(ret_flags);
    gss_buffer_desc disp;
    maj = gss_display_name(&min, client, &disp, NULL);
    if (GSS_ERROR(maj))
        gss_die("gss_display_name", maj, min);
    printf("peer %.*s\n", (int)disp.length, (char *)disp.value);
    gss_release_buffer(&min, &disp);
    const char *use = getenv("MITPEER_DELEG");
    if (use != NULL)
        use_delegated(ret_flags, deleg, use);
    gss_release_cred(&min, &deleg);

    for (;;) {
        uint32_t type;
        gss_buffer_desc body, plain;
        if (!read_frame(fd, &type, &body))
            break;
        if (type == MSG_AUTH)
            die("auth frame after the context is complete");
        unseal(ctx, &body, &plain);
        printf("request: %.*s\n", (int)plain.length, (char *)plain.value);
        size_t n = 6 + plain.length;
        char *reply = malloc(n);
        if (reply == NULL)
            die("out of memory");
        memcpy(reply, "echo: ", 6);
        memcpy(reply + 6, plain.value, plain.length);
        seal_and_send(fd, ctx, type, reply, n);
        free(reply);
        free(body.value);
        gss_release_buffer(&min, &plain);
    }
    print_enctype(&ctx);
    gss_release_name(&min, &client);
    gss_release_name(&min, &me);
    gss_release_cred(&min, &cred);
    close(fd);
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 4 && strcmp(argv[1], "init") == 0)
        return do_init(argv[2], argv[3], argc - 4, argv + 4);
    if (argc == 3 && strcmp(argv[1], "accept") == 0)
        return do_accept(argv[2]);
    fprintf(stderr, "usage: mitpeer init HOST PORT MSG... | mitpeer accept PORT\n");
    return 2;
}
