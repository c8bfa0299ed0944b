package postback

import "testing"

func TestReadAnswer(t *testing.T) {
	for _, c := range []struct {
		status int
		want   Answer
	}{
		{0, AnswerOther}, {100, AnswerOther}, {400, AnswerOther}, {422, AnswerOther},
		{200, AnswerOK}, {204, AnswerOK}, {299, AnswerOK},
		{404, AnswerWrongPath}, {405, AnswerWrongPath}, {410, AnswerGone},
		{401, AnswerRefusedCredentials}, {403, AnswerRefusedCredentials},
		{301, AnswerRedirect}, {302, AnswerRedirect}, {307, AnswerRedirect}, {308, AnswerRedirect},
		{500, AnswerReceiverFailed}, {503, AnswerReceiverFailed}, {408, AnswerReceiverFailed}, {429, AnswerReceiverFailed},
	} {
		if got := ReadAnswer(c.status); got != c.want {
			t.Errorf("ReadAnswer(%d) = %d, want %d", c.status, got, c.want)
		}
	}
}
