// Package httpcache is lb's HTTP response cache, HAProxy's "cache"
// section: responses that "http-response cache-store" keeps, and that
// "http-request cache-use" serves again without asking a server, held
// in a shctx.Cache cut in 1 KiB blocks.
//
// It follows HAProxy 2.6's rules rather than a reading of RFC 9111 of
// its own, so that a configuration behaves under lb as under haproxy:
//
//   - The key is the SHA-1 of "https://", the request's authority and
//     its path with the query.
//   - Only GET and HEAD requests over HTTP/1.1 or HTTP/2 are looked up;
//     a request with Authorization, or whose Cache-Control says
//     no-cache, max-age, max-stale or min-fresh (or whose Pragma says
//     no-cache without Cache-Control), is neither served nor stored.
//   - Only a 200 answer to a GET is kept, when nothing in the request or
//     the response forbids it (Cache-Control private, no-cache,
//     no-store, max-age=0, s-maxage=0; Pragma no-cache) and the response
//     says how long it stays fresh (max-age, s-maxage, Expires) or how to
//     validate it (ETag, Last-Modified). It is kept for the shortest of
//     s-maxage, max-age, Expires and the section's max-age.
//   - A response whose head and body pass max-object-size is not kept.
//   - A response with a Vary header is kept only under "process-vary
//     on", and only when it varies on Accept-Encoding and Referer alone;
//     the variants of one URL, up to max-secondary-entries, are told
//     apart by the encodings the client accepts and the Referer.
//   - An Age the server sent is taken out of the stored head and added
//     to the age served; a response older than its max-age is not kept.
//   - A hit gets an Age field; a conditional request (If-None-Match,
//     else If-Modified-Since) that matches gets 304 Not Modified.
//   - A successful answer to an unsafe method (POST, PUT, DELETE...)
//     drops the entry of its URL.
package httpcache
