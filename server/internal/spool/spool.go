// Package spool makes clicks durable on local disk before PostgreSQL: a
// redirect is answered once its click is fsynced in an append-only spool
// under the data directory, and a loader copies spooled clicks into
// PostgreSQL in large batches, idempotently by click ID, so that a replay
// after kill -9 never inserts a click twice.
//
// Appends are group-committed: concurrent clicks are encoded into one write
// and one fsync. The spool is a directory of segment files
// (seg-<20 digits>.log); each record is
//
//	[payload length: uint32 LE][CRC32C of payload: uint32 LE][payload: JSON click]
//
// so a torn tail after a crash (a record whose length or checksum does not
// hold) is detected on open and truncated. A segment is removed once every
// click in it is loaded; on open every remaining segment is replayed.
//
// Why not a library: github.com/tidwall/wal (v1.2.1 resolves) has no
// checksum per record and refuses to open a log with a torn tail
// (ErrCorrupt; its issue 21, "Needs to recover from corrupted tail", is
// open), which is exactly the state kill -9 leaves; its index-based API also
// adds nothing the loader needs. The format and its recovery here are the
// replay function and a header of 8 bytes.
package spool

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/batonhq/baton/server/internal/domain"
)

var (
	// ErrFull is returned by Write when the spool is at its bound (disk
	// bytes or the age of its oldest unloaded click): the caller falls back
	// to the synchronous write to PostgreSQL.
	ErrFull = errors.New("click spool full")
	// ErrBroken is returned by Write after a write or fsync to the spool
	// failed: nothing more is appended (the caller falls back as for
	// ErrFull); what was fsynced before is still loaded.
	ErrBroken = errors.New("click spool cannot write")
	// ErrClosed is returned by Write after Close.
	ErrClosed = errors.New("click spool closed")
)

// Loader inserts clicks into PostgreSQL. It must be idempotent by click ID
// (a replay loads again what may already be there). An error that wraps
// domain.ErrUnavailable is retried; any other error on a single click sets
// that click aside in rejected.jsonl (logged), never silently dropped.
type Loader func(ctx context.Context, clicks []*domain.Click) error

// Options configure a spool.
type Options struct {
	Dir string
	// MaxBytes bounds the spool's files on disk; at the bound Write returns
	// ErrFull. 0: 1 GiB.
	MaxBytes int64
	// MaxAge bounds how long a click may wait unloaded: while the oldest is
	// older, Write returns ErrFull. 0: 1 hour.
	MaxAge time.Duration
	// SegmentBytes is the size of a segment file (preallocated); a new one
	// is started when it is full. 0: min(8 MiB, MaxBytes/8).
	SegmentBytes int64
	// Batch is the most clicks one load carries. 0: 5000.
	Batch int
	Log   *slog.Logger
	Now   func() time.Time
}

const (
	headerSize = 8
	maxRecord  = 1 << 20 // a click is a few KiB at most; larger is corruption
	maxAppend  = 4096    // clicks per group commit
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type entry struct {
	n     uint64 // position in append order
	click *domain.Click
	seg   *segment
	at    time.Time // when it was appended
}

type segment struct {
	seq      uint64
	path     string
	size     int64
	unloaded int
	closed   bool // no more appends
}

type appendReq struct {
	click *domain.Click
	rec   []byte // header and payload, encoded by the caller
	done  chan error
}

// Spool is a durable local queue of clicks in front of PostgreSQL.
type Spool struct {
	opts Options
	load Loader
	log  *slog.Logger

	reqs    chan appendReq
	closeMu sync.RWMutex
	closed  bool
	wg      sync.WaitGroup

	mu       sync.Mutex
	queue    []*entry // unloaded, in append order
	byID     map[string]*entry
	segs     []*segment // oldest first; the last is being written unless closed
	diskSize int64
	nextN    uint64
	maxSeq   uint64        // of any segment seen
	changed  chan struct{} // closed and replaced when the queue shrinks
	broken   error
	kick     chan struct{}
	stop     chan struct{}
	loaded   uint64 // clicks loaded since open
	rejected uint64

	cur    *os.File // written only by the writer goroutine
	curOff int64    // where the next record goes in cur
	spare  chan prepared
	// spareAsked: the next segment is being prepared (writer goroutine only).
	spareAsked bool
	lockFile   *os.File
}

// Open opens (creating) the spool in opts.Dir, truncates a torn tail,
// queues every click still in it for loading, and starts the writer and
// the loader.
func Open(opts Options, load Loader) (*Spool, error) {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 1 << 30
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = time.Hour
	}
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = min(8<<20, max(opts.MaxBytes/8, 4096))
	}
	if opts.Batch <= 0 {
		opts.Batch = 5000
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("click spool: %w", err)
	}
	s := &Spool{
		opts: opts, load: load, log: opts.Log, reqs: make(chan appendReq, maxAppend),
		byID: map[string]*entry{}, changed: make(chan struct{}), spare: make(chan prepared, 1), kick: make(chan struct{}, 1), stop: make(chan struct{}),
	}
	lf, err := lock(opts.Dir)
	if err != nil {
		return nil, err
	}
	s.lockFile = lf
	if err := s.replay(); err != nil {
		_ = lf.Close()
		return nil, err
	}
	if err := s.rotate(); err != nil {
		_ = lf.Close()
		return nil, err
	}
	s.wg.Add(2)
	go s.writer()
	go s.loader()
	s.poke()
	return s, nil
}

