package service

import (
	"strings"

	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/partners"
	"github.com/batonhq/baton/server/internal/postback"
)

// Partners is the partner catalog use cases: listing it, filling a preset,
// converting a template between dialects and building a media's click URL.
// None of them writes anything; every key may use them.
type Partners struct {
	publicURL string
}

// NewPartners returns the catalog use cases; publicURL is Baton's own
// (BATON_PUBLIC_URL), written into downstream kickback URLs.
func NewPartners(publicURL string) *Partners {
	return &Partners{publicURL: strings.TrimRight(publicURL, "/")}
}

// Systems is the catalog.
func (s *Partners) Systems() []partners.System { return partners.Catalog() }

func lookupSystem(id string) (partners.System, error) {
	sys, ok := partners.Lookup(id)
	if !ok {
		var ids []string
		for _, x := range partners.Catalog() {
			ids = append(ids, x.ID)
		}
		return sys, domain.Invalid("system_id", "unknown partner system %q; known: %s", id, strings.Join(ids, ", "))
	}
	return sys, nil
}

// Preset fills the settings for connecting system id on side role. For
// Downstream, networkID and token (when given) complete the kickback URL.
func (s *Partners) Preset(id string, role partners.Role, inputs map[string]string, networkID, token string) (partners.Preset, error) {
	sys, err := lookupSystem(id)
	if err != nil {
		return partners.Preset{}, err
	}
	in := make(map[string]string, len(inputs)+3)
	for k, v := range inputs {
		in[k] = v
	}
	if role == partners.Downstream {
		for k, v := range map[string]string{"baton": s.publicURL, "network_id": networkID, "token": token} {
			if v != "" {
				in[k] = v
			}
		}
	}
	p, err := partners.Fill(sys, role, in)
	if err != nil {
		field := "inputs"
		if strings.Contains(err.Error(), "cannot be connected") {
			field = "role"
		} else if strings.HasPrefix(err.Error(), "input token") {
			field = "token"
		}
		return partners.Preset{}, domain.Invalid(field, "%s", err.Error())
	}
	return p, nil
}

// Convert rewrites a template into dialect to.
func (s *Partners) Convert(tmpl string, to postback.Dialect) (string, error) {
	out, err := postback.Convert(tmpl, to)
	if err != nil {
		return "", domain.Invalid("template", "%s", err.Error())
	}
	return out, nil
}

// MediaURL is the click URL a media should use for system id's clicks.
func (s *Partners) MediaURL(clickURL, id string) (string, string, error) {
	sys, err := lookupSystem(id)
	if err != nil {
		return "", "", err
	}
	out, note, err := partners.MediaURL(clickURL, sys)
	if err != nil {
		field := "click_url"
		if !sys.HasRole(partners.Upstream) {
			field = "system_id"
		}
		return "", "", domain.Invalid(field, "%s", err.Error())
	}
	return out, note, nil
}
