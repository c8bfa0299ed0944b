package app

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"
	"unicode/utf8"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// recoverInterceptor turns a panic in a handler into an internal error for
// that one request, logged with its stack, so one bad request cannot take
// the server down.
func recoverInterceptor(log *slog.Logger) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (resp connect.AnyResponse, err error) {
			defer func() {
				if r := recover(); r != nil {
					log.ErrorContext(ctx, "panic in handler", "procedure", req.Spec().Procedure, "panic", r, "stack", string(debug.Stack()))
					resp, err = nil, connect.NewError(connect.CodeInternal, errors.New("internal error"))
				}
			}()
			return next(ctx, req)
		}
	}
}

// timeoutInterceptor bounds each RPC's work, whatever deadline the client
// asked for.
func timeoutInterceptor(d time.Duration) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			ctx, cancel := context.WithTimeout(ctx, d)
			defer cancel()
			return next(ctx, req)
		}
	}
}

// recoverHTTP is recoverInterceptor for plain HTTP routes.
func recoverHTTP(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.ErrorContext(r.Context(), "panic in HTTP handler", "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// maxJSONDepth bounds how deeply a JSON request message may nest. Connect's
// JSON codec skips unknown fields (so that older servers accept newer
// clients), which means a message nested thousands deep inside an unknown
// field was parsed and accepted; no Baton message nests past a handful.
const maxJSONDepth = 64

// depthLimitedJSON is Connect's JSON codec (protojson, unknown fields
// discarded) with one more check: a message nested deeper than maxJSONDepth
// is refused, as invalid_argument. Being the codec, it sees every JSON
// message after framing and decompression, whatever the protocol: Connect,
// gRPC or gRPC-Web, gzipped or not. Registered under both names Connect
// uses for JSON.
type depthLimitedJSON struct{ name string }

func jsonCodecs() []connect.HandlerOption {
	return []connect.HandlerOption{connect.WithCodec(depthLimitedJSON{"json"}), connect.WithCodec(depthLimitedJSON{"json; charset=utf-8"})}
}

func (c depthLimitedJSON) Name() string { return c.name }

func (depthLimitedJSON) IsBinary() bool { return false }

func (c depthLimitedJSON) Marshal(m any) ([]byte, error) { return c.MarshalAppend(nil, m) }

func (depthLimitedJSON) MarshalAppend(dst []byte, m any) ([]byte, error) {
	pm, ok := m.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("%T is not a protobuf message", m)
	}
	return protojson.MarshalOptions{}.MarshalAppend(dst, pm)
}

func (depthLimitedJSON) Unmarshal(b []byte, m any) error {
	pm, ok := m.(proto.Message)
	if !ok {
		return fmt.Errorf("%T is not a protobuf message", m)
	}
	if len(b) == 0 {
		return errors.New("zero-length payload is not a valid JSON object")
	}
	if jsonDepth(b) > maxJSONDepth {
		return fmt.Errorf("the JSON message nests deeper than %d levels", maxJSONDepth)
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, pm); err != nil {
		return fmt.Errorf("unmarshal into %T: %w", m, err)
	}
	return nil
}

// jsonDepth returns the deepest nesting of objects and arrays in b,
// ignoring brackets inside strings. It does not validate b.
func jsonDepth(b []byte) int {
	depth, deepest, inString, escaped := 0, 0, false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

// uriQuery escapes, in the request's raw query, each byte that RFC 3986
// does not allow in a query (controls, space, "<>\^`{|} and non-ASCII).
// The router echoes the raw query into the Location of the redirects it
// makes on its own (/c/x/. to /c/x, /baton.v1.ClickService to .../), and a
// Location must be a valid URI. Escaping does not change what the query
// means: each handler reads the decoded values, which stay the same.
func uriQuery(next http.Handler) http.Handler {
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

// health answers /healthz: ok only while the database answers, 503 with
// the reason otherwise (a process that is up but cannot store a click is
// not healthy).
func health(st interface{ Ping(context.Context) error }) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := st.Ping(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "database unavailable\n")
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	}
}

// errMessageTooLarge is the answer to a compressed message that inflates
// past the limit. It names no sizes: the caller is not authenticated yet
// (messages are read before any interceptor runs) and learns no internals.
var errMessageTooLarge = connect.NewError(connect.CodeResourceExhausted, errors.New("the request message is larger than this server accepts"))

// boundedGzip is a gzip decompressor that stops inflating at limit bytes.
// Connect's own stops reading at the limit but then inflates the rest to
// report the full size, so a 1 MB body that inflates to 1 GiB cost a
// quarter of a second of CPU; this one fails at the first byte past the
// limit, for Connect, gRPC and gRPC-Web alike.
type boundedGzip struct {
	zr    gzip.Reader
	limit int64
	n     int64
}

func (b *boundedGzip) Read(p []byte) (int, error) {
	if b.n >= b.limit {
		// At the limit: the message is fine only if the stream ends here.
		var one [1]byte
		for {
			k, err := b.zr.Read(one[:])
			if k > 0 {
				return 0, errMessageTooLarge
			}
			if err != nil {
				return 0, err
			}
		}
	}
	if rest := b.limit - b.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	k, err := b.zr.Read(p)
	b.n += int64(k)
	return k, err
}

func (b *boundedGzip) Reset(r io.Reader) error {
	b.n = 0
	return b.zr.Reset(r)
}

func (b *boundedGzip) Close() error { return b.zr.Close() }

// boundedCompression registers boundedGzip as the handlers' gzip.
func boundedCompression(limit int64) connect.HandlerOption {
	return connect.WithCompression("gzip",
		func() connect.Decompressor { return &boundedGzip{limit: limit} },
		func() connect.Compressor { return gzip.NewWriter(io.Discard) })
}

// announcedLimit answers at once when a request announces a body
// (Content-Length) over limit, on every route, instead of reading what
// comes until a timeout: 413, with a Connect error body for Connect
// requests; gRPC and gRPC-Web, whose status travels in headers, get
// resource_exhausted in a trailers-only answer. 5 bytes more are allowed
// for the gRPC envelope around a message of limit bytes.
func announcedLimit(limit int64, next http.Handler) http.Handler {
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
