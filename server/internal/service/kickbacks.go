package service

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/batonhq/baton/server/internal/attribution"
	"github.com/batonhq/baton/server/internal/domain"
)

// KickbackStore is what inbound kickbacks read.
type KickbackStore interface {
	GetNetwork(ctx context.Context, id string) (domain.Network, error)
	NetworkByToken(ctx context.Context, token string) (domain.Network, error)
	NetworkSecrets(ctx context.Context, id string) ([]string, error)
	GetClick(ctx context.Context, id string) (domain.Click, error)
	GetOffer(ctx context.Context, id string) (domain.Offer, error)
}

// Kickbacks takes conversions reported by the next network down the chain
// (the kickback of socket integration) and passes them on up.
type Kickbacks struct {
	store KickbackStore
	conv  *Conversions
}

// NewKickbacks returns the kickback use cases.
func NewKickbacks(st KickbackStore, conv *Conversions) *Kickbacks {
	return &Kickbacks{store: st, conv: conv}
}

// KickbackParamDefaults are the parameter names used when a network does
// not name its own.
var KickbackParamDefaults = domain.KickbackParams{
	ClickID: "click_id", OrderID: "order_id", Amount: "amount", Currency: "currency",
	Status: "status", DownstreamID: "transaction_id", Token: "token",
	AmountMinor: "amount_minor", UserName: "user_name", OrderID2: "order_id_2",
}

// Params returns the network's parameter names with defaults filled in.
func Params(n domain.Network) domain.KickbackParams {
	p, d := n.KickbackParams, KickbackParamDefaults
	for _, f := range []struct {
		v   *string
		def string
	}{{&p.ClickID, d.ClickID}, {&p.OrderID, d.OrderID}, {&p.Amount, d.Amount},
		{&p.Currency, d.Currency}, {&p.Status, d.Status}, {&p.DownstreamID, d.DownstreamID}, {&p.Token, d.Token},
		{&p.AmountMinor, d.AmountMinor}, {&p.UserName, d.UserName}, {&p.OrderID2, d.OrderID2}} {
		if *f.v == "" {
			*f.v = f.def
		}
	}
	return p
}

// KickbackInput is a kickback as the gateway read it: each value of the
// network's parameters (see Params), not yet checked.
type KickbackInput struct {
	ClickID, OrderID, OrderID2, DownstreamID, UserName string
	Amount, AmountMinor, Currency, Status              string
	RemoteIP                                           string
}

func unauthenticated(msg string) error {
	return &domain.Error{Kind: domain.ErrUnauthenticated, Public: msg}
}

// NetworkByToken finds the network sending a kickback by its token alone
// (sent under the default parameter name, KickbackParamDefaults.Token).
func (k *Kickbacks) NetworkByToken(ctx context.Context, token string) (domain.Network, error) {
	if token == "" {
		return domain.Network{}, unauthenticated("unknown network: send your token (or network=<id> from a registered IP)")
	}
	n, err := k.store.NetworkByToken(ctx, token)
	if errors.Is(err, domain.ErrUnauthenticated) {
		return n, unauthenticated("unknown token")
	}
	return n, err
}

// Network finds the network a kickback names; Authenticate then checks
// that it comes from that network.
func (k *Kickbacks) Network(ctx context.Context, networkID string) (domain.Network, error) {
	n, err := k.store.GetNetwork(ctx, networkID)
	if errors.Is(err, domain.ErrNotFound) {
		return n, unauthenticated("unknown network")
	}
	return n, err
}

