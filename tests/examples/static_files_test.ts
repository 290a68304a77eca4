import { test } from "node:test";
import assert from "node:assert/strict";
import {
  byteRangesBody,
  contentTypeFor,
  directoryListingHtml,
  fileValidators,
  ifRangeHolds,
  parseRanges,
  preconditionStatus,
  resolveUnderRoot,
} from "../../examples/lib/static_files.ts";

test("resolveUnderRoot maps paths under the root and refuses any that climb out of it", () => {
  assert.equal(resolveUnderRoot("/srv/www", "/"), "/srv/www");
  assert.equal(resolveUnderRoot("/srv/www/", "/a/b.txt"), "/srv/www/a/b.txt");
  assert.equal(resolveUnderRoot("/srv/www", "/a/./c/../b.txt"), "/srv/www/a/b.txt");
  assert.equal(resolveUnderRoot("/srv/www", "/a/.."), "/srv/www");
  assert.equal(resolveUnderRoot("/srv/www", "/.."), null);
  assert.equal(resolveUnderRoot("/srv/www", "/a/../../etc/passwd"), null);
  assert.equal(resolveUnderRoot("/srv/www", "/a\\..\\b"), null);
  assert.equal(resolveUnderRoot("/srv/www", "/a\0b"), null);
  assert.equal(resolveUnderRoot("/srv/www", "relative"), null);
});

test("parseRanges handles first-last, open-ended and suffix ranges, clamps the end, and flags unsatisfiable ones", () => {
  assert.deepEqual(parseRanges("bytes=0-9", 100), [{ start: 0, end: 9 }]);
  assert.deepEqual(parseRanges("bytes=90-", 100), [{ start: 90, end: 99 }]);
  assert.deepEqual(parseRanges("bytes=-10", 100), [{ start: 90, end: 99 }]);
  assert.deepEqual(parseRanges("bytes=-500", 100), [{ start: 0, end: 99 }]);
  assert.deepEqual(parseRanges("bytes=50-500", 100), [{ start: 50, end: 99 }]);
  assert.deepEqual(parseRanges("Bytes = 1-2", 100), [{ start: 1, end: 2 }]);
  assert.equal(parseRanges("bytes=100-", 100), "unsatisfiable");
  assert.equal(parseRanges("bytes=-0", 100), "unsatisfiable");
  assert.equal(parseRanges("bytes=0-", 0), "unsatisfiable");
  assert.equal(parseRanges("bytes=5-1", 100), null);
  assert.equal(parseRanges("bytes=", 100), null);
  assert.equal(parseRanges("bytes=-", 100), null);
  assert.equal(parseRanges("items=0-1", 100), null);
});

test("parseRanges keeps several ranges in the order asked, leaves out unsatisfiable ones, and sends the whole file as nginx does", () => {
  assert.deepEqual(parseRanges("bytes=50-59, 0-1,,-5", 100), [{ start: 50, end: 59 }, { start: 0, end: 1 }, {
    start: 95,
    end: 99,
  }]);
  assert.deepEqual(parseRanges("bytes=0-1,200-300", 100), [{ start: 0, end: 1 }]);
  assert.equal(parseRanges("bytes=100-,200-300", 100), "unsatisfiable");
  // Overlapping ranges within the size are kept; past it (or repeated) the whole file goes.
  assert.deepEqual(parseRanges("bytes=0-49,25-74", 100), [{ start: 0, end: 49 }, { start: 25, end: 74 }]);
  assert.equal(parseRanges("bytes=0-59,40-99", 100), null);
  assert.equal(parseRanges("bytes=0-,0-", 100), null);
  // Any malformed range, or more than maxRanges, and the header is ignored.
  assert.equal(parseRanges("bytes=0-1,a-2", 100), null);
  assert.equal(parseRanges("bytes=0-0,1-1,2-2", 100, 2), null);
  assert.deepEqual(parseRanges("bytes=0-0,1-1", 100, 2), [{ start: 0, end: 0 }, { start: 1, end: 1 }]);
});

test("byteRangesBody frames each range with its delimiter, Content-Type and Content-Range, and counts the whole length", () => {
  const body = byteRangesBody([{ start: 0, end: 2 }, { start: 8, end: 9 }], 10, "text/plain", "B");
  assert.deepEqual(body.heads, [
    "--B\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-2/10\r\n\r\n",
    "\r\n--B\r\nContent-Type: text/plain\r\nContent-Range: bytes 8-9/10\r\n\r\n",
  ]);
  assert.equal(body.tail, "\r\n--B--\r\n");
  const whole = body.heads[0] + "012" + body.heads[1] + "89" + body.tail;
  assert.equal(body.length, whole.length);
});