func segName(seq uint64) string { return fmt.Sprintf("seg-%020d.log", seq) }

// replay reads every segment, oldest first, and queues its clicks.
func (s *Spool) replay() error {
	preps, err := filepath.Glob(filepath.Join(s.opts.Dir, "prep-*.tmp"))
	if err != nil {
		return err
	}
	for _, p := range preps { // spares of an earlier process
		_ = os.Remove(p)
	}
	names, err := filepath.Glob(filepath.Join(s.opts.Dir, "seg-*.log"))
	if err != nil {
		return err
	}
	sort.Strings(names)
	now := s.opts.Now()
	for _, name := range names {
		seq, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(name), "seg-"), ".log"), 10, 64)
		if err != nil {
			continue
		}
		data, err := os.ReadFile(name)
		if err != nil {
			return fmt.Errorf("click spool: %w", err)
		}
		s.maxSeq = max(s.maxSeq, seq)
		seg := &segment{seq: seq, path: name, closed: true}
		off := 0
		for off+headerSize <= len(data) {
			l := int(binary.LittleEndian.Uint32(data[off:]))
			sum := binary.LittleEndian.Uint32(data[off+4:])
			if l == 0 || l > maxRecord || off+headerSize+l > len(data) {
				break
			}
			payload := data[off+headerSize : off+headerSize+l]
			if crc32.Checksum(payload, castagnoli) != sum {
				break
			}
			var c domain.Click
			if json.Unmarshal(payload, &c) != nil || c.ID == "" {
				break
			}
			off += headerSize + l
			if _, dup := s.byID[c.ID]; dup {
				continue
			}
			e := &entry{n: s.nextN, click: &c, seg: seg, at: now}
			s.nextN++
			s.queue = append(s.queue, e)
			s.byID[c.ID] = e
			seg.unloaded++
		}
		if off < len(data) && !zeros(data[off:]) {
			// A torn tail (kill -9 mid-write): that record was never
			// acknowledged, since acknowledgement follows the fsync.
			s.log.Warn("click spool: truncating a torn or corrupt tail", "segment", filepath.Base(name),
				"kept_bytes", off, "dropped_bytes", len(data)-off)
		}
		if off < len(data) { // the torn tail, or the unused preallocated rest
			if err := os.Truncate(name, int64(off)); err != nil {
				return fmt.Errorf("click spool: truncate %s: %w", name, err)
			}
		}
		seg.size = int64(off)
		s.diskSize += seg.size
		if seg.unloaded == 0 {
			_ = os.Remove(name)
			s.diskSize -= seg.size
			continue
		}
		s.segs = append(s.segs, seg)
	}
	if n := len(s.queue); n > 0 {
		s.log.Info("click spool: replaying clicks not yet loaded", "clicks", n, "segments", len(s.segs))
	}
	return nil
}

func (s *Spool) nextSeq() uint64 {
	s.maxSeq++
	return s.maxSeq
}

