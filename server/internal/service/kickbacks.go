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

// KickbackError is a refused kickback: Status is the HTTP status to answer.
type KickbackError struct {
	Status  int
	Message string
}

func (e *KickbackError) Error() string { return e.Message }

// Identify finds and authenticates the network sending a kickback: by the
// network ID given (then its token or its registered IPs), or by its token
// alone.
func (k *Kickbacks) Identify(ctx context.Context, networkID string, get func(string) string, remote netip.Addr) (domain.Network, error) {
	if networkID == "" {
		token := get(KickbackParamDefaults.Token)
		if token == "" {
			return domain.Network{}, &KickbackError{401, "unknown network: send your token (or network=<id> from a registered IP)"}
		}
		n, err := k.store.NetworkByToken(ctx, token)
		if errors.Is(err, domain.ErrUnauthenticated) {
			return n, &KickbackError{401, "unknown token"}
		}
		return n, err
	}
	n, err := k.store.GetNetwork(ctx, networkID)
	if errors.Is(err, domain.ErrNotFound) {
		return n, &KickbackError{401, "unknown network"}
	}
	if err != nil {
		return n, err
	}
	if token := get(Params(n).Token); token != "" {
		secrets, err := k.store.NetworkSecrets(ctx, n.ID)
		if err != nil {
			return n, err
		}
		ok := 0
		for _, s := range secrets {
			ok |= subtle.ConstantTimeCompare([]byte(s), []byte(token))
		}
		if ok == 1 {
			return n, nil
		}
		return n, &KickbackError{401, "wrong token"}
	}
	for _, cidr := range n.AllowedIPs {
		if p, err := netip.ParsePrefix(cidr); err == nil && remote.IsValid() && p.Contains(remote.Unmap()) {
			return n, nil
		}
	}
	return n, &KickbackError{401, "no token, and the request does not come from one of the network's registered addresses"}
}