test("fileValidators gives a strong ETag of the time and size, and Last-Modified in whole seconds", () => {
  const v = fileValidators(20, Date.UTC(2020, 0, 2, 3, 4, 5, 678));
  assert.equal(v.etag, `"${Date.UTC(2020, 0, 2, 3, 4, 5, 678).toString(16)}-14"`);
  assert.equal(v.lastModified, "Thu, 02 Jan 2020 03:04:05 GMT");
  assert.equal(v.modifiedSeconds, Date.UTC(2020, 0, 2, 3, 4, 5) / 1000);
});

test("preconditionStatus follows RFC 9110's order: If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since", () => {
  const v = fileValidators(20, Date.UTC(2020, 0, 2, 3, 4, 5));
  const status = (headers: Record<string, string>): number => preconditionStatus((n) => headers[n] ?? null, v);
  const date = v.lastModified;
  const before = "Thu, 02 Jan 2020 03:04:04 GMT";
  assert.equal(status({}), 200);
  assert.equal(status({ "If-None-Match": v.etag }), 304);
  assert.equal(status({ "If-None-Match": `W/${v.etag}` }), 304);
  assert.equal(status({ "If-None-Match": `"a,b", ${v.etag}` }), 304);
  assert.equal(status({ "If-None-Match": '"a,b"' }), 200);
  assert.equal(status({ "If-None-Match": "*" }), 304);
  assert.equal(status({ "If-Modified-Since": date }), 304);
  assert.equal(status({ "If-Modified-Since": before }), 200);
  assert.equal(status({ "If-Modified-Since": "not a date" }), 200);
  assert.equal(status({ "If-None-Match": '"x"', "If-Modified-Since": date }), 200);
  assert.equal(status({ "If-Match": '"x"' }), 412);
  assert.equal(status({ "If-Match": `W/${v.etag}` }), 412, "If-Match compares strongly");
  assert.equal(status({ "If-Match": v.etag, "If-None-Match": v.etag }), 304);
  assert.equal(status({ "If-Match": "*" }), 200);
  assert.equal(status({ "If-Unmodified-Since": before }), 412);
  assert.equal(status({ "If-Unmodified-Since": date }), 200);
  assert.equal(status({ "If-Match": v.etag, "If-Unmodified-Since": before }), 200, "If-Match decides alone");
});

test("ifRangeHolds: a strong tag that is the current one, or the Last-Modified date exactly", () => {
  const v = fileValidators(20, Date.UTC(2020, 0, 2, 3, 4, 5));
  assert.equal(ifRangeHolds(null, v), true);
  assert.equal(ifRangeHolds(v.etag, v), true);
  assert.equal(ifRangeHolds(`W/${v.etag}`, v), false);
  assert.equal(ifRangeHolds('"other"', v), false);
  assert.equal(ifRangeHolds(v.lastModified, v), true);
  assert.equal(ifRangeHolds("Thu, 02 Jan 2020 03:04:06 GMT", v), false);
  assert.equal(ifRangeHolds("garbage", v), false);
});

test("contentTypeFor picks the type by extension, case-insensitively, with a binary default", () => {
  assert.equal(contentTypeFor("index.HTML"), "text/html; charset=utf-8");
  assert.equal(contentTypeFor("a/b.png"), "image/png");
  assert.equal(contentTypeFor("dir.v1/README"), "application/octet-stream");
  assert.equal(contentTypeFor("blob"), "application/octet-stream");
});

test("directoryListingHtml links each entry, marks directories, and escapes names", () => {
  const html = directoryListingHtml("/docs", [
    { name: "b.txt", isDirectory: false },
    { name: "<a>", isDirectory: true },
  ]);
  assert.match(html, /<title>\/docs\/<\/title>/);
  assert.match(html, /<a href="\.\.\/">\.\.\/<\/a>/);
  assert.match(html, /<a href="\/docs\/%3Ca%3E\/">&lt;a&gt;\/<\/a>/);
  assert.ok(html.indexOf("&lt;a&gt;") < html.indexOf("b.txt"), "sorted by name");
});
