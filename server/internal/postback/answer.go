package postback

// Answer is what a receiver's HTTP status says about how its endpoint is
// configured in Baton: the integration check turns it into advice. It
// lives here, beside Classify, because reading a receiver's status is the
// postback protocol's business; the use cases never see status codes.
type Answer int

const (
	// AnswerOther is any status without a more specific reading.
	AnswerOther Answer = iota
	// AnswerOK: 2xx.
	AnswerOK
	// AnswerWrongPath: 404 or 405, the endpoint's path (or method) is not
	// the receiver's.
	AnswerWrongPath
	// AnswerGone: 410, the path is no longer served (for Baton's own
	// tracking link: a paused offer without a fallback).
	AnswerGone
	// AnswerRefusedCredentials: 401 or 403, a token, key or password is
	// wrong.
	AnswerRefusedCredentials
	// AnswerRedirect: 3xx, which Baton never follows.
	AnswerRedirect
	// AnswerReceiverFailed: 5xx, 408 or 429, the receiver's own trouble;
	// Baton retries (see Classify).
	AnswerReceiverFailed
)

// ReadAnswer reads a receiver's HTTP status.
func ReadAnswer(status int) Answer {
	switch {
	case 200 <= status && status <= 299:
		return AnswerOK
	case status == 404, status == 405:
		return AnswerWrongPath
	case status == 410:
		return AnswerGone
	case status == 401, status == 403:
		return AnswerRefusedCredentials
	case 300 <= status && status <= 399:
		return AnswerRedirect
	case 500 <= status && status <= 599, status == 408, status == 429:
		return AnswerReceiverFailed
	}
	return AnswerOther
}
