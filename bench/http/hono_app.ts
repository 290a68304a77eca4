// The Hono app of the HTTP benches: the one wrk hits at /hello answers
// `Hello, World!` as text/plain, beside a few routes a small real app has
// (a path parameter, JSON, middleware that sets a header on every reply),
// so the router and context are those of a real app, not a single handler.
import { Hono } from "hono";

/** The app, served by hono_server.ts (levent's serve()) and hono_native_server.ts (the runtime's own server). */
export const app: Hono = new Hono()
  .use(async (c, next) => {
    await next();
    c.header("x-powered-by", "hono");
  })
  .get("/hello", (c) => c.text("Hello, World!"))
  .get("/user/:id", (c) => c.json({ id: c.req.param("id"), agent: c.req.header("user-agent") ?? null }))
  .post("/echo", async (c) => c.json(await c.req.json()));
