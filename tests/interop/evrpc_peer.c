/*
 * libevent's side of levent's RPC interop tests (tests/interop/rpc_interop_test.ts).
 * The regress structures (test/regress.rpc) are marshalled by hand with
 * libevent's own evtag functions (event2/tag.h), as event_rpcgen.py's
 * generated code does, so the bytes are libevent's.
 *
 *   evrpc_peer vectors        print libevent's encodings, one "NAME HEX" line each
 *   evrpc_peer decode         read "KIND HEX" lines, print what libevent decodes
 *   evrpc_peer client PORT    call Message and NeverReply on 127.0.0.1:PORT with
 *                             libevent's evrpc pool (EVRPC_MAKE_REQUEST), then
 *                             POST a malformed body with evhttp; print the results
 *   evrpc_peer server         serve Message with libevent's evrpc (EVRPC_REGISTER)
 *                             on 127.0.0.1, port chosen by the system
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>
#include <event2/event_compat.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/tag.h>
#include <event2/rpc.h>
#include <event2/rpc_struct.h>
#include <arpa/inet.h>
#include <sys/socket.h>

/* Exported by libevent (event_tagging.c) but not declared in event2/tag.h. */
int evtag_encode_tag(struct evbuffer *evbuf, ev_uint32_t tag);
int evtag_decode_tag(ev_uint32_t *ptag, struct evbuffer *evbuf);
int evtag_decode_int(ev_uint32_t *pnumber, struct evbuffer *evbuf);
int evtag_decode_int64(ev_uint64_t *pnumber, struct evbuffer *evbuf);

/* ---------------------------------------------------------------- the structures */

struct kill {
	char *weapon, *action;
	ev_uint32_t how_often[16];
	int how_often_len;
};

struct run {
	char *how;
	ev_uint8_t *some_bytes;
	ev_uint32_t some_bytes_len;
	int some_bytes_set;
	ev_uint8_t fixed_bytes[24];
	int fixed_set;
	char *notes[8];
	int notes_len;
	ev_uint64_t large_number;
	int large_set;
	ev_uint32_t other_numbers[8];
	int other_len;
};

struct msg {
	char *from_name, *to_name;
	struct kill *attack;
	struct run runs[4];
	int runs_len;
};

static void kill_clear(struct kill *k) {
	free(k->weapon);
	free(k->action);
	memset(k, 0, sizeof(*k));
}
static struct kill *kill_new_with_arg(void *arg) { (void)arg; return calloc(1, sizeof(struct kill)); }
static void kill_free(struct kill *k) { kill_clear(k); free(k); }
static int kill_complete(struct kill *k) { return k->weapon != NULL && k->action != NULL ? 0 : -1; }

static void kill_marshal(struct evbuffer *buf, const struct kill *k) {
	evtag_marshal_string(buf, 0x10121, k->weapon);
	evtag_marshal_string(buf, 2, k->action);
	for (int i = 0; i < k->how_often_len; i++) evtag_marshal_int(buf, 3, k->how_often[i]);
}

static int kill_unmarshal(struct kill *k, struct evbuffer *buf) {
	ev_uint32_t tag;
	while (evbuffer_get_length(buf) > 0) {
		if (evtag_peek(buf, &tag) == -1) return -1;
		switch (tag) {
		case 0x10121:
			if (k->weapon != NULL || evtag_unmarshal_string(buf, tag, &k->weapon) == -1) return -1;
			break;
		case 2:
			if (k->action != NULL || evtag_unmarshal_string(buf, tag, &k->action) == -1) return -1;
			break;
		case 3:
			if (k->how_often_len == 16) return -1;
			if (evtag_unmarshal_int(buf, tag, &k->how_often[k->how_often_len++]) == -1) return -1;
			break;
		default:
			return -1;
		}
	}
	return kill_complete(k);
}

