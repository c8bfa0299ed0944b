package domain

// EndpointSecret is one sealed secret of a postback endpoint: a named value
// the templates use as {secret:NAME} (or ##SECRET:NAME##), or, with Header
// set, a header sent with that name and value. The value is sealed at rest
// and write-only: it is set when the endpoint is saved, read back only by
// the delivery worker, and never shown (reads carry the names alone).
type EndpointSecret struct {
	Name   string `json:"name"`
	Header bool   `json:"header,omitempty"`
	Value  string `json:"value,omitempty"`
}

// SecretNames lists the names of the template secrets (not the headers).
func SecretNames(list []EndpointSecret) []string {
	var out []string
	for _, s := range list {
		if !s.Header {
			out = append(out, s.Name)
		}
	}
	return out
}
