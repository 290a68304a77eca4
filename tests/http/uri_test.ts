import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeUri, encodeUri, htmlEscape, HttpError, HttpUri, parseQuery } from "../../src/http/mod.ts";
import { prng } from "../util.ts";

// ------------------------------------------------------------- helpers

/** The parts of a URI, as plain data to compare. */
interface Parts {
  scheme: string | null;
  userinfo: string | null;
  host: string | null;
  port: number;
  path: string;
  query: string | null;
  fragment: string | null;
}

const NONE: Parts = { scheme: null, userinfo: null, host: null, port: -1, path: "", query: null, fragment: null };

function partsOf(uri: HttpUri): Parts {
  const { scheme, userinfo, host, port, path, query, fragment } = uri;
  return { scheme, userinfo, host, port, path, query, fragment };
}

/** Whether `fn` throws an HttpError ERR_BAD_URI with status 400. */
function isBadUri(err: unknown): boolean {
  return err instanceof HttpError && err.code === "ERR_BAD_URI" && err.status === 400;
}

function assertBadUri(fn: () => unknown, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isBadUri(err), `expected ERR_BAD_URI, got ${String(err)}`);
    if (message !== undefined) assert.match((err as Error).message, message);
    return true;
  });
}

// libevent's regress_http.c http_parse_uri_test, as [input, parts, joined].
const VALID: [string, Partial<Parts>, string?][] = [
  ["http://www.test.com/?q=t%33est", { scheme: "http", host: "www.test.com", path: "/", query: "q=t%33est" }],
  ["http://%77ww.test.com", { scheme: "http", host: "%77ww.test.com" }],
  ["http://www.test.com?q=test", { scheme: "http", host: "www.test.com", query: "q=test" }],
  ["http://www.test.com#fragment", { scheme: "http", host: "www.test.com", fragment: "fragment" }],
  ["http://8000/", { scheme: "http", host: "8000", path: "/" }],
  ["http://:8000/", { scheme: "http", host: "", port: 8000, path: "/" }],
  ["http://www.test.com:/", { scheme: "http", host: "www.test.com", path: "/" }, "http://www.test.com/"],
  ["http://www.test.com:", { scheme: "http", host: "www.test.com" }, "http://www.test.com"],
  ["ftp://www.test.com/?q=test", { scheme: "ftp", host: "www.test.com", path: "/", query: "q=test" }],
  ["ftp://[::1]:999/?q=test", { scheme: "ftp", host: "[::1]", port: 999, path: "/", query: "q=test" }],
  ["ftp://[ff00::127.0.0.1]/?q=test", { scheme: "ftp", host: "[ff00::127.0.0.1]", path: "/", query: "q=test" }],
  [
    "ftp://[v99.not_(any:time)_soon]/?q=test",
    { scheme: "ftp", host: "[v99.not_(any:time)_soon]", path: "/", query: "q=test" },
  ],
  [
    "scheme://user:pass@foo.com:42/?q=test&s=some+thing#fragment",
    {
      scheme: "scheme",
      userinfo: "user:pass",
      host: "foo.com",
      port: 42,
      path: "/",
      query: "q=test&s=some+thing",
      fragment: "fragment",
    },
  ],
  ["scheme://user@foo.com/#fragment", {
    scheme: "scheme",
    userinfo: "user",
    host: "foo.com",
    path: "/",
    fragment: "fragment",
  }],
  [
    "scheme://%75ser@foo.com/#frag@ment",
    { scheme: "scheme", userinfo: "%75ser", host: "foo.com", path: "/", fragment: "frag@ment" },
  ],
  ["file:///some/path/to/the/file", { scheme: "file", host: "", path: "/some/path/to/the/file" }],
  ["///some/path/to/the-file", { host: "", path: "/some/path/to/the-file" }],
  ["/s:ome/path/to/the-file?q=99#fred", { path: "/s:ome/path/to/the-file", query: "q=99", fragment: "fred" }],
  ["relative/path/with/co:lon", { path: "relative/path/with/co:lon" }],
  ["bob?q=99&q2=q?33#fr?ed", { path: "bob", query: "q=99&q2=q?33", fragment: "fr?ed" }],
  ["#fr?ed", { fragment: "fr?ed" }],
  ["mailto:foo@bar", { scheme: "mailto", path: "foo@bar" }],
];

