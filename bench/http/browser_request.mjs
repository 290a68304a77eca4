// A browser-like GET (Chrome's fields: 10 of them, a cookie among them),
// shared by the parser bench, the in-process server bench and run.mjs (which
// runs on any Node, so this is JavaScript).

/**
 * The head of a browser's GET of `target` from `host` (host:port), as text.
 *
 * @param {string} target
 * @param {string} host
 * @returns {string}
 */
export function browserGet(target, host) {
  return `GET ${target} HTTP/1.1\r\n` +
    `Host: ${host}\r\n` +
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36\r\n" +
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n" +
    "Accept-Language: en-US,en;q=0.9\r\n" +
    "Accept-Encoding: gzip, deflate, br\r\n" +
    "Connection: keep-alive\r\n" +
    "Cache-Control: no-cache\r\n" +
    `Referer: http://${host}/\r\n` +
    "Cookie: session=abc123; theme=dark\r\n" +
    "Upgrade-Insecure-Requests: 1\r\n" +
    "\r\n";
}