static void run_marshal(struct evbuffer *buf, const struct run *r) {
	evtag_marshal_string(buf, 1, r->how);
	if (r->some_bytes_set) evtag_marshal(buf, 2, r->some_bytes, r->some_bytes_len);
	evtag_marshal(buf, 3, r->fixed_bytes, 24);
	for (int i = 0; i < r->notes_len; i++) evtag_marshal_string(buf, 4, r->notes[i]);
	if (r->large_set) evtag_marshal_int64(buf, 5, r->large_number);
	for (int i = 0; i < r->other_len; i++) evtag_marshal_int(buf, 6, r->other_numbers[i]);
}

static int run_unmarshal(struct run *r, struct evbuffer *buf) {
	ev_uint32_t tag, len;
	while (evbuffer_get_length(buf) > 0) {
		if (evtag_peek(buf, &tag) == -1) return -1;
		switch (tag) {
		case 1:
			if (r->how != NULL || evtag_unmarshal_string(buf, tag, &r->how) == -1) return -1;
			break;
		case 2:
			if (r->some_bytes_set || evtag_payload_length(buf, &len) == -1) return -1;
			r->some_bytes = malloc(len + 1);
			if (evtag_unmarshal_fixed(buf, tag, r->some_bytes, len) == -1) return -1;
			r->some_bytes_len = len;
			r->some_bytes_set = 1;
			break;
		case 3:
			if (r->fixed_set || evtag_unmarshal_fixed(buf, tag, r->fixed_bytes, 24) == -1) return -1;
			r->fixed_set = 1;
			break;
		case 4:
			if (r->notes_len == 8 || evtag_unmarshal_string(buf, tag, &r->notes[r->notes_len++]) == -1) return -1;
			break;
		case 5:
			if (r->large_set || evtag_unmarshal_int64(buf, tag, &r->large_number) == -1) return -1;
			r->large_set = 1;
			break;
		case 6:
			if (r->other_len == 8 || evtag_unmarshal_int(buf, tag, &r->other_numbers[r->other_len++]) == -1) return -1;
			break;
		default:
			return -1;
		}
	}
	return r->how != NULL && r->fixed_set ? 0 : -1;
}

static void msg_marshal(struct evbuffer *buf, const struct msg *m) {
	evtag_marshal_string(buf, 1, m->from_name);
	evtag_marshal_string(buf, 2, m->to_name);
	if (m->attack != NULL) {
		struct evbuffer *inner = evbuffer_new();
		kill_marshal(inner, m->attack);
		evtag_marshal_buffer(buf, 3, inner);
		evbuffer_free(inner);
	}
	for (int i = 0; i < m->runs_len; i++) {
		struct evbuffer *inner = evbuffer_new();
		run_marshal(inner, &m->runs[i]);
		evtag_marshal_buffer(buf, 4, inner);
		evbuffer_free(inner);
	}
}

static int msg_unmarshal(struct msg *m, struct evbuffer *buf) {
	ev_uint32_t tag;
	while (evbuffer_get_length(buf) > 0) {
		if (evtag_peek(buf, &tag) == -1) return -1;
		struct evbuffer *inner = NULL;
		int ok = 0;
		switch (tag) {
		case 1:
			ok = m->from_name == NULL && evtag_unmarshal_string(buf, tag, &m->from_name) == 0;
			break;
		case 2:
			ok = m->to_name == NULL && evtag_unmarshal_string(buf, tag, &m->to_name) == 0;
			break;
		case 3:
			if (m->attack != NULL) return -1;
			inner = evbuffer_new();
			m->attack = kill_new_with_arg(NULL);
			ok = evtag_unmarshal(buf, &tag, inner) != -1 && kill_unmarshal(m->attack, inner) == 0;
			break;
		case 4:
			if (m->runs_len == 4) return -1;
			inner = evbuffer_new();
			ok = evtag_unmarshal(buf, &tag, inner) != -1 && run_unmarshal(&m->runs[m->runs_len++], inner) == 0;
			break;
		}
		if (inner != NULL) evbuffer_free(inner);
		if (!ok) return -1;
	}
	return m->from_name != NULL && m->to_name != NULL ? 0 : -1;
}

static struct msg *msg_new_with_arg(void *arg) { (void)arg; return calloc(1, sizeof(struct msg)); }
static void msg_free(struct msg *m) { free(m); } /* the test programs exit soon: the strings are left */