// Rejected with and without NONCONFORMANT (libevent's BAD list, and more).
const BAD: string[] = [
  "http://www.\x01.test.com/why-hello",
  "http://www.%7test.com/why-hello",
  "h%3ttp://www.test.com/why-hello",
  "99:99/foo",
  "http://www.test.com:999x/",
  "http://www.test.com:x/",
  "http://[hello-there]/",
  "http://[::1]]/",
  "http://[::1/",
  "http://[foob/",
  "http://[/",
  "http://[ffff:ffff:ffff:ffff:Ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]/",
  "http://[vX.foo]/",
  "http://[v.foo]/",
  "http://[v5.fo%o]/",
  "http://[v5X]/",
  "http://[v5]/",
  "http://[v5.]/",
  "http://[]/",
  "http://[1.2.3.4]/",
  "http://[::1%25eth0]/",
  "http://f\x01red@www.example.com/",
  "http://f%0red@www.example.com/",
  "http://www.example.com:9999999999999999999999999999999999999/",
  "http://www.example.com:65536/",
  "http://www.example.com:hihi/",
  "://www.example.com/",
  "http://a@b@c/",
  "http://ex ample.com/",
  "http://exämple.com/",
];

// Rejected strictly, accepted with NONCONFORMANT (libevent's NCF list, and more).
const NONCONFORMANT: [string, Partial<Parts>][] = [
  ["http://www.test.com/ why hello", { path: "/ why hello" }],
  ["http://www.test.com/why-hello\x01", { path: "/why-hello\x01" }],
  ["http://www.test.com/why-hello?\x01", { path: "/why-hello", query: "\x01" }],
  ["http://www.test.com/why-hello#\x01", { path: "/why-hello", fragment: "\x01" }],
  ["http://www.test.com/why-hell%7o", { path: "/why-hell%7o" }],
  ["http://www.test.com/why-hello%7", { path: "/why-hello%7" }],
  ["http://www.test.com/foo?ba%r", { path: "/foo", query: "ba%r" }],
  ["http://www.test.com/foo#ba%r", { path: "/foo", fragment: "ba%r" }],
  ["http://www.test.com/foo#a#b", { path: "/foo", fragment: "a#b" }],
  ["http://www.test.com/é?q=ü", { path: "/é", query: "q=ü" }],
  ["/a|b/{c}?x=[1]^", { path: "/a|b/{c}", query: "x=[1]^" }],
];

// ------------------------------------------------------------- parsing

test("parse splits libevent's URI test vectors into their parts and join gives them back", () => {
  for (const [input, expected, joined] of VALID) {
    const uri = HttpUri.parse(input);
    assert.deepEqual(partsOf(uri), { ...NONE, ...expected }, input);
    assert.equal(uri.join(), joined ?? input, input);
    assert.equal(String(uri), joined ?? input, input);
    // NONCONFORMANT parses conformant URIs the same way.
    assert.deepEqual(partsOf(HttpUri.parse(input, { nonconformant: true })), { ...NONE, ...expected }, input);
  }
});

test("an origin-form request target gives a path and a query, with nothing decoded", () => {
  assert.deepEqual(partsOf(HttpUri.parse("/a%20b/c?x=1")), { ...NONE, path: "/a%20b/c", query: "x=1" });
  assert.deepEqual(partsOf(HttpUri.parse("/")), { ...NONE, path: "/" });
  assert.deepEqual(partsOf(HttpUri.parse("/?")), { ...NONE, path: "/", query: "" });
  assert.deepEqual(partsOf(HttpUri.parse("/p?a=1&b=%2F?c#")), {
    ...NONE,
    path: "/p",
    query: "a=1&b=%2F?c",
    fragment: "",
  });
  assert.deepEqual(partsOf(HttpUri.parse("/a:b@c;d=e,f!$'()*+~._-")), { ...NONE, path: "/a:b@c;d=e,f!$'()*+~._-" });
});

test("an absolute-form request target gives its scheme, host and port as well", () => {
  assert.deepEqual(partsOf(HttpUri.parse("http://example.com:8080/index.html?x=y")), {
    ...NONE,
    scheme: "http",
    host: "example.com",
    port: 8080,
    path: "/index.html",
    query: "x=y",
  });
});

test("the asterisk-form and the empty string parse as paths", () => {
  assert.deepEqual(partsOf(HttpUri.parse("*")), { ...NONE, path: "*" });
  assert.deepEqual(partsOf(HttpUri.parse("")), NONE);
  assert.deepEqual(partsOf(HttpUri.parse("?")), { ...NONE, query: "" });
  assert.deepEqual(partsOf(HttpUri.parse("#")), { ...NONE, fragment: "" });
});

test("the scheme and host keep their case and hex digits of %XX may be either case", () => {
  const uri = HttpUri.parse("HTTP://Example.COM/%7e%7E");
  assert.equal(uri.scheme, "HTTP");
  assert.equal(uri.host, "Example.COM");
  assert.equal(uri.path, "/%7e%7E");
});

