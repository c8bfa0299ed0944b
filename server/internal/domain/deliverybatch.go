package domain

import "time"

// AttemptRecord is one attempt to append to a delivery's log and the state
// it moves the delivery to (NextAt: the next attempt, pending only). The
// delivery worker records attempts in batches of these.
type AttemptRecord struct {
	DeliveryID string
	Attempt    Attempt
	State      DeliveryState
	NextAt     *time.Time
}

// SendableEndpoint is an endpoint as the delivery worker needs it: with its
// signing secrets (the current one, and the previous during an overlap) and
// its sealed secrets opened (Endpoint.Secrets with values).
type SendableEndpoint struct {
	Endpoint PostbackEndpoint
	Secrets  []string
	// Err says why the secrets could not be opened (the key changed).
	Err error
}
