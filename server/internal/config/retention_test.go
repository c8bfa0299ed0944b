package config_test

import (
	"io"
	"strings"
	"testing"

	"github.com/batonhq/baton/server/internal/config"
)

// TestRetentionSettingsAreChecked: the retentions of conversions,
// deliveries and attempts default to keeping everything, and a setting that
// would drop conversions before their deliveries, or drop postbacks still
// within any retry schedule, is refused by name.
func TestRetentionSettingsAreChecked(t *testing.T) {
	t.Parallel()
	load := func(env map[string]string) (config.Config, error) {
		env["BATON_DATA_DIR"] = t.TempDir()
		return config.Load(nil, func(k string) string { return env[k] }, io.Discard)
	}
	c, err := load(map[string]string{})
	if err != nil || c.ConversionRetention != 0 || c.DeliveryRetention != 0 || c.AttemptRetention != 0 {
		t.Fatalf("defaults: %v %v %v %v; want all 0 (kept forever)", c.ConversionRetention, c.DeliveryRetention, c.AttemptRetention, err)
	}
	if _, err := load(map[string]string{"BATON_CONVERSION_RETENTION": "26280h", "BATON_DELIVERY_RETENTION": "8760h",
		"BATON_ATTEMPT_RETENTION": "2160h"}); err != nil {
		t.Fatalf("a sound setting: %v", err)
	}
	for _, bad := range []struct {
		env  map[string]string
		name string
	}{
		{map[string]string{"BATON_CONVERSION_RETENTION": "26280h"}, "BATON_CONVERSION_RETENTION"}, // deliveries kept forever
		{map[string]string{"BATON_CONVERSION_RETENTION": "720h", "BATON_DELIVERY_RETENTION": "720h"}, "BATON_CONVERSION_RETENTION"},
		{map[string]string{"BATON_CONVERSION_RETENTION": "9600h", "BATON_DELIVERY_RETENTION": "9700h"}, "BATON_CONVERSION_RETENTION"},
		{map[string]string{"BATON_DELIVERY_RETENTION": "24h"}, "BATON_DELIVERY_RETENTION"},
		{map[string]string{"BATON_ATTEMPT_RETENTION": "1h"}, "BATON_ATTEMPT_RETENTION"},
		{map[string]string{"BATON_DELIVERY_RETENTION": "720h", "BATON_ATTEMPT_RETENTION": "1000h"}, "BATON_ATTEMPT_RETENTION"},
	} {
		if _, err := load(bad.env); err == nil || !strings.Contains(err.Error(), bad.name) {
			t.Errorf("%v: err = %v, want one naming %s", bad.env, err, bad.name)
		}
	}
}
