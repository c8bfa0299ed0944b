package rpc

// The Connect transport: interceptors, the JSON codec and the bounded gzip
// every handler is built with.

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// RecoverInterceptor turns a panic in a handler into an internal error for
// that one request, logged with its stack, so one bad request cannot take
// the server down.
func RecoverInterceptor(log *slog.Logger) connect.UnaryInterceptorFunc {
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

// TimeoutInterceptor bounds each RPC's work, whatever deadline the client
// asked for.
func TimeoutInterceptor(d time.Duration) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			ctx, cancel := context.WithTimeout(ctx, d)
			defer cancel()
			return next(ctx, req)
		}
	}
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
// gRPC or gRPC-Web, gzipped or not. JSONCodecs registers it under both names
// Connect uses for JSON.
type depthLimitedJSON struct{ name string }

func JSONCodecs() []connect.HandlerOption {
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

// BoundedCompression registers boundedGzip as the handlers' gzip.
func BoundedCompression(limit int64) connect.HandlerOption {
	return connect.WithCompression("gzip",
		func() connect.Decompressor { return &boundedGzip{limit: limit} },
		func() connect.Compressor { return gzip.NewWriter(io.Discard) })
}
