package app

import "net/http"

// Request line and header limits. The server reads up to
// maxClickHeaderBytes (a click URL may carry a 100 KB query from a
// tracker that appends everything, and the person must still land; the
// image tags always answer their image); every other route is held to
// maxHeaderBytes.
const (
	maxHeaderBytes      = 64 << 10
	maxClickHeaderBytes = 256 << 10
)

// headerSize is about what the request line and headers took on the wire.
func headerSize(r *http.Request) int {
	n := len(r.Method) + len(r.RequestURI) + len(r.Host) + 16
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

// headerLimit answers 431 to a request whose request line and headers
// exceed maxHeaderBytes, on any route but the click redirect and the tags
// (/c/{link}, /t/c/{id}, the FC2 image tag).
func headerLimit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, click := accessRoute(r.URL.Path); !click && headerSize(r) > maxHeaderBytes {
			if r.ProtoMajor == 1 {
				w.Header().Set("Connection", "close")
			}
			http.Error(w, "431 request header fields too large", http.StatusRequestHeaderFieldsTooLarge)
			return
		}
		next.ServeHTTP(w, r)
	})
}