/* The canonical msg both sides build (tests/interop/rpc_interop_test.ts has the same). */
static struct msg *full_msg(void) {
	static struct kill attack;
	static ev_uint8_t some[4] = {0, 1, 2, 255};
	static char *notes[3] = {"first", "", "second"};
	struct msg *m = msg_new_with_arg(NULL);
	m->from_name = strdup("niels");
	m->to_name = strdup("tester");
	attack.weapon = strdup("dagger");
	attack.action = strdup("wave around like an idiot");
	attack.how_often[0] = 3;
	attack.how_often[1] = 0;
	attack.how_often[2] = 4294967295u;
	attack.how_often_len = 3;
	m->attack = &attack;
	struct run *r = &m->runs[0];
	r->how = "very fast";
	r->some_bytes = some;
	r->some_bytes_len = 4;
	r->some_bytes_set = 1;
	for (int i = 0; i < 24; i++) r->fixed_bytes[i] = (ev_uint8_t)(i * 7);
	for (int i = 0; i < 3; i++) r->notes[i] = notes[i];
	r->notes_len = 3;
	r->large_number = 0xfedcba9876543210ULL;
	r->large_set = 1;
	r->other_numbers[0] = 1;
	r->other_numbers[1] = 2;
	r->other_numbers[2] = 3;
	r->other_len = 3;
	m->runs[1].how = "slow";
	m->runs_len = 2;
	return m;
}

/* ---------------------------------------------------------------- text forms */

static void print_hex(const char *name, struct evbuffer *buf) {
	size_t n = evbuffer_get_length(buf);
	const ev_uint8_t *p = evbuffer_pullup(buf, -1);
	printf("%s ", name);
	for (size_t i = 0; i < n; i++) printf("%02x", p[i]);
	printf("\n");
	evbuffer_drain(buf, n);
}

static void print_bytes(const ev_uint8_t *p, size_t n) {
	for (size_t i = 0; i < n; i++) printf("%02x", p[i]);
}

/* One line describing a msg, the same as the test's describe(). */
static void print_msg(const struct msg *m) {
	printf("from=%s to=%s", m->from_name, m->to_name);
	if (m->attack != NULL) {
		printf(" attack=%s|%s|", m->attack->weapon, m->attack->action);
		for (int i = 0; i < m->attack->how_often_len; i++) printf("%s%u", i ? "," : "", m->attack->how_often[i]);
	}
	for (int k = 0; k < m->runs_len; k++) {
		const struct run *r = &m->runs[k];
		printf(" run=%s|", r->how);
		if (r->some_bytes_set) print_bytes(r->some_bytes, r->some_bytes_len);
		else printf("-");
		printf("|");
		print_bytes(r->fixed_bytes, 24);
		printf("|");
		for (int i = 0; i < r->notes_len; i++) printf("%s%s", i ? "," : "", r->notes[i]);
		printf("|");
		if (r->large_set) printf("%llu", (unsigned long long)r->large_number);
		else printf("-");
		printf("|");
		for (int i = 0; i < r->other_len; i++) printf("%s%u", i ? "," : "", r->other_numbers[i]);
	}
	printf("\n");
}

static int from_hex(struct evbuffer *buf, const char *hex) {
	size_t n = strlen(hex);
	for (size_t i = 0; i + 1 < n; i += 2) {
		unsigned int b;
		if (sscanf(hex + i, "%2x", &b) != 1) return -1;
		ev_uint8_t c = (ev_uint8_t)b;
		evbuffer_add(buf, &c, 1);
	}
	return 0;
}

/* ---------------------------------------------------------------- vectors and decode */