test("a scheme is a letter then letters, digits, +, - or . before the first colon", () => {
  assert.equal(HttpUri.parse("svn+ssh://h/").scheme, "svn+ssh");
  assert.equal(HttpUri.parse("a.b-c:x").scheme, "a.b-c");
  // "host:port" reads as a scheme and a path, as RFC 3986 says.
  assert.deepEqual(partsOf(HttpUri.parse("example.com:443")), { ...NONE, scheme: "example.com", path: "443" });
  // No valid scheme before the colon: a relative path whose first segment holds ":" is rejected.
  assertBadUri(() => HttpUri.parse("1a:b"), /first path segment.*index 2/);
  assertBadUri(() => HttpUri.parse("a_b:c"));
  // A colon after the first "/" is fine.
  assert.equal(HttpUri.parse("a/b:c").path, "a/b:c");
});

test("libevent's bad URIs are rejected with ERR_BAD_URI (400), with and without NONCONFORMANT", () => {
  for (const input of BAD) {
    assertBadUri(() => HttpUri.parse(input));
    assertBadUri(() => HttpUri.parse(input, { nonconformant: true }));
  }
});

test("libevent's nonconformant URIs are rejected strictly and parsed with NONCONFORMANT", () => {
  for (const [input, expected] of NONCONFORMANT) {
    assertBadUri(() => HttpUri.parse(input));
    const uri = HttpUri.parse(input, { nonconformant: true });
    assert.equal(uri.nonconformant, true);
    assert.deepEqual(partsOf(uri), { ...NONE, scheme: uri.scheme, host: uri.host, ...expected }, input);
    assert.equal(uri.join(), input, input);
  }
});