// prepared is a segment file filled with zeros to SegmentBytes and synced,
// under a temporary name: appends into it then change no file size, so
// fdatasync writes the data alone (about 4x faster here than growing a
// file with each fsync; PostgreSQL zero-fills its WAL segments likewise).
// A zero length ends the records.
type prepared struct {
	f    *os.File
	path string
	err  error
}

func (s *Spool) prepare() prepared {
	f, err := os.CreateTemp(s.opts.Dir, "prep-*.tmp")
	if err != nil {
		return prepared{err: err}
	}
	zeros := make([]byte, 1<<20)
	for left := s.opts.SegmentBytes; left > 0 && err == nil; left -= int64(len(zeros)) {
		_, err = f.Write(zeros[:min(left, int64(len(zeros)))])
	}
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return prepared{err: err}
	}
	return prepared{f: f, path: f.Name()}
}

// rotate closes the current segment and starts the next, from the spare
// prepared in the background when there is one. Only the writer goroutine
// (or Open) calls it.
func (s *Spool) rotate() error {
	s.mu.Lock()
	seq := s.nextSeq()
	if n := len(s.segs); n > 0 {
		s.segs[n-1].closed = true
	}
	s.mu.Unlock()
	if s.cur != nil {
		_ = s.cur.Close()
		s.cur = nil
	}
	var p prepared
	select {
	case p = <-s.spare:
	default:
		p = s.prepare()
	}
	if p.err != nil {
		return fmt.Errorf("click spool: %w", p.err)
	}
	path := filepath.Join(s.opts.Dir, segName(seq))
	if err := os.Rename(p.path, path); err != nil {
		_ = p.f.Close()
		return fmt.Errorf("click spool: %w", err)
	}
	if err := syncDir(s.opts.Dir); err != nil {
		_ = p.f.Close()
		return fmt.Errorf("click spool: %w", err)
	}
	s.cur, s.curOff = p.f, 0
	s.mu.Lock()
	s.segs = append(s.segs, &segment{seq: seq, path: path, size: s.opts.SegmentBytes})
	s.diskSize += s.opts.SegmentBytes
	s.mu.Unlock()
	s.removeLoaded()
	s.spareAsked = false
	return nil
}

// askSpare prepares the next segment in the background once the current
// one is half full (so an idle Baton preallocates one segment, not two).
func (s *Spool) askSpare() {
	if s.spareAsked || s.curOff < s.opts.SegmentBytes/2 {
		return
	}
	s.spareAsked = true
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		p := s.prepare()
		select {
		case s.spare <- p:
		default: // one is spare already
			if p.f != nil {
				_ = p.f.Close()
				_ = os.Remove(p.path)
			}
		}
	}()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

var donePool = sync.Pool{New: func() any { return make(chan error, 1) }}

// Write appends c and returns once it is fsynced. ErrFull and ErrBroken
// mean it was not spooled: write it some other way or refuse it.
func (s *Spool) Write(ctx context.Context, c *domain.Click) error {
	s.mu.Lock()
	err := s.broken
	if err == nil && (s.diskSize >= s.opts.MaxBytes ||
		(len(s.queue) > 0 && s.opts.Now().Sub(s.queue[0].at) > s.opts.MaxAge)) {
		err = ErrFull
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("click spool: encode click: %w", err)
	}
	if len(payload) > maxRecord {
		return fmt.Errorf("click spool: click %s is %d bytes", c.ID, len(payload))
	}
	rec := make([]byte, headerSize, headerSize+len(payload))
	binary.LittleEndian.PutUint32(rec, uint32(len(payload)))
	binary.LittleEndian.PutUint32(rec[4:], crc32.Checksum(payload, castagnoli))
	rec = append(rec, payload...)
	done := donePool.Get().(chan error)
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return ErrClosed
	}
	select {
	case s.reqs <- appendReq{click: c, rec: rec, done: done}:
		s.closeMu.RUnlock()
	case <-ctx.Done():
		s.closeMu.RUnlock()
		return ctx.Err()
	}
	// The writer owns done until it answers whether c is on disk.
	err = <-done
	donePool.Put(done)
	return err
}