// Authenticate checks a kickback claiming to come from network n: by the
// token it sent (under the network's own parameter name, Params(n).Token),
// or without one by its address among the network's registered ones.
func (k *Kickbacks) Authenticate(ctx context.Context, n domain.Network, token string, remote netip.Addr) error {
	if token != "" {
		secrets, err := k.store.NetworkSecrets(ctx, n.ID)
		if err != nil {
			return err
		}
		ok := 0
		for _, s := range secrets {
			ok |= subtle.ConstantTimeCompare([]byte(s), []byte(token))
		}
		if ok == 1 {
			return nil
		}
		return unauthenticated("wrong token")
	}
	for _, cidr := range n.AllowedIPs {
		if p, err := netip.ParsePrefix(cidr); err == nil && remote.IsValid() && p.Contains(remote.Unmap()) {
			return nil
		}
	}
	return unauthenticated("no token, and the request does not come from one of the network's registered addresses")
}

// Receive records a kickback from network n: it checks that the click ID is
// one this network issued and sent to n (照会), records the conversion
// idempotently and applies the status n reports. The conversion's own
// postbacks then carry it on up the chain.
func (k *Kickbacks) Receive(ctx context.Context, n domain.Network, kb KickbackInput) (domain.Conversion, bool, error) {
	pn := Params(n)
	in := ConversionInput{Source: domain.SourceKickback, ClickID: kb.ClickID, OrderID: kb.OrderID, DownstreamID: kb.DownstreamID,
		OrderID2: kb.OrderID2, UserName: kb.UserName, RemoteIP: kb.RemoteIP,
		Params: map[string]string{"network": n.ID, pn.ClickID: kb.ClickID, pn.OrderID: kb.OrderID}}
	for _, p := range []struct{ name, v string }{{pn.Amount, kb.Amount}, {pn.AmountMinor, kb.AmountMinor}, {pn.Currency, kb.Currency}, {pn.Status, kb.Status}} {
		if p.v != "" {
			in.Params[p.name] = p.v
		}
	}
	refuse := func(kind error, code domain.RefusalCode, msg string) error {
		return k.conv.refuse(ctx, in, "", "", domain.Refuse(kind, code, "", msg))
	}
	invalid := func(format string, args ...any) error {
		return refuse(domain.ErrInvalid, domain.RefusalInvalidParameter, fmt.Sprintf(format, args...))
	}
	if in.ClickID == "" || in.OrderID == "" || len(in.OrderID) > 80 || len(in.OrderID2) > 80 {
		return domain.Conversion{}, false, invalid("%s and %s are required (order IDs at most 80 characters)", pn.ClickID, pn.OrderID)
	}
	if len(in.UserName) > 64 {
		return domain.Conversion{}, false, invalid("%s is at most 64 characters", pn.UserName)
	}
	click, err := k.store.GetClick(ctx, in.ClickID)
	if errors.Is(err, domain.ErrNotFound) {
		return domain.Conversion{}, false, refuse(domain.ErrNotFound, domain.RefusalUnknownClick, fmt.Sprintf("click ID %q was not issued by this network", in.ClickID))
	}
	if err != nil {
		return domain.Conversion{}, false, err
	}
	offer, err := k.store.GetOffer(ctx, click.OfferID)
	if err != nil {
		return domain.Conversion{}, false, err
	}
	if offer.Downstream.NetworkID != n.ID {
		return domain.Conversion{}, false, refuse(domain.ErrPermissionDenied, domain.RefusalForeignClick, fmt.Sprintf("click %s was not sent to network %s", in.ClickID, n.ID))
	}
	currency := strings.ToUpper(kb.Currency)
	if currency == "" {
		currency = "JPY"
	}
	if len(currency) != 3 || strings.Trim(currency, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		return domain.Conversion{}, false, invalid("%s must be an ISO 4217 code", pn.Currency)
	}
	minor, err := kickbackAmount(currency, pn, kb.Amount, kb.AmountMinor)
	if err != nil {
		return domain.Conversion{}, false, invalid("%s", err.Error())
	}
	in.Amount = domain.Money{Currency: currency, Minor: minor}
	status, ok := kickbackStatus(kb.Status)
	if !ok {
		return domain.Conversion{}, false, invalid("%s %q is not pending, approved, rejected or reversed", pn.Status, strings.ToLower(kb.Status))
	}
	p := domain.Principal{Role: domain.RoleNetwork, PartnerID: n.ID, KeyID: "network:" + n.ID}
	conv, dup, err := k.conv.Record(ctx, p, in)
	if err != nil {
		if r, ok := domain.AsError(err); ok && r.Code != "" {
			// The conversion use cases refused it: the network's mistake.
			return conv, dup, domain.Refuse(domain.ErrInvalid, r.Code, r.Field, r.Public)
		}
		return conv, dup, err
	}
	if status == domain.StatusPending || conv.Status == status {
		return conv, dup, nil
	}
	out, err := k.applyStatus(ctx, n, conv, status)
	return out, dup, err
}

