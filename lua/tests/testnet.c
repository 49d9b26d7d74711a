/*
 * testnet.c - `require "dbsync_testnet"`: blocking loopback TCP for the Lua
 * tests, so a test can host an in-process dbsync.Server over real HTTP.
 *
 * Server hooks are Lua functions that run inside server:handle(), in the
 * state that owns the server; libdbsync's own listener (dbsyncd's) is
 * private and runs requests on its own threads. A test therefore serves
 * the requests of a client running in another process itself, one
 * connection at a time, with this module. Test-only: not installed.
 *
 *   local l = net.listen("127.0.0.1", 0)   -- l:port()
 *   local c = l:accept(seconds)            -- nil, "timeout"
 *   c:receive(seconds)                     -- data; nil, "closed"/"timeout"
 *   c:send(data); c:close(); l:close()
 *
 * Failures return nil and a message (Lua's io convention).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#define LISTENER_MT "dbsync_testnet.listener"
#define CONN_MT "dbsync_testnet.conn"

int luaopen_dbsync_testnet(lua_State *L);

typedef struct sock {
	int fd;
} sock;

static sock *check_sock(lua_State *L, const char *mt)
{
	sock *s = luaL_checkudata(L, 1, mt);
	if (s->fd < 0)
		luaL_error(L, "socket is closed");
	return s;
}

static sock *new_sock(lua_State *L, int fd, const char *mt)
{
	sock *s = lua_newuserdatauv(L, sizeof *s, 0);
	s->fd = fd;
	luaL_setmetatable(L, mt);
	return s;
}

static int fail(lua_State *L, const char *what)
{
	lua_pushnil(L);
	lua_pushfstring(L, "%s: %s", what, strerror(errno));
	return 2;
}

/* Wait until `fd` is ready for `events`: 1, 0 on timeout, -1 on error. */
static int wait_fd(int fd, short events, lua_Number seconds)
{
	struct pollfd p = {.fd = fd, .events = events};
	int ms = seconds < 0 ? -1 : (int)(seconds * 1000);
	int r;

	do
		r = poll(&p, 1, ms);
	while (r < 0 && errno == EINTR);
	return r;
}

/* Child processes of the test (its clients) must not hold our sockets. */
static void no_inherit(int fd)
{
	int flags = fcntl(fd, F_GETFD);
	if (flags >= 0)
		fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

/* listen(host, port): an IPv4 literal; port 0 picks a free one. */
static int net_listen(lua_State *L)
{
	const char *host = luaL_checkstring(L, 1);
	lua_Integer port = luaL_checkinteger(L, 2);
	struct sockaddr_in a;
	int fd, one = 1;

	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons((unsigned short)port);
	if (port < 0 || port > 65535 ||
	    inet_pton(AF_INET, host, &a.sin_addr) != 1) {
		lua_pushnil(L);
		lua_pushfstring(L, "bad address %s:%I", host, port);
		return 2;
	}
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return fail(L, "socket");
	no_inherit(fd);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    listen(fd, 16) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return fail(L, "bind");
	}
	new_sock(L, fd, LISTENER_MT);
	return 1;
}

static int listener_port(lua_State *L)
{
	sock *s = check_sock(L, LISTENER_MT);
	struct sockaddr_in a;
	socklen_t n = sizeof a;

	if (getsockname(s->fd, (struct sockaddr *)&a, &n) < 0)
		return fail(L, "getsockname");
	lua_pushinteger(L, ntohs(a.sin_port));
	return 1;
}

static int listener_accept(lua_State *L)
{
	sock *s = check_sock(L, LISTENER_MT);
	lua_Number t = luaL_optnumber(L, 2, -1);
	int r = wait_fd(s->fd, POLLIN, t), fd;

	if (r < 0)
		return fail(L, "poll");
	if (r == 0) {
		lua_pushnil(L);
		lua_pushliteral(L, "timeout");
		return 2;
	}
	do
		fd = accept(s->fd, NULL, NULL);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return fail(L, "accept");
	no_inherit(fd);
	new_sock(L, fd, CONN_MT);
	return 1;
}

/* receive([seconds]): what has arrived (at most 64 KiB). */
static int conn_receive(lua_State *L)
{
	sock *s = check_sock(L, CONN_MT);
	lua_Number t = luaL_optnumber(L, 2, -1);
	char buf[65536];
	ssize_t n;
	int r = wait_fd(s->fd, POLLIN, t);

	if (r < 0)
		return fail(L, "poll");
	if (r == 0) {
		lua_pushnil(L);
		lua_pushliteral(L, "timeout");
		return 2;
	}
	do
		n = recv(s->fd, buf, sizeof buf, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return fail(L, "recv");
	if (n == 0) {
		lua_pushnil(L);
		lua_pushliteral(L, "closed");
		return 2;
	}
	lua_pushlstring(L, buf, (size_t)n);
	return 1;
}

/* send(data): all of it (a peer that went away is an error, not SIGPIPE). */
static int conn_send(lua_State *L)
{
	sock *s = check_sock(L, CONN_MT);
	size_t len, done = 0;
	const char *data = luaL_checklstring(L, 2, &len);

	while (done < len) {
		ssize_t n = send(s->fd, data + done, len - done, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail(L, "send");
		done += (size_t)n;
	}
	lua_pushboolean(L, 1);
	return 1;
}

/* close(): harmless twice; also __gc and __close. */
static int sock_close(lua_State *L)
{
	sock *s = lua_touserdata(L, 1);

	if (s && s->fd >= 0) {
		close(s->fd);
		s->fd = -1;
	}
	return 0;
}

static void new_class(lua_State *L, const char *mt, const luaL_Reg *methods)
{
	luaL_newmetatable(L, mt);
	lua_newtable(L);
	luaL_setfuncs(L, methods, 0);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, sock_close);
	lua_setfield(L, -2, "__gc");
	lua_pushcfunction(L, sock_close);
	lua_setfield(L, -2, "__close");
	lua_pop(L, 1);
}

int luaopen_dbsync_testnet(lua_State *L)
{
	static const luaL_Reg listener[] = {
		{"port", listener_port},
		{"accept", listener_accept},
		{"close", sock_close},
		{NULL, NULL},
	};
	static const luaL_Reg conn[] = {
		{"receive", conn_receive},
		{"send", conn_send},
		{"close", sock_close},
		{NULL, NULL},
	};
	static const luaL_Reg lib[] = {
		{"listen", net_listen},
		{NULL, NULL},
	};

	new_class(L, LISTENER_MT, listener);
	new_class(L, CONN_MT, conn);
	luaL_newlib(L, lib);
	return 1;
}