test("errors name the part and the index of the offending character", () => {
  assertBadUri(() => HttpUri.parse("/a b"), /the path holds a space at index 2/);
  assertBadUri(() => HttpUri.parse("/a?b c"), /the query holds a space at index 4/);
  assertBadUri(() => HttpUri.parse("/a#b#c"), /the fragment holds "#" at index 4/);
  assertBadUri(() => HttpUri.parse("/a%2"), /the path holds a "%" not followed by two hex digits at index 2/);
  assertBadUri(() => HttpUri.parse("/\x7f"), /U\+007F at index 1/);
  assertBadUri(() => HttpUri.parse("/😀"), /U\+1F600 at index 1/);
  assertBadUri(() => HttpUri.parse("http://a<b/"), /the host holds "<" at index 8/);
  assertBadUri(() => HttpUri.parse('http://u"@h/'), /the userinfo holds "\\"" at index 8/);
  assertBadUri(() => HttpUri.parse("http://h:70000/"), /port at index 9 is over 65535/);
  assertBadUri(() => HttpUri.parse("http://[::g]/"), /host at index 7 is in brackets/);
});

test("NONCONFORMANT still ends a path at ? or # and a query at #, and keeps the authority strict", () => {
  const nc = { nonconformant: true };
  assert.deepEqual(partsOf(HttpUri.parse("/a b?c d#e f#g", nc)), {
    ...NONE,
    path: "/a b",
    query: "c d",
    fragment: "e f#g",
  });
  assertBadUri(() => HttpUri.parse("http://a b/", nc));
  assertBadUri(() => HttpUri.parse("http://u u@h/", nc));
  assertBadUri(() => HttpUri.parse("http://h:8x/", nc));
  // Without a scheme, a colon in the first segment is still ambiguous.
  assertBadUri(() => HttpUri.parse("1 a:b", nc));
});

test("ports run from 0 to 65535, and an empty port is no port", () => {
  assert.equal(HttpUri.parse("http://h:0/").port, 0);
  assert.equal(HttpUri.parse("http://h:65535/").port, 65535);
  assert.equal(HttpUri.parse("http://h:00080/").port, 80);
  assert.equal(HttpUri.parse("http://h:/").port, -1);
  assert.equal(HttpUri.parse("http://u:p@h/").port, -1);
  assert.equal(HttpUri.parse("http://u:1@h/").userinfo, "u:1");
  assertBadUri(() => HttpUri.parse("http://h:65536/"));
  assertBadUri(() => HttpUri.parse("http://h:1:2/"));
  assertBadUri(() => HttpUri.parse("http://h:-1/"));
  assertBadUri(() => HttpUri.parse("http://h:+1/"));
});

test("IPv6 literals follow inet_pton's grammar", () => {
  const good = [
    "::",
    "::1",
    "1::",
    "1:2:3:4:5:6:7:8",
    "1:2:3:4:5:6:7::",
    "::2:3:4:5:6:7:8",
    "1::8",
    "fe80::1:2",
    "FFFF:ffff::",
    "::ffff:192.168.0.1",
    "1:2:3:4:5:6:1.2.3.4",
    "::1.2.3.4",
    "0000:0000:0000:0000:0000:0000:0000:0001",
  ];
  const bad = [
    "",
    ":",
    ":::",
    "1",
    "1:2",
    ":1::",
    "1:::2",
    "1::2::3",
    "1:2:3:4:5:6:7:8:9",
    "1::2:3:4:5:6:7:8",
    "1:2:3:4:5:6:7",
    "1:2:3:4:5:6:7:",
    "12345::",
    "g::",
    "::1.2.3",
    "::1.2.3.256",
    "::1.2.3.04",
    "::1.2.3.4.5",
    "1:2:3:4:5:6:7:1.2.3.4",
    "1.2.3.4",
    "::1.2.3.4:5",
    "::1 ",
  ];
  for (const address of good) {
    assert.equal(HttpUri.parse(`http://[${address}]:1/`).host, `[${address}]`, address);
    assert.equal(new HttpUri().setHost(`[${address}]`).host, `[${address}]`, address);
  }
  for (const address of bad) {
    assertBadUri(() => HttpUri.parse(`http://[${address}]/`));
    assertBadUri(() => new HttpUri().setHost(`[${address}]`));
  }
});

test("IPvFuture literals need hex digits, a dot and at least one more character", () => {
  assert.equal(HttpUri.parse("http://[v7.wobblewobble]/").host, "[v7.wobblewobble]");
  assert.equal(HttpUri.parse("http://[VaF.a:b!]/").host, "[VaF.a:b!]");
  for (const literal of ["[v.x]", "[v1]", "[v1.]", "[vg.x]", "[v1.a b]", "[v1.a/b]", "[v1.%41]"]) {
    assertBadUri(() => new HttpUri().setHost(literal));
  }
});

test("IPv4 addresses are hosts as reg-names are", () => {
  assert.equal(HttpUri.parse("http://127.0.0.1:80/").host, "127.0.0.1");
  assert.equal(HttpUri.parse("http://999.1.1.1/").host, "999.1.1.1");
});

test("a long origin-form target parses whole and fast paths keep every character", () => {
  const segment = "abcdefghijklmnopqrstuvwxyz0123456789-._~%20";
  const path = "/" + Array.from({ length: 200 }, () => segment).join("/");
  const uri = HttpUri.parse(path + "?" + "k=v&".repeat(500));
  assert.equal(uri.path, path);
  assert.equal(uri.query, "k=v&".repeat(500));
});

// ------------------------------------------------------------- setters

test("the setters accept libevent's valid values", () => {
  const uri = new HttpUri();
  assert.deepEqual(partsOf(uri), NONE);
  assert.equal(uri.nonconformant, false);
  assert.equal(uri.setScheme("http"), uri);
  uri.setScheme(null);
  uri.setUserinfo("username:pass").setUserinfo("%75ser:!$&'()*+,;=").setUserinfo(null);
  for (const host of ["www.example.com", "1.2.3.4", "[1:2:3:4::]", "[v7.wobblewobble]", "%77ww", ""]) {
    uri.setHost(host);
    assert.equal(uri.host, host);
  }
  uri.setHost(null);
  for (const port of [-1, 0, 80, 65535]) assert.equal(uri.setPort(port).port, port);
  for (const path of ["", "/documents/public/index.html", "a:b@c/%41", "*"]) assert.equal(uri.setPath(path).path, path);
  assert.equal(uri.setPath(null).path, "");
  for (const query of ["key=val&key2=val2", "keyvalblarg", "", "a?b/c", null]) {
    assert.equal(uri.setQuery(query).query, query);
  }
  for (const fragment of ["", "here?i?am", null]) assert.equal(uri.setFragment(fragment).fragment, fragment);
});

test("the setters reject libevent's invalid values with ERR_BAD_URI and leave the part unchanged", () => {
  const uri = HttpUri.parse("http://u@h:1/p?q#f");
  const before = partsOf(uri);
  for (const scheme of ["", "33", "hi!", "a:b", "é"]) assertBadUri(() => uri.setScheme(scheme), /scheme/);
  for (const userinfo of ["hello@", "a b", "%4", "é"]) assertBadUri(() => uri.setUserinfo(userinfo), /userinfo/);
  for (const host of ["[1.2.3.4]", "[", "www.[foo].com", "a:b", "a/b", "a@b", "%7", "é"]) {
    assertBadUri(() => uri.setHost(host), /host/);
  }
  for (const path of ["hello?world", "a#b", "a b", "%zz"]) assertBadUri(() => uri.setPath(path), /path/);
  for (const query of ["hello#world", "a b", "%"]) assertBadUri(() => uri.setQuery(query), /query/);
  for (const fragment of ["hello#world", "a b", "%g0"]) assertBadUri(() => uri.setFragment(fragment), /fragment/);
  assert.deepEqual(partsOf(uri), before);
});

test("setPort takes an integer from -1 to 65535", () => {
  const uri = new HttpUri();
  for (const port of [-3, -2, 65536, 1.5, NaN, Infinity]) assert.throws(() => uri.setPort(port), RangeError);
  assert.throws(() => uri.setPort("80" as unknown as number), { name: "TypeError", message: /port/ });
  assert.equal(uri.port, -1);
});

test("a NONCONFORMANT URI's setters tolerate what its parser tolerates", () => {
  const uri = new HttpUri({ nonconformant: true });
  assert.equal(uri.nonconformant, true);
  assert.equal(uri.setPath("/a b%").path, "/a b%");
  assert.equal(uri.setQuery("x=a b?c").query, "x=a b?c");
  assert.equal(uri.setFragment("a#b c").fragment, "a#b c");
  assertBadUri(() => uri.setPath("/a?b"));
  assertBadUri(() => uri.setPath("/a#b"));
  assertBadUri(() => uri.setQuery("a#b"));
  assertBadUri(() => uri.setHost("a b"));
  // A parsed URI keeps its flag.
  assert.equal(HttpUri.parse("/x", { nonconformant: true }).setPath("/ y").path, "/ y");
  assertBadUri(() => HttpUri.parse("/x").setPath("/ y"));
});

test("setters and parse throw TypeError naming the argument for values of the wrong type", () => {
  const uri = new HttpUri();
  const wrong = 42 as unknown as string;
  assert.throws(() => uri.setScheme(wrong), { name: "TypeError", message: /^scheme must be a string or null/ });
  assert.throws(() => uri.setUserinfo(wrong), { name: "TypeError", message: /^userinfo/ });
  assert.throws(() => uri.setHost(undefined as unknown as string), { name: "TypeError", message: /^host/ });
  assert.throws(() => uri.setPath(wrong), { name: "TypeError", message: /^path/ });
  assert.throws(() => uri.setQuery(wrong), { name: "TypeError", message: /^query/ });
  assert.throws(() => uri.setFragment(wrong), { name: "TypeError", message: /^fragment/ });
  assert.throws(() => HttpUri.parse(null as unknown as string), {
    name: "TypeError",
    message: /^text must be a string/,
  });
  assert.throws(() => HttpUri.parse("/", "x" as unknown as { nonconformant: boolean }), {
    name: "TypeError",
    message: /^options must be an object/,
  });
  assert.throws(() => HttpUri.parse("/", { nonconformant: 1 as unknown as boolean }), {
    name: "TypeError",
    message: /^options\.nonconformant must be a boolean/,
  });
  assert.throws(() => new HttpUri(null as unknown as { nonconformant: boolean }), TypeError);
});

// ------------------------------------------------------------- join

test("join puts scheme, userinfo, host, port, path, query and fragment together", () => {
  const uri = new HttpUri()
    .setScheme("https")
    .setUserinfo("me:pw")
    .setHost("example.com")
    .setPort(8443)
    .setPath("/a/b")
    .setQuery("x=1")
    .setFragment("top");
  assert.equal(uri.join(), "https://me:pw@example.com:8443/a/b?x=1#top");
  assert.equal(`${uri}`, "https://me:pw@example.com:8443/a/b?x=1#top");
  assert.equal(new HttpUri().join(), "");
  assert.equal(new HttpUri().setHost("").setPath("/x").join(), "///x");
  assert.equal(new HttpUri().setScheme("mailto").setPath("a@b").join(), "mailto:a@b");
  assert.equal(new HttpUri().setQuery("").setFragment("").join(), "?#");
});

test("join leaves out userinfo and port when there is no host, as libevent does", () => {
  assert.equal(new HttpUri().setUserinfo("u").setPort(80).setPath("/p").join(), "/p");
});

test("join throws rather than write a string that would parse back as other parts", () => {
  // libevent's own check: a host and a path not starting with "/".
  assertBadUri(() => new HttpUri().setHost("www.example.com").setPath("hi_mom").join(), /path/);
  // No host and a path starting with "//" would read as an authority.
  assertBadUri(() => new HttpUri().setPath("//evil.com/x").join(), /"\/\/"/);
  assertBadUri(() => new HttpUri().setScheme("http").setPath("//x").join());
  // No scheme, no host, and a colon in the first segment would read as a scheme.
  assertBadUri(() => new HttpUri().setPath("a:b/c").join(), /":"/);
  assert.equal(new HttpUri().setScheme("x").setPath("a:b").join(), "x:a:b");
  assert.equal(new HttpUri().setPath("a/b:c").join(), "a/b:c");
});

test("fields assigned directly are joined as they are", () => {
  const uri = HttpUri.parse("http://h/p");
  uri.host = "example.org";
  uri.port = 81;
  uri.query = "q";
  assert.equal(uri.join(), "http://example.org:81/p?q");
});

test("parse and join round-trip random URIs built from valid parts", () => {
  const rnd = prng(0x5eed);
  const pick = <T>(items: readonly T[]): T => items[rnd(items.length)];
  const pchars = "abcXYZ019-._~!$&'()*+,;=:@";
  const word = (extra: string): string => {
    let out = "";
    for (let k = rnd(6); k > 0; k--) {
      out += rnd(5) === 0 ? pick(["%20", "%2F", "%e9", "%C3%A9"]) : pick([...pchars + extra]);
    }
    return out;
  };
  for (let n = 0; n < 2000; n++) {
    const uri = new HttpUri();
    if (rnd(3) > 0) uri.setScheme(pick(["http", "https", "ws", "svn+ssh", "a.b-c"]));
    if (rnd(3) > 0) {
      uri.setHost(pick(["example.com", "", "127.0.0.1", "[::1]", "[v1.x:y]", "%41b", "a!$&'()*+,;="]));
      if (rnd(2) === 0) uri.setUserinfo(word("").replace(/@/g, ""));
      if (rnd(2) === 0) uri.setPort(rnd(65536));
    }
    let path = "";
    for (let k = rnd(4); k > 0; k--) path += "/" + word("");
    if (uri.host === null && path === "" && rnd(2) === 0) path = word("").replace(/:/g, "");
    if (uri.host === null) path = path.replace(/^\/\/+/, "/");
    if (uri.scheme === null && uri.host === null && /^[^/]*:/.test(path)) path = "/" + path;
    uri.setPath(path);
    if (rnd(2) === 0) uri.setQuery(word("/?"));
    if (rnd(2) === 0) uri.setFragment(word("/?"));
    const joined = uri.join();
    const again = HttpUri.parse(joined);
    assert.deepEqual(partsOf(again), partsOf(uri), joined);
    assert.equal(again.join(), joined);
  }
});

// ------------------------------------------------------------- encodeUri

test("encodeUri keeps unreserved characters and percent-encodes the rest in upper-case hex", () => {
  assert.equal(encodeUri("Hello"), "Hello");
  assert.equal(encodeUri("99"), "99");
  assert.equal(encodeUri(""), "");
  const unreserved = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.~_";
  assert.equal(encodeUri(unreserved), unreserved);
  assert.equal(encodeUri(" "), "%20");
  assert.equal(encodeUri("\x01\x19\x00\x7f"), "%01%19%00%7F");
  assert.equal(encodeUri("http://www.ietf.org/rfc/rfc3986.txt"), "http%3A%2F%2Fwww.ietf.org%2Frfc%2Frfc3986.txt");
  assert.equal(encodeUri("1+2=3"), "1%2B2%3D3");
  assert.equal(encodeUri("!'()*"), "%21%27%28%29%2A");
  assert.equal(encodeUri("hello\0world"), "hello%00world");
});

test("encodeUri with spaceAsPlus writes a space as + and still encodes +", () => {
  assert.equal(encodeUri(" ", { spaceAsPlus: true }), "+");
  assert.equal(encodeUri("a b+c", { spaceAsPlus: true }), "a+b%2Bc");
  assert.equal(encodeUri("1+2=3", { spaceAsPlus: true }), "1%2B2%3D3");
  assert.equal(encodeUri("a b", { spaceAsPlus: false }), "a%20b");
});

test("encodeUri encodes non-ASCII text as UTF-8 bytes and a lone surrogate as U+FFFD", () => {
  assert.equal(encodeUri("é"), "%C3%A9");
  assert.equal(encodeUri("ÿ"), "%C3%BF");
  assert.equal(encodeUri("€"), "%E2%82%AC");
  assert.equal(encodeUri("😀"), "%F0%9F%98%80");
  assert.equal(encodeUri("\uFEFF"), "%EF%BB%BF");
  assert.equal(encodeUri("a\uD800b"), "a%EF%BF%BDb");
  assert.equal(encodeUri("\uDC00"), "%EF%BF%BD");
  assert.equal(encodeUri("\uD83D"), "%EF%BF%BD");
});

test("encodeUri agrees with encodeURIComponent once !'()* are encoded too", () => {
  const rnd = prng(7);
  const alphabet = [..."aZ09-._~ !'()*+/?#&=%:@é€😀\u0000\u007f\u0080\u07ff\u0800\uffff"];
  for (let n = 0; n < 2000; n++) {
    let text = "";
    for (let k = rnd(12); k > 0; k--) text += alphabet[rnd(alphabet.length)];
    const expected = encodeURIComponent(text).replace(
      /[!'()*]/g,
      (ch) => "%" + ch.charCodeAt(0).toString(16).toUpperCase(),
    );
    assert.equal(encodeUri(text), expected, JSON.stringify(text));
    assert.equal(decodeUri(encodeUri(text)), text);
    assert.equal(decodeUri(encodeUri(text, { spaceAsPlus: true }), { plusAsSpace: true }), text);
  }
});

// ------------------------------------------------------------- decodeUri

test("decodeUri turns %XX into bytes read as UTF-8, in either hex case", () => {
  assert.equal(decodeUri("Hello"), "Hello");
  assert.equal(decodeUri(""), "");
  assert.equal(decodeUri("a%20b%2Fc"), "a b/c");
  assert.equal(decodeUri("%c3%a9%C3%A9"), "éé");
  assert.equal(decodeUri("%E2%82%AC and %F0%9F%98%80"), "€ and 😀");
  assert.equal(decodeUri("%00%00x%00%00"), "\0\0x\0\0");
  assert.equal(decodeUri("é%20ü"), "é ü");
});

test("decodeUri keeps + unless plusAsSpace is set", () => {
  assert.equal(decodeUri("plus+should%20work+"), "plus+should work+");
  assert.equal(decodeUri("plus+should%20work+", { plusAsSpace: true }), "plus should work ");
  assert.equal(decodeUri("%2B+", { plusAsSpace: true }), "+ ");
  assert.equal(decodeUri("a+b", { plusAsSpace: false }), "a+b");
});

test("decodeUri leaves invalid percent sequences as they are", () => {
  assert.equal(decodeUri("%%xhello th+ere \xff"), "%%xhello th+ere \xff");
  assert.equal(decodeUri("100%"), "100%");
  assert.equal(decodeUri("%4"), "%4");
  assert.equal(decodeUri("%4g%g4"), "%4g%g4");
  assert.equal(decodeUri("%%41"), "%A");
  assert.equal(decodeUri("%41%"), "A%");
});

test("decodeUri reads bytes that are not UTF-8 as U+FFFD, and a leading BOM as text", () => {
  assert.equal(decodeUri("%FF"), "\uFFFD");
  assert.equal(decodeUri("%f0%a0%b0"), "\uFFFD");
  assert.equal(decodeUri("%C3x%A9"), "\uFFFDx\uFFFD");
  assert.equal(decodeUri("%C3+%A9", { plusAsSpace: true }), "\uFFFD \uFFFD");
  assert.equal(decodeUri("%C0%80"), "\uFFFD\uFFFD");
  assert.equal(decodeUri("%ED%A0%80"), "\uFFFD\uFFFD\uFFFD");
  assert.equal(decodeUri("%EF%BB%BFx"), "\uFEFFx");
});

test("decodeUri with strict throws ERR_BAD_URI for invalid percent sequences and bytes that are not UTF-8", () => {
  const strict = { strict: true };
  assert.equal(decodeUri("a%20b%C3%A9", strict), "a bé");
  assertBadUri(() => decodeUri("100%", strict), /"%" not followed by two hex digits at index 3/);
  assertBadUri(() => decodeUri("%4", strict));
  assertBadUri(() => decodeUri("a%zz", strict), /index 1/);
  assertBadUri(() => decodeUri("ab%FF", strict), /bytes at index 2 are not UTF-8/);
  assertBadUri(() => decodeUri("%C3%A9%C3", strict));
  assertBadUri(() => decodeUri("%C3x%A9", strict));
});

test("decodeUri decodes long runs of encoded bytes", () => {
  const text = "é€😀".repeat(30000);
  const encoded = encodeUri(text);
  assert.equal(decodeUri(encoded), text);
  assert.equal(decodeUri(encoded, { strict: true }), text);
  // A short run after a long one reuses nothing stale.
  assert.equal(decodeUri("%C3%A9"), "é");
});

test("encodeUri and decodeUri throw TypeError naming the argument", () => {
  assert.throws(() => encodeUri(1 as unknown as string), { name: "TypeError", message: /^text must be a string/ });
  assert.throws(() => decodeUri(null as unknown as string), { name: "TypeError", message: /^text must be a string/ });
  assert.throws(() => encodeUri("a", { spaceAsPlus: "yes" as unknown as boolean }), {
    name: "TypeError",
    message: /^options\.spaceAsPlus must be a boolean/,
  });
  assert.throws(() => decodeUri("a", { plusAsSpace: 1 as unknown as boolean }), {
    name: "TypeError",
    message: /^options\.plusAsSpace/,
  });
  assert.throws(() => decodeUri("a", { strict: "no" as unknown as boolean }), {
    name: "TypeError",
    message: /^options\.strict/,
  });
  assert.throws(() => decodeUri("a", 5 as unknown as { strict: boolean }), {
    name: "TypeError",
    message: /^options must be an object/,
  });
});

// ------------------------------------------------------------- parseQuery

test("parseQuery splits on & and the first =, decoding names and values with + as a space", () => {
  assert.deepEqual(parseQuery("q=test"), [["q", "test"]]);
  assert.deepEqual(parseQuery("q=test&foo=bar"), [["q", "test"], ["foo", "bar"]]);
  assert.deepEqual(parseQuery("q=test+foo"), [["q", "test foo"]]);
  assert.deepEqual(parseQuery("q=test%0Afoo&r=test%0Dfoo"), [["q", "test\nfoo"], ["r", "test\rfoo"]]);
  assert.deepEqual(parseQuery("q=&q2=&q3="), [["q", ""], ["q2", ""], ["q3", ""]]);
  assert.deepEqual(parseQuery("a=b=c"), [["a", "b=c"]]);
  assert.deepEqual(parseQuery("my+key=%C3%A9&a%26b=c%3Dd"), [["my key", "é"], ["a&b", "c=d"]]);
  assert.deepEqual(parseQuery("a=1;b=2"), [["a", "1;b=2"]]);
  assert.deepEqual(parseQuery("x=%zz%"), [["x", "%zz%"]]);
});

test("parseQuery keeps repeated names in order, and gives nothing for an empty query", () => {
  assert.deepEqual(parseQuery("q=test&q=test2&r=1&q=3"), [["q", "test"], ["q", "test2"], ["r", "1"], ["q", "3"]]);
  assert.deepEqual(parseQuery(""), []);
  assert.deepEqual(parseQuery("a=1&"), [["a", "1"]]);
});

test("parseQuery rejects a field without =, with an empty name, or empty, with ERR_BAD_URI", () => {
  assertBadUri(() => parseQuery("q=test&&q2"), /empty field at index 7/);
  assertBadUri(() => parseQuery("q&q2=foo"), /field at index 0 has no "="/);
  assertBadUri(() => parseQuery("q=foo&q2"), /field at index 6 has no "="/);
  assertBadUri(() => parseQuery("q=foo&q2&q3=x"), /field at index 6 has no "="/);
  assertBadUri(() => parseQuery("q=test&=1&q2=test2"), /field at index 7 has an empty name/);
  assertBadUri(() => parseQuery("&a=1"), /empty field at index 0/);
  assertBadUri(() => parseQuery("&"));
  assert.throws(() => parseQuery(undefined as unknown as string), {
    name: "TypeError",
    message: /^query must be a string/,
  });
});

test("parseQuery reads the query HttpUri.parse gives", () => {
  const uri = HttpUri.parse("http://www.test.com/?q=test&s=some+thing");
  assert.deepEqual(parseQuery(uri.query ?? ""), [["q", "test"], ["s", "some thing"]]);
});

// ------------------------------------------------------------- htmlEscape

test("htmlEscape replaces & < > \" and ' with their entities", () => {
  assert.equal(
    htmlEscape("<script>alert('x' & \"y\")</script>"),
    "&lt;script&gt;alert(&#039;x&#039; &amp; &quot;y&quot;)&lt;/script&gt;",
  );
  assert.equal(htmlEscape("&amp;"), "&amp;amp;");
  assert.equal(htmlEscape("plain text é"), "plain text é");
  assert.equal(htmlEscape(""), "");
  assert.equal(htmlEscape("<"), "&lt;");
  assert.equal(htmlEscape("a>"), "a&gt;");
  assert.throws(() => htmlEscape(0 as unknown as string), { name: "TypeError", message: /^text must be a string/ });
});