// applyStatus moves conv to the status network n reports, as the network
// (a reversal of a pending conversion passes through approved).
// ErrFailedPrecondition is a move the conversion cannot make.
func (k *Kickbacks) applyStatus(ctx context.Context, n domain.Network, conv domain.Conversion, status domain.ConversionStatus) (domain.Conversion, error) {
	system := domain.Principal{Role: domain.RoleAdmin, KeyID: "network:" + n.ID}
	path := []domain.ConversionStatus{status}
	if status == domain.StatusReversed && conv.Status == domain.StatusPending {
		path = []domain.ConversionStatus{domain.StatusApproved, domain.StatusReversed}
	}
	for _, to := range path {
		err := k.conv.inTx(ctx, func(tx ConversionTx) error {
			return k.conv.changeStatus(ctx, tx, system, conv.ID, to, "", "kickback", "reported by network "+n.ID, "network:"+n.ID)
		})
		if err != nil {
			return conv, err
		}
	}
	return k.conv.store.GetConversion(ctx, conv.ID)
}

// kickbackStatus reads the status a network reports, in the words
// networks use.
func kickbackStatus(s string) (domain.ConversionStatus, bool) {
	switch strings.ToLower(s) {
	case "", "pending", "0":
		return domain.StatusPending, true
	case "approved", "approve", "1":
		return domain.StatusApproved, true
	case "rejected", "reject", "cancel", "cancelled", "2":
		return domain.StatusRejected, true
	case "reversed", "refund", "refunded":
		return domain.StatusReversed, true
	}
	return "", false
}

// kickbackAmount reads the sale amount in minor units: the amount parameter
// is a decimal in the currency's major unit ("12.50" USD), amount_minor a
// whole number of its minor unit ("1250"). Either may be sent, or both when
// they agree; neither is a free sale.
func kickbackAmount(currency string, pn domain.KickbackParams, dec, whole string) (int64, error) {
	var fromDec, fromMinor int64
	if dec != "" {
		n, err := attribution.ParseDecimal(currency, dec)
		if err != nil {
			return 0, fmt.Errorf("%s must be a decimal in %s's major unit with at most %d decimals (e.g. %s): %v", pn.Amount, currency,
				attribution.MinorDigits(currency), attribution.Decimal(currency, 1250), err) //nolint:errorlint // the parse error is text for the partner; the caller wraps this in a domain.Error
		}
		fromDec = n
	}
	if whole != "" {
		n, err := strconv.ParseInt(whole, 10, 64)
		if err != nil || n < 0 || strings.Trim(whole, "0123456789") != "" || len(whole) > 16 {
			return 0, fmt.Errorf("%s must be a whole number of %s's minor unit (e.g. 1250 for %s)", pn.AmountMinor, currency, attribution.Decimal(currency, 1250))
		}
		fromMinor = n
	}
	if dec != "" && whole != "" && fromDec != fromMinor {
		return 0, fmt.Errorf("%s=%s and %s=%s disagree: %s is %s in minor units", pn.Amount, dec, pn.AmountMinor, whole, dec, strconv.FormatInt(fromDec, 10))
	}
	if whole != "" {
		return fromMinor, nil
	}
	return fromDec, nil
}
