package gateway

// Plain HTTP transport shared by every route: panics, raw queries, bodies
// announced too large.

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"unicode/utf8"
)

// RecoverHTTP turns a panic in a plain HTTP handler into a 500 for that
// one request, logged with its stack (rpc.RecoverInterceptor for RPCs).
func RecoverHTTP(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(v)
				}
				log.ErrorContext(r.Context(), "panic in HTTP handler", "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// URIQuery escapes, in the request's raw query, each byte that RFC 3986
// does not allow in a query (controls, space, "<>\^`{|} and non-ASCII).
// The router echoes the raw query into the Location of the redirects it
// makes on its own (/c/x/. to /c/x, /baton.v1.ClickService to .../), and a
// Location must be a valid URI. Escaping does not change what the query
// means: each handler reads the decoded values, which stay the same.
func URIQuery(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.URL.RawQuery = escapeQuery(r.URL.RawQuery)
		next.ServeHTTP(w, r)
	})
}

// queryByte marks the ASCII bytes RFC 3986 allows in a query, plus "%"
// (left alone, so that escapes already there keep their meaning).
var queryByte = func() (ok [utf8.RuneSelf]bool) {
	for c := range ok {
		ok[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("-._~!$&'()*+,;=:@/?%", byte(c)) >= 0
	}
	return ok
}()

// escapeQuery percent-encodes the bytes of q that queryByte does not allow.
// It returns q itself, without allocating, when there are none.
func escapeQuery(q string) string {
	i := 0
	for i < len(q) && q[i] < utf8.RuneSelf && queryByte[q[i]] {
		i++
	}
	if i == len(q) {
		return q
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(q) + 16)
	b.WriteString(q[:i])
	for ; i < len(q); i++ {
		if c := q[i]; c < utf8.RuneSelf && queryByte[c] {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// AnnouncedLimit answers at once when a request announces a body
// (Content-Length) over limit, on every route, instead of reading what
// comes until a timeout: 413, with a Connect error body for Connect
// requests; gRPC and gRPC-Web, whose status travels in headers, get
// resource_exhausted in a trailers-only answer. 5 bytes more are allowed
// for the gRPC envelope around a message of limit bytes.
func AnnouncedLimit(limit int64, next http.Handler) http.Handler {
	const msg = "request body too large"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength <= limit+5 {
			next.ServeHTTP(w, r)
			return
		}
		if r.ProtoMajor == 1 {
			w.Header().Set("Connection", "close")
		}
		ct := r.Header.Get("Content-Type")
		switch {
		case strings.HasPrefix(ct, "application/grpc"):
			w.Header().Set("Content-Type", ct)
			w.Header().Set("Grpc-Status", "8") // RESOURCE_EXHAUSTED
			w.Header().Set("Grpc-Message", msg)
			w.WriteHeader(http.StatusOK)
		case strings.HasPrefix(r.URL.Path, "/baton.v1.") || strings.HasPrefix(r.URL.Path, "/grpc."): // Connect
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			_, _ = io.WriteString(w, `{"code":"resource_exhausted","message":"`+msg+`"}`)
		case r.URL.Path == "/tracking/tracking_post.php":
			// FC2's server POST answers one line: OK, or ERROR: why.
			http.Error(w, "ERROR: "+msg, http.StatusRequestEntityTooLarge)
		default:
			http.Error(w, "413 "+msg, http.StatusRequestEntityTooLarge)
		}
	})
}