static int vectors(void) {
	struct evbuffer *buf = evbuffer_new();
	ev_uint32_t tags[] = {0, 0x7f, 0x80, 0x166, 0x4000, 0x10121, 0x1fffff, 0x200000, 0xffffffffu};
	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		char name[32];
		evtag_encode_tag(buf, tags[i]);
		snprintf(name, sizeof(name), "tag:%u", tags[i]);
		print_hex(name, buf);
	}
	ev_uint32_t ints[] = {0, 5, 0x10, 0xff, 0x100, 0x1234, 0xfffff, 0x12345678, 0xffffffffu};
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		char name[32];
		evtag_encode_int(buf, ints[i]);
		snprintf(name, sizeof(name), "int:%u", ints[i]);
		print_hex(name, buf);
	}
	ev_uint64_t int64s[] = {0, 0xffffffffULL, 0x100000000ULL, 0x123456789abcdef0ULL, 0xffffffffffffffffULL};
	for (size_t i = 0; i < sizeof(int64s) / sizeof(int64s[0]); i++) {
		char name[48];
		evtag_encode_int64(buf, int64s[i]);
		snprintf(name, sizeof(name), "int64:%llu", (unsigned long long)int64s[i]);
		print_hex(name, buf);
	}
	evtag_marshal_int(buf, 3, 0x1234);
	print_hex("marshal_int:3:4660", buf);
	evtag_marshal_int64(buf, 5, 0x123456789abcdef0ULL);
	print_hex("marshal_int64:5:1311768467463790320", buf);
	evtag_marshal_string(buf, 2, "hi");
	print_hex("marshal_string:2:hi", buf);
	evtag_marshal_string(buf, 0x10121, "");
	print_hex("marshal_string:65825:", buf);
	struct timeval tv = {5, 256};
	evtag_marshal_timeval(buf, 1, &tv);
	print_hex("marshal_timeval:1:5:256", buf);
	msg_marshal(buf, full_msg());
	print_hex("msg", buf);
	evbuffer_free(buf);
	return 0;
}

static int decode(void) {
	char line[65536];
	while (fgets(line, sizeof(line), stdin) != NULL) {
		char kind[32], hex[65000];
		if (sscanf(line, "%31s %64999s", kind, hex) != 2) continue;
		struct evbuffer *buf = evbuffer_new();
		from_hex(buf, hex);
		printf("%s ", kind);
		if (strcmp(kind, "tag") == 0) {
			ev_uint32_t v;
			if (evtag_decode_tag(&v, buf) == -1 || evbuffer_get_length(buf) != 0) printf("error\n");
			else printf("%u\n", v);
		} else if (strcmp(kind, "int") == 0) {
			ev_uint32_t v;
			if (evtag_decode_int(&v, buf) == -1 || evbuffer_get_length(buf) != 0) printf("error\n");
			else printf("%u\n", v);
		} else if (strcmp(kind, "int64") == 0) {
			ev_uint64_t v;
			if (evtag_decode_int64(&v, buf) == -1 || evbuffer_get_length(buf) != 0) printf("error\n");
			else printf("%llu\n", (unsigned long long)v);
		} else if (strcmp(kind, "timeval") == 0) {
			struct timeval tv;
			if (evtag_unmarshal_timeval(buf, 1, &tv) == -1) printf("error\n");
			else printf("%ld:%ld\n", (long)tv.tv_sec, (long)tv.tv_usec);
		} else if (strcmp(kind, "msg") == 0) {
			struct msg *m = msg_new_with_arg(NULL);
			if (msg_unmarshal(m, buf) == -1) printf("error\n");
			else print_msg(m);
		} else {
			printf("unknown\n");
		}
		evbuffer_free(buf);
	}
	return 0;
}

/* ---------------------------------------------------------------- client and server */

EVRPC_HEADER(Message, msg, kill)
EVRPC_HEADER(NeverReply, msg, kill)
EVRPC_GENERATE(Message, msg, kill)
EVRPC_GENERATE(NeverReply, msg, kill)

static struct event_base *base;
static int pending;

static void done_one(void) {
	if (--pending == 0) event_base_loopexit(base, NULL);
}

static void got_kill(struct evrpc_status *status, struct msg *m, struct kill *k, void *arg) {
	(void)m;
	printf("%s status=%d", (const char *)arg, status->error);
	if (status->error == EVRPC_STATUS_ERR_NONE) {
		printf(" weapon=%s action=%s how_often=", k->weapon, k->action);
		for (int i = 0; i < k->how_often_len; i++) printf("%s%u", i ? "," : "", k->how_often[i]);
	}
	printf("\n");
	fflush(stdout);
	done_one();
}

