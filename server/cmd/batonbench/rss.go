package main

import (
	"fmt"
	"os"
	"sync"
	"time"
)

// rssTarget is issue 18's bound on the server's resident memory under load.
const rssTarget = 150_000_000 // bytes (150 MB)

// rssWatch samples the resident memory of the Baton process (this one: the
// benchmark serves Baton in-process, the load comes from wrk and a child
// process) while a suite runs: VmRSS every 100 ms and the kernel's peak,
// VmHWM, which is reset at the start (writing 5 to clear_refs) so that it
// is this suite's peak and not an earlier one's.
type rssWatch struct {
	pid     int
	stop    chan struct{}
	done    sync.WaitGroup
	maxRSS  int64 // kB
	samples int
	reset   bool // VmHWM was reset at the start
}

func watchRSS(pid int) *rssWatch {
	w := &rssWatch{pid: pid, stop: make(chan struct{})}
	w.reset = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0) == nil
	w.done.Add(1)
	go func() {
		defer w.done.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if rss := procStatus(w.pid)["VmRSS"]; rss > w.maxRSS {
				w.maxRSS = rss
			}
			w.samples++
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
		}
	}()
	return w
}

// line stops the watch and says what it saw against the target.
func (w *rssWatch) line(what string) string {
	close(w.stop)
	w.done.Wait()
	st := procStatus(w.pid)
	peak := st["VmHWM"]
	src := "VmHWM since this suite began"
	if !w.reset {
		src = "VmHWM since the process began (clear_refs not writable)"
	}
	verdict := "holds"
	if max(peak, w.maxRSS)*1024 >= rssTarget {
		verdict = "DOES NOT hold"
	}
	return fmt.Sprintf("server RSS under the %s load: peak %.0f MB (%s), highest VmRSS sampled %.0f MB (%d samples), %.0f MB now; target (issue 18) < 150 MB: %s\n"+
		"  (the process also holds the bare baselines' handlers and the benchmark's bookkeeping, so Baton alone is a little less)\n",
		what, float64(peak)*1024/1e6, src, float64(w.maxRSS)*1024/1e6, w.samples, float64(st["VmRSS"])*1024/1e6, verdict)
}
