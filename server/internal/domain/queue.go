package domain

import "time"

// QueueStats is the postback queue at a glance.
type QueueStats struct {
	Pending                  int64
	OldestPending            time.Time // zero when nothing is pending
	FailingEndpoints         int64
	DisabledFailingEndpoints int64
}
