package app

import (
	"github.com/batonhq/baton/server/internal/delivery"
	"github.com/batonhq/baton/server/internal/service"
)

// The postback queue is the service's outbox, checked at compile time here
// where both are known (delivery does not import service).
var (
	_ service.Outbox     = (*delivery.Queue)(nil)
	_ service.TestOutbox = (*delivery.Queue)(nil)
	_ service.Requeuer   = (*delivery.Queue)(nil)
)