func (s *Spool) writer() {
	defer s.wg.Done()
	batch := make([]appendReq, 0, maxAppend)
	var buf []byte
	for first := range s.reqs {
		batch = append(batch[:0], first)
	drain:
		for len(batch) < maxAppend {
			select {
			case r, ok := <-s.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		buf = buf[:0]
		for _, r := range batch {
			buf = append(buf, r.rec...)
		}
		err := s.append(buf)
		now := s.opts.Now()
		s.mu.Lock()
		seg := s.segs[len(s.segs)-1]
		for _, r := range batch {
			if err == nil {
				e := &entry{n: s.nextN, click: r.click, seg: seg, at: now}
				s.nextN++
				s.queue = append(s.queue, e)
				s.byID[r.click.ID] = e
				seg.unloaded++
			}
		}
		if err == nil && s.curOff > seg.size { // past the preallocated size
			s.diskSize += s.curOff - seg.size
			seg.size = s.curOff
		}
		s.mu.Unlock()
		for _, r := range batch {
			r.done <- err
		}
		s.poke()
		s.askSpare()
		if err == nil && s.curOff >= s.opts.SegmentBytes {
			if rerr := s.rotate(); rerr != nil {
				s.markBroken(rerr)
			}
		}
	}
	if s.cur != nil {
		_ = s.cur.Close()
	}
	// The spare, if prepared, is not needed: a later open removes prep files.
}

// append writes and fsyncs one group of records.
func (s *Spool) append(buf []byte) error {
	s.mu.Lock()
	broken := s.broken
	s.mu.Unlock()
	if broken != nil {
		return broken
	}
	if s.cur == nil {
		return ErrBroken
	}
	if _, err := s.cur.WriteAt(buf, s.curOff); err != nil {
		return s.fail(err)
	}
	if err := syscall.Fdatasync(int(s.cur.Fd())); err != nil {
		return s.fail(err)
	}
	s.curOff += int64(len(buf))
	return nil
}

func (s *Spool) fail(err error) error {
	s.markBroken(err)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.broken
}

// markBroken stops appends: Write says ErrBroken from now on.
func (s *Spool) markBroken(err error) {
	s.log.Error("click spool: write failed; clicks go straight to PostgreSQL from now on", "error", err)
	s.mu.Lock()
	if s.broken == nil {
		s.broken = fmt.Errorf("%w: %w", ErrBroken, err)
	}
	s.mu.Unlock()
}

func (s *Spool) poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *Spool) loader() {
	defer s.wg.Done()
	backoff := time.Duration(0)
	for {
		if backoff > 0 {
			select {
			case <-time.After(backoff):
			case <-s.stop:
				return
			}
		} else {
			select {
			case <-s.kick:
			case <-s.stop:
				return
			}
		}
		for {
			n, err := s.loadOnce(context.Background())
			if err != nil {
				backoff = min(max(2*backoff, 50*time.Millisecond), 500*time.Millisecond)
				s.log.Warn("click spool: cannot load clicks into PostgreSQL; retrying", "error", err, "retry_in", backoff.String())
				break
			}
			backoff = 0
			if n == 0 {
				break
			}
			select {
			case <-s.stop:
				return
			default:
			}
		}
	}
}

// loadOnce loads the oldest batch. It returns how many clicks it took off
// the queue.
func (s *Spool) loadOnce(ctx context.Context) (int, error) {
	s.mu.Lock()
	n := min(len(s.queue), s.opts.Batch)
	batch := make([]*domain.Click, n)
	for i := range n {
		batch[i] = s.queue[i].click
	}
	s.mu.Unlock()
	if n == 0 {
		return 0, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err := s.load(ctx, batch)
	var rejected []*domain.Click
	if err != nil && !errors.Is(err, domain.ErrUnavailable) {
		// One bad click must not hold its neighbours: load one by one.
		for _, c := range batch {
			if e := s.load(ctx, []*domain.Click{c}); e != nil {
				if errors.Is(e, domain.ErrUnavailable) {
					return 0, e
				}
				rejected = append(rejected, c)
				s.log.Error("click spool: PostgreSQL refused a click; set aside in rejected.jsonl", "click_id", c.ID, "error", e)
			}
		}
		err = nil
	}
	if err != nil {
		return 0, err
	}
	if len(rejected) > 0 {
		if werr := s.setAside(rejected); werr != nil {
			return 0, werr // keep them queued rather than lose them
		}
	}
	s.mu.Lock()
	for _, e := range s.queue[:n] {
		delete(s.byID, e.click.ID)
		e.seg.unloaded--
	}
	s.queue = append(s.queue[:0:0], s.queue[n:]...)
	s.loaded += uint64(n - len(rejected))
	s.rejected += uint64(len(rejected))
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	s.removeLoaded()
	return n, nil
}

func (s *Spool) setAside(clicks []*domain.Click) error {
	f, err := os.OpenFile(filepath.Join(s.opts.Dir, "rejected.jsonl"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	for _, c := range clicks {
		if err := enc.Encode(c); err != nil {
			_ = f.Close()
			return err
		}
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// removeLoaded deletes closed segments whose clicks are all loaded.
func (s *Spool) removeLoaded() {
	s.mu.Lock()
	var gone []*segment
	keep := s.segs[:0]
	for _, seg := range s.segs {
		if seg.closed && seg.unloaded == 0 {
			gone = append(gone, seg)
			s.diskSize -= seg.size
			continue
		}
		keep = append(keep, seg)
	}
	s.segs = keep
	s.mu.Unlock()
	for _, seg := range gone {
		if err := os.Remove(seg.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.Warn("click spool: cannot remove a loaded segment", "segment", seg.path, "error", err)
		}
	}
}

// Await returns once the click id, if it is in the spool, is loaded into
// PostgreSQL (it asks the loader to load now). A click not in the spool
// returns at once. ctx bounds the wait.
func (s *Spool) Await(ctx context.Context, id string) error {
	for {
		s.mu.Lock()
		_, pending := s.byID[id]
		ch := s.changed
		s.mu.Unlock()
		if !pending {
			return nil
		}
		s.poke()
		select {
		case <-ch:
		case <-ctx.Done():
			return domain.Wrap(domain.ErrUnavailable, ctx.Err(), "click %s is not loaded yet", id)
		}
	}
}

// AwaitAll returns once every click spooled before the call is loaded.
func (s *Spool) AwaitAll(ctx context.Context) error {
	s.mu.Lock()
	target := s.nextN
	s.mu.Unlock()
	for {
		s.mu.Lock()
		done := len(s.queue) == 0 || s.queue[0].n >= target
		ch := s.changed
		s.mu.Unlock()
		if done {
			return nil
		}
		s.poke()
		select {
		case <-ch:
		case <-ctx.Done():
			return domain.Wrap(domain.ErrUnavailable, ctx.Err(), "spooled clicks are not loaded yet")
		}
	}
}

// Stats is the spool's state for metrics and logs.
type Stats struct {
	Pending   int           // clicks not yet loaded
	DiskBytes int64         // the spool's files
	OldestAge time.Duration // of the oldest unloaded click
	Loaded    uint64        // since open
	Rejected  uint64        // set aside since open
}

// Stats says how far behind the loader is.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Pending: len(s.queue), DiskBytes: s.diskSize, Loaded: s.loaded, Rejected: s.rejected}
	if len(s.queue) > 0 {
		st.OldestAge = s.opts.Now().Sub(s.queue[0].at)
	}
	return st
}

// Close stops accepting clicks, waits for those being appended, and loads
// what it can until ctx ends; what is not loaded stays in the spool for the
// next start.
func (s *Spool) Close(ctx context.Context) error {
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return nil
	}
	s.closed = true
	close(s.reqs)
	s.closeMu.Unlock()
	err := s.AwaitAll(ctx)
	close(s.stop)
	s.wg.Wait()
	select {
	case p := <-s.spare:
		if p.f != nil {
			_ = p.f.Close()
			_ = os.Remove(p.path)
		}
	default:
	}
	s.mu.Lock()
	if n := len(s.segs); n > 0 {
		s.segs[n-1].closed = true
	}
	s.mu.Unlock()
	s.removeLoaded()
	_ = s.lockFile.Close()
	if err != nil {
		st := s.Stats()
		s.log.Warn("click spool: closing with clicks not yet loaded; they load at the next start", "pending", st.Pending)
	}
	return err
}

// lock takes an exclusive lock on the spool for this process's lifetime
// (released by the kernel when it exits, also on kill -9): two processes
// appending to one spool would interleave their records.
func lock(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("click spool: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("click spool: %s is in use by another Baton process (%w)", dir, err)
	}
	return f, nil
}

func zeros(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
