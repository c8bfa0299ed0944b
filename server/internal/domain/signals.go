package domain

// Signal names a fraud or quality signal found on a conversion at intake.
// Signals are stored with the conversion, counted in reports, and are
// conditions rules can test; on their own they change nothing (the rules, or
// an offer's control settings, decide what a flagged conversion earns).
// The names are part of the contract: they appear in the API as these
// strings and must not change once released.
type Signal string

// Conversion signals.
const (
	// SignalBotClick: the attributed click was flagged as a bot or crawler.
	SignalBotClick Signal = "bot_click"
	// SignalDuplicateClick: the attributed click repeated an earlier one of
	// the same visitor within the duplicate-click window.
	SignalDuplicateClick Signal = "duplicate_click"
	// SignalFastConversion: click-to-conversion time under the offer's
	// minimum (click injection).
	SignalFastConversion Signal = "fast_conversion"
	// SignalSlowConversion: click-to-conversion time over the offer's
	// maximum (click spamming).
	SignalSlowConversion Signal = "slow_conversion"
	// SignalConversionsPerClick: more conversions on one click than the
	// offer allows.
	SignalConversionsPerClick Signal = "conversions_per_click"
	// SignalConversionsPerIP: more conversions from one buyer IP than the
	// offer allows in its window.
	SignalConversionsPerIP Signal = "conversions_per_ip"
	// SignalBlockedIP, SignalBlockedUserAgent, SignalBlockedSubID: the
	// buyer's or click's IP, user agent or a sub-ID is on a blocklist.
	SignalBlockedIP        Signal = "blocked_ip"
	SignalBlockedUserAgent Signal = "blocked_user_agent"
	SignalBlockedSubID     Signal = "blocked_sub_id"
	// SignalCapReached: a conversion or payout cap of the offer or
	// publisher was reached when it arrived.
	SignalCapReached Signal = "cap_reached"
)

// Signals lists every conversion signal, in a stable order.
var Signals = []Signal{
	SignalBotClick, SignalDuplicateClick, SignalFastConversion, SignalSlowConversion,
	SignalConversionsPerClick, SignalConversionsPerIP, SignalBlockedIP, SignalBlockedUserAgent,
	SignalBlockedSubID, SignalCapReached,
}

// KnownSignal reports whether s is one of Signals.
func KnownSignal(s Signal) bool {
	for _, k := range Signals {
		if k == s {
			return true
		}
	}
	return false
}
