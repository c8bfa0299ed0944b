// Package partners is Baton's catalog of the partner systems it connects
// to (other ASPs, networks and trackers): the parameters each one sends and
// expects, the postback it takes in its own dialect with Baton's variables
// mapped, the statuses it understands, and where that comes from. It also
// fills the create requests for connecting one ([Fill]) and builds the click
// URL a media should use ([MediaURL]).
//
// The package is pure: data and string functions, no I/O.
package partners

import (
	"slices"

	"github.com/batonhq/baton/server/internal/postback"
)

// Role is the side of the chain a system stands on, seen from Baton.
type Role string

const (
	// Upstream: the system sends clicks to Baton's tracking links and
	// receives Baton's postbacks (Baton creates a publisher of kind network
	// and postback endpoints for it).
	Upstream Role = "upstream"
	// Downstream: Baton sends clicks to it (an offer's landing URL) and it
	// kicks conversions back to Baton's /postback (Baton creates a network).
	Downstream Role = "downstream"
)

// Status is how a system spells one of Baton's postback events. Spelling is
// what the template puts in place of ${status}; Sent is false when the
// system takes no postback for that event.
type Status struct {
	Event    string // pending, approved, rejected, reversed
	Spelling string
	Sent     bool
}

// Input is a value the user supplies when filling a preset: the partner's
// host, a key, an ID only the partner knows. Templates name it ${name}.
type Input struct {
	Name        string
	Description string
	Default     string
	Secret      bool
	// URL marks a base URL: inserted as is (trailing '/' removed), and it
	// must start with http:// or https://. Other inputs are query-escaped.
	URL bool
}

// Doc is the documentation a system's entry comes from.
type Doc struct {
	Title string
	URL   string
}

// System is one partner system of the catalog.
type System struct {
	ID      string
	Name    string
	Summary string
	Roles   []Role
	// Dialect of the postback and kickback templates below.
	Dialect postback.Dialect

	// Upstream: the parameter the system sends its own click ID under on a
	// click to Baton (kept as sub1) and expects back in the postback, the
	// further sub-ID parameters it sends (sub2..), and the macro it writes
	// in the click URL for its click ID ("" when it appends the ID itself).
	ClickIDParam string
	SubIDParams  []string
	ClickIDMacro string
	// The postback Baton sends it: method (GET or POST_FORM), URL and body
	// templates with Baton's variables in Dialect and ${input} and
	// ${status} placeholders.
	Method       string
	URLTemplate  string
	BodyTemplate string
	Statuses     []Status

	// Downstream: the parameter it reads Baton's click ID from on the
	// landing URL, and the kickback URL to enter in the system, written in
	// its own macros, with ${baton}, ${network_id} and ${token}.
	DownstreamClickIDParam string
	KickbackTemplate       string

	Inputs      []Input
	Docs        []Doc
	Assumptions []string
}

// HasRole reports whether s can stand on side r.
func (s System) HasRole(r Role) bool { return slices.Contains(s.Roles, r) }

// Events are Baton's postback events, in order.
var Events = []string{"pending", "approved", "rejected", "reversed"}

func same() []Status {
	return []Status{{"pending", "pending", true}, {"approved", "approved", true}, {"rejected", "rejected", true}, {"reversed", "reversed", true}}
}

func onlyPending(spelling string) []Status {
	return []Status{{"pending", spelling, true}, {"approved", "", false}, {"rejected", "", false}, {"reversed", "", false}}
}

var baseInput = Input{Name: "base", URL: true, Description: "the partner's postback host (scheme and host, e.g. https://tracker.example)"}