static void got_raw(struct evhttp_request *req, void *arg) {
	printf("%s code=%d\n", (const char *)arg, req == NULL ? 0 : evhttp_request_get_response_code(req));
	fflush(stdout);
	done_one();
}

static int client(int port) {
	/*
	 * As libevent's regress_rpc.c: the pool has no base of its own (given one,
	 * evrpc_pool_add_connection would reassign the connections' bases, which
	 * asserts), so its timeout timers take the current base, which event_init sets.
	 */
	base = event_init();
	struct evrpc_pool *pool = evrpc_pool_new(NULL);
	evrpc_pool_add_connection(pool, evhttp_connection_base_new(base, NULL, "127.0.0.1", (unsigned short)port));
	evrpc_pool_add_connection(pool, evhttp_connection_base_new(base, NULL, "127.0.0.1", (unsigned short)port));
	evrpc_pool_set_timeout(pool, 1);
	struct msg *m = full_msg();
	struct kill *k1 = kill_new_with_arg(NULL), *k2 = kill_new_with_arg(NULL), *k3 = kill_new_with_arg(NULL);
	pending = 4;
	EVRPC_MAKE_REQUEST(Message, pool, m, k1, got_kill, "Message");
	EVRPC_MAKE_REQUEST(NeverReply, pool, m, k2, got_kill, "NeverReply");
	EVRPC_MAKE_REQUEST(Message, pool, m, k3, got_kill, "Message-again");
	/* A body that is not a msg, POSTed as libevent's evrpc client does (no Host). */
	struct evhttp_connection *raw = evhttp_connection_base_new(base, NULL, "127.0.0.1", (unsigned short)port);
	struct evhttp_request *req = evhttp_request_new(got_raw, "Nonsense");
	evbuffer_add_printf(evhttp_request_get_output_buffer(req), "Some Nonsense");
	evhttp_make_request(raw, req, EVHTTP_REQ_POST, "/.rpc.Message");
	event_base_dispatch(base);
	return pending == 0 ? 0 : 1;
}

static void message_cb(EVRPC_STRUCT(Message) *rpc, void *arg) {
	(void)arg;
	struct kill *reply = rpc->reply;
	reply->weapon = strdup("dagger");
	char action[256];
	snprintf(action, sizeof(action), "%s to %s", rpc->request->from_name, rpc->request->to_name);
	reply->action = strdup(action);
	int n = 0;
	for (int i = 0; i < rpc->request->runs_len && n < 16; i++) reply->how_often[n++] = (ev_uint32_t)rpc->request->runs[i].notes_len;
	reply->how_often_len = n;
	EVRPC_REQUEST_DONE(rpc);
}

static int server(void) {
	base = event_base_new();
	struct evhttp *http = evhttp_new(base);
	struct evhttp_bound_socket *sock = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
	if (sock == NULL) return 1;
	struct evrpc_base *rpc = evrpc_init(http);
	EVRPC_REGISTER(rpc, Message, msg, kill, message_cb, NULL);
	struct sockaddr_storage ss;
	ev_socklen_t len = sizeof(ss);
	getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&ss, &len);
	printf("listening on http://127.0.0.1:%d\n", ntohs(((struct sockaddr_in *)&ss)->sin_port));
	fflush(stdout);
	event_base_dispatch(base);
	return 0;
}

int main(int argc, char **argv) {
	if (argc >= 2 && strcmp(argv[1], "vectors") == 0) return vectors();
	if (argc >= 2 && strcmp(argv[1], "decode") == 0) return decode();
	if (argc >= 3 && strcmp(argv[1], "client") == 0) return client(atoi(argv[2]));
	if (argc >= 2 && strcmp(argv[1], "server") == 0) return server();
	fprintf(stderr, "usage: evrpc_peer vectors | decode | client PORT | server\n");
	return 2;
}
