/*
 * A small libevent evhttp server for levent's client interop tests.
 *
 *   GET /chunked?n=N&size=S  N chunks of S bytes each (byte i of the body is
 *                            (i * 7 + (i >> 10)) & 0xff), each its own chunk
 *                            on the wire (evhttp_send_reply_start/chunk/end)
 *   POST /echo               the request body back, with Content-Length
 *   anything else            404
 *
 * Prints "listening on http://127.0.0.1:PORT" once bound (port 0 = any).
 * Build: cc -o evhttp_chunked_server evhttp_chunked_server.c -levent
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct stream {
	struct evhttp_request *req;
	long left;
	long size;
	long offset;
};

static void send_next_chunk(struct evhttp_connection *conn, void *arg);

static void
fill(struct evbuffer *out, long offset, long size)
{
	struct evbuffer_iovec v;
	long i;
	if (evbuffer_reserve_space(out, size, &v, 1) < 1)
		return;
	for (i = 0; i < size; i++) {
		long k = offset + i;
		((unsigned char *)v.iov_base)[i] = (unsigned char)((k * 7 + (k >> 10)) & 0xff);
	}
	v.iov_len = size;
	evbuffer_commit_space(out, &v, 1);
}

static void
send_next_chunk(struct evhttp_connection *conn, void *arg)
{
	struct stream *s = arg;
	struct evbuffer *chunk;
	(void)conn;
	if (s->left == 0) {
		evhttp_send_reply_end(s->req);
		free(s);
		return;
	}
	chunk = evbuffer_new();
	fill(chunk, s->offset, s->size);
	s->offset += s->size;
	s->left--;
	/* The next chunk goes once this one is written: the server never holds more than one. */
	evhttp_send_reply_chunk_with_cb(s->req, chunk, send_next_chunk, s);
	evbuffer_free(chunk);
}

static void
chunked_cb(struct evhttp_request *req, void *arg)
{
	struct evkeyvalq query;
	const char *n, *size;
	struct stream *s;
	(void)arg;
	evhttp_parse_query_str(evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req)) ?
	    evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req)) : "", &query);
	n = evhttp_find_header(&query, "n");
	size = evhttp_find_header(&query, "size");
	s = calloc(1, sizeof(*s));
	s->req = req;
	s->left = n ? atol(n) : 3;
	s->size = size ? atol(size) : 16;
	evhttp_clear_headers(&query);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/octet-stream");
	evhttp_send_reply_start(req, 200, "OK");
	send_next_chunk(evhttp_request_get_connection(req), s);
}

static void
echo_cb(struct evhttp_request *req, void *arg)
{
	(void)arg;
	evhttp_send_reply(req, 200, "OK", evhttp_request_get_input_buffer(req));
}

int
main(void)
{
	struct event_base *base = event_base_new();
	struct evhttp *http = evhttp_new(base);
	struct evhttp_bound_socket *handle;
	evhttp_set_cb(http, "/chunked", chunked_cb, NULL);
	evhttp_set_cb(http, "/echo", echo_cb, NULL);
	handle = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
	if (handle == NULL) {
		fprintf(stderr, "cannot bind\n");
		return 1;
	}
	{
		struct sockaddr_storage ss;
		ev_socklen_t len = sizeof(ss);
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		getsockname(evhttp_bound_socket_get_fd(handle), (struct sockaddr *)&ss, &len);
		printf("listening on http://127.0.0.1:%d\n", ntohs(sin->sin_port));
		fflush(stdout);
	}
	event_base_dispatch(base);
	return 0;
}
