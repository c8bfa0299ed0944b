package app_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/batonhq/baton/server/internal/config"
	"github.com/batonhq/baton/server/internal/proof"
)

// gzipBomb is gzip of 1 GiB of zeros (about 1 MB): one member holding 1 MiB
// of zeros, repeated 1,024 times (a gzip stream may hold many members, and
// every reader inflates them all), built once.
var gzipBomb = sync.OnceValue(func() []byte {
	var z bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
	_, _ = zw.Write(make([]byte, 1<<20))
	_ = zw.Close()
	return bytes.Repeat(z.Bytes(), 1<<10)
})

// cpuTime is this process's user+system CPU time so far.
func cpuTime(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestGzipBombs sends, without a key, a 1 MB gzip message that inflates to
// 1 GiB over Connect, gRPC and gRPC-Web. Each must be refused as too large
// without inflating the rest (the answer cannot know the inflated size) and
// without telling an anonymous caller the server's limits.
func TestGzipBombs(t *testing.T) {
	// The limit is above the bomb's compressed size, as in production
	// (1 MiB by default), so that it is the inflated size that counts.
	s := start(t, func(c *config.Config) { c.MaxBodyBytes = 2 << 20 })
	bomb := gzipBomb()
	const createPub = "/baton.v1.ConfigService/CreatePublisher"
	frame := func(flags byte, msg []byte) []byte {
		n := len(msg)
		return append([]byte{flags, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}, msg...)
	}
	cases := []struct {
		name   string
		client *http.Client
		body   []byte
		header map[string]string
	}{
		{"Connect, Content-Encoding gzip", s.client, bomb, map[string]string{"Content-Type": "application/proto", "Content-Encoding": "gzip"}},
		{"Connect JSON, Content-Encoding gzip", s.client, bomb, map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip"}},
		{"gRPC, grpc-encoding gzip", h2cClient(), frame(1, bomb), map[string]string{"Content-Type": "application/grpc", "Grpc-Encoding": "gzip", "Te": "trailers"}},
		{"gRPC-Web, grpc-encoding gzip", s.client, frame(1, bomb), map[string]string{"Content-Type": "application/grpc-web+proto", "Grpc-Encoding": "gzip"}},
	}
	tried, lost := 0, 0
	var cpus []string
	for _, c := range cases {
		tried++
		req, _ := http.NewRequest(http.MethodPost, s.url+createPub, bytes.NewReader(c.body))
		for k, v := range c.header {
			req.Header.Set(k, v)
		}
		before := cpuTime(t)
		res, err := c.client.Do(req)
		if err != nil {
			lost++
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		cpu := cpuTime(t) - before
		cpus = append(cpus, fmt.Sprintf("%s %dms", strings.SplitN(c.name, ",", 2)[0], cpu.Milliseconds()))
		msg, _ := url.PathUnescape(res.Header.Get("Grpc-Message") + res.Trailer.Get("Grpc-Message") + string(b))
		status := res.Header.Get("Grpc-Status") + res.Trailer.Get("Grpc-Status")
		refused := strings.Contains(msg, "resource_exhausted") || status == "8" || bytes.Contains(b, []byte("grpc-status:8")) ||
			res.StatusCode == http.StatusRequestEntityTooLarge
		// The inflated size in the answer means it was all inflated; the
		// limit is an internal an anonymous caller is not told.
		if !refused || strings.Contains(msg, "1073741824") || strings.Contains(msg, "2097152") || strings.Contains(msg, "configured max") {
			lost++
			t.Errorf("%s: %d %v %v %q: want a refusal as too large, without sizes", c.name, res.StatusCode, res.Header, res.Trailer, msg)
		}
	}
	proof.Tally(t, "hostile: gzip bomb 1 MB -> 1 GiB, no key", tried, lost,
		fmt.Sprintf("%d KB inflating to 1 GiB refused without sizes over Connect, gRPC, gRPC-Web; CPU (client+server): %s",
			len(bomb)>>10, strings.Join(cpus, ", ")))
}

// TestAnnouncedBodyOverLimit announces a Content-Length far over the limit
// and sends 8 bytes: the answer is 413 at once, on every entrance, not a
// connection held until the read timeout.
func TestAnnouncedBodyOverLimit(t *testing.T) {
	s := start(t)
	host := strings.TrimPrefix(s.url, "http://")
	paths := []struct{ path, contentType string }{
		{"/tracking/tracking_post.php", "application/x-www-form-urlencoded"},
		{"/postback", "application/x-www-form-urlencoded"},
		{"/baton.v1.ConfigService/CreatePublisher", "application/json"},
		{"/baton.v1.ConfigService/CreatePublisher", "application/grpc-web+proto"},
	}
	tried, lost := 0, 0
	for _, p := range paths {
		tried++
		conn, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		// A guard against hanging forever, far below the server's 40 s.
		_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: 1000000000\r\n\r\n12345678", p.path, host, p.contentType)
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			lost++
			t.Errorf("%s (%s): no answer: %v", p.path, p.contentType, err)
			conn.Close()
			continue
		}
		b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		res.Body.Close()
		conn.Close()
		// gRPC-Web carries its status in headers: resource_exhausted.
		if res.StatusCode != http.StatusRequestEntityTooLarge && res.Header.Get("Grpc-Status") != "8" {
			lost++
			t.Errorf("%s (%s): %d %q, want 413", p.path, p.contentType, res.StatusCode, b)
		}
	}
	proof.Tally(t, "hostile: Content-Length 1e9 with 8 bytes", tried, lost,
		fmt.Sprintf("%d entrances (FC2 POST, kickback, Connect, gRPC-Web) answered 413 (gRPC-Web: resource_exhausted) at once", len(paths)))
}