// catalog is the data. Where a value is not from the system's own
// documentation, the entry's Assumptions says so. Documentation URLs of the
// vendors are their help sites: the articles' titles are given, their
// addresses were not checked from here.
var catalog = []System{
	{
		ID: "baton", Name: "Baton", Summary: "Another Baton deployment, one hop up or down the chain.",
		Roles: []Role{Upstream, Downstream}, Dialect: postback.DialectBrace,
		ClickIDParam: "click_id", ClickIDMacro: "",
		Method:                 "GET",
		URLTemplate:            "${base}/postback?click_id={sub1}&transaction_id={click_id}&order_id={order_id}&amount={amount}&currency={currency}&status={status}&token=${token}",
		Statuses:               same(),
		DownstreamClickIDParam: "click_id",
		KickbackTemplate:       "${baton}/postback?network=${network_id}&click_id={sub1}&transaction_id={click_id}&order_id={order_id}&amount={amount}&currency={currency}&status={status}&token=${token}",
		Inputs: []Input{
			{Name: "base", URL: true, Description: "the other Baton's public URL (BATON_PUBLIC_URL)"},
			{Name: "token", Secret: true, Description: "the kickback token the other Baton issued for this deployment (CreateNetwork's secret)"},
		},
		Docs: []Doc{{"Baton README: Chaining two Baton deployments; /postback kickbacks", "README.md#partner-presets"}},
	},
	{
		ID: "cats", Name: "CATS", Summary: "The advertiser-side measurement system CATS: it receives the media's session ID in param1 and posts back with ##PARA1##.",
		Roles: []Role{Downstream}, Dialect: postback.DialectCATS,
		DownstreamClickIDParam: "param1",
		KickbackTemplate:       "${baton}/postback?network=${network_id}&click_id=##PARA1##&transaction_id=##SID##&order_id=##CONTENT_UID1##&amount=##AMOUNT##&token=${token}",
		Statuses:               onlyPending(""),
		Docs:                   []Doc{{"CATS ポストバック連携(ソケット連携)の設定方法: 広告URLにパラメータを付与する (param1), 使用可能変数 (##PARA1##..##CONTENT_UID2##)", "shared/seeds/003 (CATS postback document)"}},
		Assumptions: []string{
			"CATS sends one notification per 成果 and no status parameter: the kickback records a pending conversion; approval is reported by a second URL the CATS user registers, with &status=approved added.",
		},
	},
	{
		ID: "affilicode", Name: "AffiliCode", Summary: "The AffiliCode ASP: it sends its session ID as pbid and takes it back in the postback.",
		Roles: []Role{Upstream}, Dialect: postback.DialectCATS,
		ClickIDParam: "pbid", ClickIDMacro: "##SID##",
		Method:      "GET",
		URLTemplate: "${base}?pbid=##PARA1##&amount=##AMOUNT##&order_id=##CONTENT_UID1##",
		Statuses:    onlyPending(""),
		Inputs:      []Input{{Name: "base", URL: true, Description: "the postback URL AffiliCode gives the advertiser, without its query"}},
		Docs:        []Doc{{"Issue 21 (AffiliCode pbid=##SID##), after the CATS ASP-selection list", ""}},
		Assumptions: []string{
			"The postback path and the amount and order_id parameter names are assumptions: AffiliCode's public documentation was not available; only pbid is from the issue.",
			"AffiliCode takes a sale notification only (no status).",
		},
	},
	{
		ID: "fc2", Name: "FC2 アフィリエイト", Summary: "FC2's affiliate program: clicks carry aff_userid and aff_siteid; the shop POSTs sales to tracking_post.php, which answers OK.",
		Roles: []Role{Upstream}, Dialect: postback.DialectBrace,
		SubIDParams: []string{"aff_siteid"}, ClickIDParam: "aff_userid",
		Method:       "POST_FORM",
		URLTemplate:  "${base}/tracking/tracking_post.php",
		BodyTemplate: "shopid=${shop_id}&unique_id={order_id}&amount_y={amount}&ref_userid={sub1}&ref_siteid={sub2}&passwd=${password}",
		Statuses:     onlyPending(""),
		Inputs: []Input{
			{Name: "base", URL: true, Default: "https://affiliate.fc2.com", Description: "FC2's tracking host"},
			{Name: "shop_id", Description: "the shop ID FC2 issued (shopid)"},
			{Name: "password", Secret: true, Description: "the shop password FC2 issued (passwd; sent over HTTPS only)"},
		},
		Docs: []Doc{{"FC2 トラッキング方法について 2006/04/26版: サーバー間通信でのデータ送信方法 (tracking_post.php, ref_userid, ref_siteid)", "shared/seeds/002 (FC2 tracking specification)"}},
		Assumptions: []string{
			"amount_y is yen: the preset is for JPY programs; FC2's amount_d (dollars) is not mapped.",
			"passwd is used instead of sh, which a template cannot compute.",
		},
	},
	{
		ID: "a8", Name: "A8.net", Summary: "The A8.net ASP: it appends a8=<its click value> to the advertiser's URL and takes it back in the sales notification.",
		Roles: []Role{Upstream}, Dialect: postback.DialectBrace,
		ClickIDParam: "a8",
		Method:       "GET",
		URLTemplate:  "${base}/a8fly/earnings?a8={sub1}&pid=${program_id}&so={order_id}&si={amount}.1.{amount}.baton",
		Statuses:     onlyPending(""),
		Inputs: []Input{
			{Name: "base", URL: true, Default: "https://px.a8.net", Description: "A8.net's notification host"},
			{Name: "program_id", Description: "the A8.net program ID (pid, e.g. s00000000000001)"},
		},
		Docs: []Doc{{"A8.net 成果通知 (サーバー間連携) for advertisers", "https://support.a8.net/"}},
		Assumptions: []string{
			"The a8fly/earnings path and the si format (price.quantity.total.item) are assumptions from A8.net's tag parameters (pid, so, si); check the program's A8.net integration sheet.",
		},
	},
	{
		ID: "everflow", Name: "Everflow", Summary: "The Everflow partner platform: it passes {transaction_id} to the offer and takes it back on its postback with nid.",
		Roles: []Role{Upstream}, Dialect: postback.DialectBrace,
		ClickIDParam: "transaction_id", ClickIDMacro: "{transaction_id}", SubIDParams: []string{"sub1", "sub2", "sub3", "sub4"},
		Method:      "GET",
		URLTemplate: "${base}/?nid=${network_id}&transaction_id={sub1}&amount={amount}&order_id={order_id}",
		Statuses:    onlyPending(""),
		Inputs: []Input{
			baseInput,
			{Name: "network_id", Description: "the Everflow network ID (nid)"},
		},
		Docs:        []Doc{{"Everflow: Server Postback (S2S) tracking for advertisers", "https://helpdesk.everflow.io/"}},
		Assumptions: []string{"Everflow manages conversion status itself: only the sale is posted."},
	},
	{
		ID: "keitaro", Name: "Keitaro", Summary: "The Keitaro tracker: it passes {subid} and takes postbacks with status lead, sale or rejected.",
		Roles: []Role{Upstream}, Dialect: postback.DialectBrace,
		ClickIDParam: "subid", ClickIDMacro: "{subid}",
		Method:      "GET",
		URLTemplate: "${base}/${postback_key}/postback?subid={sub1}&status=${status}&payout={commission}&currency={commission_currency}&tid={conversion_id}",
		Statuses:    []Status{{"pending", "lead", true}, {"approved", "sale", true}, {"rejected", "rejected", true}, {"reversed", "rejected", true}},
		Inputs: []Input{
			baseInput,
			{Name: "postback_key", Secret: true, Description: "the postback key from Keitaro's Maintenance > Settings"},
		},
		Docs: []Doc{{"Keitaro: S2S postback", "https://docs.keitaro.io/"}},
	},
	{
		ID: "voluum", Name: "Voluum", Summary: "The Voluum tracker: it passes {clickid} and takes postbacks as cid, payout and txid.",
		Roles: []Role{Upstream}, Dialect: postback.DialectBrace,
		ClickIDParam: "cid", ClickIDMacro: "{clickid}",
		Method:      "GET",
		URLTemplate: "${base}/postback?cid={sub1}&payout={commission}&txid={order_id}",
		Statuses:    onlyPending(""),
		Inputs:      []Input{{Name: "base", URL: true, Description: "the Voluum tracking domain (e.g. https://abcd.voluumtrk.com)"}},
		Docs:        []Doc{{"Voluum: Postback URL (S2S conversion tracking)", "https://doc.voluum.com/"}},
		Assumptions: []string{"The parameter name cid on the offer URL is the common setup, not fixed by Voluum; Voluum has no status: only the sale is posted."},
	},
	{
		ID: "affise", Name: "Affise", Summary: "The Affise platform: it passes {clickid} and takes postbacks with status 1 (confirmed), 2 (pending) or 3 (declined).",
		Roles: []Role{Upstream}, Dialect: postback.DialectBrace,
		ClickIDParam: "clickid", ClickIDMacro: "{clickid}",
		Method:      "GET",
		URLTemplate: "${base}/postback?clickid={sub1}&action_id={order_id}&sum={amount}&status=${status}&secure=${secure}",
		Statuses:    []Status{{"pending", "2", true}, {"approved", "1", true}, {"rejected", "3", true}, {"reversed", "3", true}},
		Inputs: []Input{
			{Name: "base", URL: true, Description: "the Affise tracking domain (e.g. https://offers-network.affise.com)"},
			{Name: "secure", Secret: true, Description: "the offer's postback secure code"},
		},
		Docs: []Doc{{"Affise: Postback tracking (advertiser side)", "https://help-center.affise.com/"}},
	},
	{
		ID: "cake", Name: "CAKE", Summary: "The CAKE platform: it passes its request ID and takes a server postback on p.ashx; its own macros are #var#.",
		Roles: []Role{Upstream}, Dialect: postback.DialectCAKE,
		ClickIDParam: "reqid", ClickIDMacro: "#reqid#",
		Method:      "GET",
		URLTemplate: "${base}/p.ashx?o=${offer}&e=${event}&f=pb&r=#s1#&t=#leadid#&p=#amount#",
		Statuses:    onlyPending(""),
		Inputs: []Input{
			baseInput,
			{Name: "offer", Description: "the CAKE offer ID (o)"},
			{Name: "event", Default: "1", Description: "the CAKE event ID (e); 1 is the base conversion"},
		},
		Docs:        []Doc{{"CAKE: Server postback pixel (p.ashx) and affiliate tokens (#s1#..#s5#, #tid#)", "https://support.getcake.com/"}},
		Assumptions: []string{"The reqid click parameter and the t/r/p parameters of p.ashx are as commonly configured; check the CAKE instance's offer setup."},
	},
}

// Catalog returns every system, Baton first. The caller may modify it.
func Catalog() []System {
	out := make([]System, len(catalog))
	for i, s := range catalog {
		s.Roles = slices.Clone(s.Roles)
		s.SubIDParams = slices.Clone(s.SubIDParams)
		s.Statuses = slices.Clone(s.Statuses)
		s.Inputs = slices.Clone(s.Inputs)
		s.Docs = slices.Clone(s.Docs)
		s.Assumptions = slices.Clone(s.Assumptions)
		out[i] = s
	}
	return out
}

// Lookup finds a system by ID.
func Lookup(id string) (System, bool) {
	for _, s := range Catalog() {
		if s.ID == id {
			return s, true
		}
	}
	return System{}, false
}