// Receive records a kickback from network n: it checks that the click ID is
// one this network issued and sent to n (照会), records the conversion
// idempotently and applies the status n reports. The conversion's own
// postbacks then carry it on up the chain.
func (k *Kickbacks) Receive(ctx context.Context, n domain.Network, get func(string) string, remoteIP string) (domain.Conversion, bool, error) {
	pn := Params(n)
	clickID, orderID := get(pn.ClickID), get(pn.OrderID)
	in := ConversionInput{Source: domain.SourceKickback, ClickID: clickID, OrderID: orderID, DownstreamID: get(pn.DownstreamID),
		OrderID2: get(pn.OrderID2), UserName: get(pn.UserName), RemoteIP: remoteIP,
		Params: map[string]string{"network": n.ID, pn.ClickID: clickID, pn.OrderID: orderID}}
	for _, name := range []string{pn.Amount, pn.AmountMinor, pn.Currency, pn.Status} {
		if v := get(name); v != "" {
			in.Params[name] = v
		}
	}
	refuse := func(status int, code domain.RefusalCode, msg string) error {
		_ = k.conv.refuse(ctx, in, "", "", &Refused{Code: code, Message: msg})
		return &KickbackError{status, msg}
	}
	if clickID == "" || orderID == "" || len(orderID) > 80 || len(in.OrderID2) > 80 {
		return domain.Conversion{}, false, refuse(400, domain.RefusalInvalidParameter, fmt.Sprintf("%s and %s are required (order IDs at most 80 characters)", pn.ClickID, pn.OrderID))
	}
	if len(in.UserName) > 64 {
		return domain.Conversion{}, false, refuse(400, domain.RefusalInvalidParameter, fmt.Sprintf("%s is at most 64 characters", pn.UserName))
	}
	click, err := k.store.GetClick(ctx, clickID)
	if errors.Is(err, domain.ErrNotFound) {
		return domain.Conversion{}, false, refuse(404, domain.RefusalUnknownClick, fmt.Sprintf("click ID %q was not issued by this network", clickID))
	}
	if err != nil {
		return domain.Conversion{}, false, err
	}
	offer, err := k.store.GetOffer(ctx, click.OfferID)
	if err != nil {
		return domain.Conversion{}, false, err
	}
	if offer.Downstream.NetworkID != n.ID {
		return domain.Conversion{}, false, refuse(403, domain.RefusalForeignClick, fmt.Sprintf("click %s was not sent to network %s", clickID, n.ID))
	}
	currency := strings.ToUpper(get(pn.Currency))
	if currency == "" {
		currency = "JPY"
	}
	if len(currency) != 3 || strings.Trim(currency, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		return domain.Conversion{}, false, refuse(400, domain.RefusalInvalidParameter, fmt.Sprintf("%s must be an ISO 4217 code", pn.Currency))
	}
	minor, err := kickbackAmount(currency, pn, get)
	if err != nil {
		return domain.Conversion{}, false, refuse(400, domain.RefusalInvalidParameter, err.Error())
	}
	in.Amount = domain.Money{Currency: currency, Minor: minor}
	var status domain.ConversionStatus
	switch s := strings.ToLower(get(pn.Status)); s {
	case "", "pending", "0":
		status = domain.StatusPending
	case "approved", "approve", "1":
		status = domain.StatusApproved
	case "rejected", "reject", "cancel", "cancelled", "2":
		status = domain.StatusRejected
	case "reversed", "refund", "refunded":
		status = domain.StatusReversed
	default:
		return domain.Conversion{}, false, refuse(400, domain.RefusalInvalidParameter, fmt.Sprintf("%s %q is not pending, approved, rejected or reversed", pn.Status, s))
	}
	p := domain.Principal{Role: domain.RoleNetwork, PartnerID: n.ID, KeyID: "network:" + n.ID}
	conv, dup, err := k.conv.Record(ctx, p, in)
	if err != nil {
		var r *Refused
		if errors.As(err, &r) {
			return conv, dup, &KickbackError{400, r.Message}
		}
		return conv, dup, err
	}
	if status == domain.StatusPending || conv.Status == status {
		return conv, dup, nil
	}
	// Apply the status the network reports, as the network.
	system := domain.Principal{Role: domain.RoleAdmin, KeyID: "network:" + n.ID}
	path := []domain.ConversionStatus{status}
	if status == domain.StatusReversed && conv.Status == domain.StatusPending {
		path = []domain.ConversionStatus{domain.StatusApproved, domain.StatusReversed}
	}
	for _, to := range path {
		err := k.conv.inTx(ctx, func(tx ConversionTx) error {
			return k.conv.changeStatus(ctx, tx, system, conv.ID, to, "", "kickback", "reported by network "+n.ID, "network:"+n.ID)
		})
		if err != nil && !errors.Is(err, domain.ErrFailedPrecondition) {
			return conv, dup, err
		}
		if err != nil {
			return conv, dup, &KickbackError{409, publicText(err)}
		}
	}
	out, err := k.conv.store.GetConversion(ctx, conv.ID)
	return out, dup, err
}

// kickbackAmount reads the sale amount in minor units: the amount parameter
// is a decimal in the currency's major unit ("12.50" USD), amount_minor a
// whole number of its minor unit ("1250"). Either may be sent, or both when
// they agree; neither is a free sale.
func kickbackAmount(currency string, pn domain.KickbackParams, get func(string) string) (int64, error) {
	dec, whole := get(pn.Amount), get(pn.AmountMinor)
	var fromDec, fromMinor int64
	if dec != "" {
		n, err := attribution.ParseDecimal(currency, dec)
		if err != nil {
			return 0, fmt.Errorf("%s must be a decimal in %s's major unit with at most %d decimals (e.g. %s): %v", pn.Amount, currency,
				attribution.MinorDigits(currency), attribution.Decimal(currency, 1250), err)
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

func publicText(err error) string {
	s := err.Error()
	if i := strings.Index(s, " ("); i > 0 {
		s = s[:i]
	}
	return s
}
