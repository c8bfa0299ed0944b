package tracking

import (
	"strconv"
	"strings"
	"testing"
)

// browsers are user agents of real browsers (current and a few old ones):
// none may be taken for a bot.
var browsers = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
	"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
	"Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 OPR/115.0.0.0",
	"Mozilla/5.0 (iPad; CPU OS 16_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
}

func TestBrowsersAreNotBots(t *testing.T) {
	t.Parallel()
	for _, ua := range browsers {
		if IsBot(ua) {
			t.Errorf("IsBot(%q) = true for a browser", ua)
		}
	}
}

// Every example the list gives for its patterns is a bot: the list is
// embedded whole and compiled, not silently cut.
func TestListedCrawlersAreBots(t *testing.T) {
	t.Parallel()
	instances := knownBotInstances()
	if len(instances) < 1000 || BotPatterns() < 1000 {
		t.Fatalf("embedded list has %d patterns, %d examples: want the whole crawler-user-agents list", BotPatterns(), len(instances))
	}
	missed := 0
	for _, ua := range instances {
		if !IsBot(ua) {
			missed++
			if missed <= 5 {
				t.Errorf("IsBot(%q) = false for an example of the crawler list", ua)
			}
		}
	}
	if missed > 0 {
		t.Errorf("%d of %d listed crawler examples not taken for bots", missed, len(instances))
	}
	// Bots the old markers do not know, found only through the list.
	for _, ua := range []string{
		"Mozilla/5.0 (Linux; Android 7.0; SM-G930V Build/NRD90M) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/59.0.3071.125 Mobile Safari/537.36 (compatible; Google-Read-Aloud; +https://support.google.com/webmasters/answer/1061943)",
		"Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
	} {
		if !IsBot(ua) {
			t.Errorf("IsBot(%q) = false", ua)
		}
	}
	t.Logf("%d patterns, %d without a literal to index by", BotPatterns(), bots.nRest)
	if BotListVersion() == "" {
		t.Error("no version recorded for the embedded list")
	}
}

// BenchmarkIsBot is the cost on the click path: a browser user agent seen
// before (the cache), browsers never seen (the whole list runs), and a bot
// caught by the markers.
func BenchmarkIsBot(b *testing.B) {
	b.Run("browser-cached", func(b *testing.B) {
		ua := browsers[0]
		IsBot(ua)
		for b.Loop() {
			IsBot(ua)
		}
	})
	b.Run("browser-uncached", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			ua := browsers[i%len(browsers)] + strconv.Itoa(i)
			bots.listedUncached(ua, strings.ToLower(ua))
		}
	})
	b.Run("marker-bot", func(b *testing.B) {
		for b.Loop() {
			IsBot("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
		}
	})
}
