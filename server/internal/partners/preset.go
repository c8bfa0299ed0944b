package partners

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/batonhq/baton/server/internal/postback"
)

// Endpoint is a filled postback endpoint: the events it is for, with the
// templates ready to save.
type Endpoint struct {
	Events       []string
	Method       string // GET or POST_FORM
	URLTemplate  string
	BodyTemplate string
	// Secrets are the secret inputs (a password, a postback key), which
	// the templates use as {secret:NAME}: saved sealed with the endpoint,
	// never in a template that a reader of the endpoint sees.
	Secrets []SecretValue
}

// SecretValue is one sealed secret of a filled endpoint.
type SecretValue struct {
	Name, Value string
}

// Preset is what connecting a system fills in. For Upstream: a publisher
// (of kind network) with its sub-ID parameters and its endpoints. For
// Downstream: the offer's downstream click parameter and, once the network
// exists (network_id and token given), the kickback URL to enter in the
// partner system.
type Preset struct {
	System      System
	Role        Role
	Name        string
	SubIDParams []string
	Endpoints   []Endpoint

	DownstreamClickIDParam string
	KickbackURL            string
}

// Fill fills the preset of s for role, with the user's inputs (by
// [Input.Name]) and, for Downstream, "baton" (Baton's public URL),
// "network_id" and "token". An input it does not know, a missing required
// input, or a base URL that is not http(s) is refused by name.
func Fill(s System, role Role, in map[string]string) (Preset, error) {
	if !s.HasRole(role) {
		return Preset{}, fmt.Errorf("%s cannot be connected %s (it is %s)", s.Name, role, joinRoles(s.Roles))
	}
	p := Preset{System: s, Role: role, Name: s.Name}
	if role == Downstream {
		return fillDownstream(p, s, in)
	}
	vals, err := inputs(s, in, nil)
	if err != nil {
		return Preset{}, err
	}
	var secrets []SecretValue
	var secretNames []string
	for _, i := range s.Inputs {
		if !i.Secret {
			continue
		}
		v := strings.TrimSpace(in[i.Name])
		if v == "" {
			v = i.Default
		}
		secrets = append(secrets, SecretValue{Name: i.Name, Value: v})
		secretNames = append(secretNames, i.Name)
		vals[i.Name] = "{secret:" + i.Name + "}"
	}
	p.SubIDParams = append([]string{s.ClickIDParam}, s.SubIDParams...)
	groups := map[string][]string{}
	var order []string
	perStatus := strings.Contains(s.URLTemplate+s.BodyTemplate, "${status}")
	for _, st := range s.Statuses {
		if !st.Sent {
			continue
		}
		key := ""
		if perStatus {
			key = st.Spelling
		}
		if _, ok := groups[key]; !ok {
			order = append(order, key)
		}
		groups[key] = append(groups[key], st.Event)
	}
	for _, key := range order {
		v := vals
		if perStatus {
			v = withStatus(vals, key)
		}
		ep := Endpoint{Events: groups[key], Method: s.Method,
			URLTemplate: substitute(s.URLTemplate, v), BodyTemplate: substitute(s.BodyTemplate, v), Secrets: secrets}
		for _, t := range []string{ep.URLTemplate, ep.BodyTemplate} {
			if _, err := postback.ParseSecret(t, secretNames); err != nil {
				return Preset{}, fmt.Errorf("preset %s: %w", s.ID, err)
			}
		}
		p.Endpoints = append(p.Endpoints, ep)
	}
	return p, nil
}

func withStatus(vals map[string]string, spelling string) map[string]string {
	v := make(map[string]string, len(vals)+1)
	for k, x := range vals {
		v[k] = x
	}
	v["status"] = url.QueryEscape(spelling)
	return v
}

func fillDownstream(p Preset, s System, in map[string]string) (Preset, error) {
	p.DownstreamClickIDParam = s.DownstreamClickIDParam
	extra := []string{"baton", "network_id", "token"}
	vals, err := inputs(s, in, extra)
	if err != nil {
		return Preset{}, err
	}
	if in["network_id"] == "" {
		return p, nil // the network does not exist yet: no kickback URL
	}
	for _, n := range extra {
		if in[n] == "" {
			return Preset{}, fmt.Errorf("input %s is required with network_id, to write the kickback URL", n)
		}
	}
	vals["baton"] = strings.TrimRight(in["baton"], "/")
	p.KickbackURL = substitute(s.KickbackTemplate, vals)
	return p, nil
}

// inputs checks the user's inputs against s's and returns the values to
// substitute, escaped; extra names are accepted as given.
func inputs(s System, in map[string]string, extra []string) (map[string]string, error) {
	known := map[string]Input{}
	for _, i := range s.Inputs {
		known[i.Name] = i
	}
	for name := range in {
		if _, ok := known[name]; !ok && !slices.Contains(extra, name) {
			return nil, fmt.Errorf("input %s is not one of %s's; its inputs: %s", name, s.Name, inputNames(s))
		}
	}
	out := map[string]string{}
	for _, i := range s.Inputs {
		v := strings.TrimSpace(in[i.Name])
		if v == "" {
			v = i.Default
		}
		if v == "" {
			if len(extra) > 0 {
				continue // downstream: inputs serve only the kickback URL
			}
			return nil, fmt.Errorf("input %s is required for %s: %s", i.Name, s.Name, i.Description)
		}
		if i.URL {
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
				return nil, fmt.Errorf("input %s must be an http(s) URL without query or fragment (%s), not %q", i.Name, i.Description, v)
			}
			out[i.Name] = strings.TrimRight(v, "/")
			continue
		}
		out[i.Name] = url.QueryEscape(v)
	}
	for _, n := range extra {
		if v := in[n]; v != "" && n != "baton" {
			out[n] = url.QueryEscape(v)
		}
	}
	return out, nil
}

func substitute(t string, vals map[string]string) string {
	for k, v := range vals {
		t = strings.ReplaceAll(t, "${"+k+"}", v)
	}
	return t
}

func inputNames(s System) string {
	var n []string
	for _, i := range s.Inputs {
		n = append(n, i.Name)
	}
	if len(n) == 0 {
		return "none"
	}
	return strings.Join(n, ", ")
}

func joinRoles(r []Role) string {
	var s []string
	for _, x := range r {
		s = append(s, string(x))
	}
	return strings.Join(s, " and ")
}
