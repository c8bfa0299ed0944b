package gateway

import (
	"context"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/batonhq/baton/server/internal/attribution"
)

// StuckDeliveryAfter is how long a due postback may wait for a worker
// before /healthz calls the queue stuck. A worker takes a due delivery
// within moments; even a stuck attempt is rescued within minutes
// (BATON_POSTBACK_RESCUE_AFTER), so ten minutes is no backlog but a queue
// that does not run.
const StuckDeliveryAfter = 10 * time.Minute

// HealthStore is what the health checks read.
type HealthStore interface {
	Ping(ctx context.Context) error
	OldestDueDelivery(ctx context.Context) (due time.Time, ok bool, err error)
}

// Health answers /healthz and /readyz.
type Health struct {
	st HealthStore
	// queueRunning is set while the postback workers run; draining once
	// shutdown begins.
	queueRunning, draining *atomic.Bool
	now                    func() time.Time
	// replica, when set, says in a few words whether reports read the
	// read replica (BATON_REPLICA_URL); /healthz prints it on a line of
	// its own. A replica that is down is not unhealthy: reports read the
	// primary.
	replica func() string
}

// WithReplica makes /healthz say the read replica's state, as state
// returns it.
func (h *Health) WithReplica(state func() string) *Health {
	h.replica = state
	return h
}

// NewHealth returns the health checks.
func NewHealth(st HealthStore, queueRunning, draining *atomic.Bool, now func() time.Time) *Health {
	if now == nil {
		now = time.Now
	}
	return &Health{st: st, queueRunning: queueRunning, draining: draining, now: now}
}

func plainAnswer(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
}

// Healthz answers /healthz: ok only while the database answers and the
// postback queue runs (its workers started, no due delivery waiting past
// StuckDeliveryAfter); otherwise 503 with the reason. A process that is up
// but cannot store a click or send a postback is not healthy.
func (h *Health) Healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := h.st.Ping(ctx); err != nil {
		plainAnswer(w, http.StatusServiceUnavailable, "database unavailable")
		return
	}
	if !h.queueRunning.Load() {
		plainAnswer(w, http.StatusServiceUnavailable, "postback queue not running")
		return
	}
	due, ok, err := h.st.OldestDueDelivery(ctx)
	if err != nil {
		plainAnswer(w, http.StatusServiceUnavailable, "database unavailable")
		return
	}
	if wait := h.now().Sub(due); ok && wait > StuckDeliveryAfter {
		plainAnswer(w, http.StatusServiceUnavailable, "postback queue stuck: a delivery due "+attribution.Age(wait.Truncate(time.Minute))+" ago has not been attempted")
		return
	}
	if h.replica != nil {
		plainAnswer(w, http.StatusOK, "ok\nreplica: "+h.replica())
		return
	}
	plainAnswer(w, http.StatusOK, "ok")
}

// Readyz answers /readyz: ready while the database answers, 503 from the
// moment shutdown begins so that a balancer stops sending.
func (h *Health) Readyz(w http.ResponseWriter, r *http.Request) {
	if h.draining.Load() {
		plainAnswer(w, http.StatusServiceUnavailable, "shutting down")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := h.st.Ping(ctx); err != nil {
		plainAnswer(w, http.StatusServiceUnavailable, "database unavailable")
		return
	}
	plainAnswer(w, http.StatusOK, "ready")
}
