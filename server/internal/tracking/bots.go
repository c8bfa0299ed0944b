package tracking

import (
	_ "embed"
	"encoding/json"
	"regexp"
	"regexp/syntax"
	"strings"
	"sync"
)

// crawlerUserAgents is the crawler-user-agents list (github.com/monperrus/
// crawler-user-agents, MIT licence, see crawler-user-agents.NOTICE), the
// version pinned in crawler-user-agents.version. `make update-bots`
// rewrites both from the npm package of that name.
//
//go:embed crawler-user-agents.json
var crawlerUserAgents []byte

//go:embed crawler-user-agents.version
var crawlerUserAgentsVersion string

// BotListVersion is the version of the embedded crawler-user-agents list.
func BotListVersion() string { return strings.TrimSpace(crawlerUserAgentsVersion) }

// crawlerPattern is one entry of the list (only what Baton reads).
type crawlerPattern struct {
	Pattern   string   `json:"pattern"`
	Instances []string `json:"instances"`
}

// botList is the list compiled for the click path. One RE2 alternation of
// ~1,500 patterns costs milliseconds per user agent, so each pattern is
// indexed by a literal it requires (its longest, lower-cased): a user agent
// is scanned once for the 3-byte starts of those literals, and only the
// few patterns whose literal it contains run their regexp. Patterns with
// no such literal run together in one regexp. A bounded cache keeps the
// answers, since clicks repeat the same few thousand user agents.
type botList struct {
	once  sync.Once
	byTri map[[3]byte][]int // first 3 bytes of a required literal → patterns
	lits  []string          // pattern i's required literal, lower case
	res   []*regexp.Regexp  // pattern i
	rest  *regexp.Regexp    // patterns without a usable literal, or nil
	n     int
	nRest int

	mu    sync.RWMutex
	cache map[string]bool
}

// notBots are patterns of the list Baton does not apply. HeadlessChrome is
// a real browser engine running the page's scripts (shops' QA, Baton's own
// end-to-end tests through Chromium): its clicks stay attributable, and a
// network that wants them refused adds a user-agent blocklist entry.
var notBots = map[string]bool{"HeadlessChrome": true}

// uaCacheSize bounds the answers kept; at the bound the cache starts over.
const uaCacheSize = 10_000

var bots botList

func (b *botList) compile() {
	b.once.Do(func() {
		var list []crawlerPattern
		if err := json.Unmarshal(crawlerUserAgents, &list); err != nil {
			panic("tracking: embedded crawler-user-agents.json: " + err.Error())
		}
		b.byTri = map[[3]byte][]int{}
		var rest []string
		for _, p := range list {
			if notBots[p.Pattern] {
				continue
			}
			re, err := regexp.Compile(p.Pattern)
			if err != nil {
				continue // not RE2 syntax: the markers still apply
			}
			b.n++
			lits := requiredLiterals(p.Pattern)
			if len(lits) == 0 {
				rest = append(rest, "(?:"+p.Pattern+")")
				continue
			}
			for _, lit := range lits {
				var key [3]byte
				copy(key[:], lit)
				b.byTri[key] = append(b.byTri[key], len(b.res))
				b.lits = append(b.lits, lit)
				b.res = append(b.res, re)
			}
		}
		if len(rest) > 0 {
			b.rest = regexp.MustCompile(strings.Join(rest, "|"))
		}
		b.nRest = len(rest)
		b.cache = make(map[string]bool, 1024)
	})
}

// requiredLiterals are literals one of which every match of pattern
// contains, lower-cased: the longest literal of a concatenation, or one per
// branch of an alternation (nil when there are none of 3 bytes or more).
func requiredLiterals(pattern string) []string {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil
	}
	re = re.Simplify()
	for re.Op == syntax.OpCapture && len(re.Sub) == 1 {
		re = re.Sub[0]
	}
	if re.Op != syntax.OpAlternate {
		if l := longestLiteral(re); len(l) >= 3 {
			return []string{l}
		}
		return nil
	}
	var lits []string
	for _, sub := range re.Sub {
		l := longestLiteral(sub)
		if len(l) < 3 {
			return nil
		}
		lits = append(lits, l)
	}
	return lits
}

// longestLiteral is re's literal, or the longest literal of its
// concatenation, lower-cased.
func longestLiteral(re *syntax.Regexp) string {
	for re.Op == syntax.OpCapture && len(re.Sub) == 1 {
		re = re.Sub[0]
	}
	subs := []*syntax.Regexp{re}
	if re.Op == syntax.OpConcat {
		subs = re.Sub
	}
	best := ""
	for _, r := range subs {
		if r.Op == syntax.OpLiteral {
			if l := strings.ToLower(string(r.Rune)); len(l) > len(best) {
				best = l
			}
		}
	}
	return best
}

// listed reports whether ua matches a pattern of the list.
func (b *botList) listed(ua, lower string) bool {
	b.compile()
	b.mu.RLock()
	hit, ok := b.cache[ua]
	b.mu.RUnlock()
	if ok {
		return hit
	}
	hit = b.listedUncached(ua, lower)
	b.mu.Lock()
	if len(b.cache) >= uaCacheSize {
		b.cache = make(map[string]bool, 1024)
	}
	b.cache[ua] = hit
	b.mu.Unlock()
	return hit
}

// listedUncached runs the list on ua (lower is ua lower-cased).
func (b *botList) listedUncached(ua, lower string) bool {
	b.compile()
	var key [3]byte
	for i := 0; i+3 <= len(lower); i++ {
		copy(key[:], lower[i:i+3])
		for _, j := range b.byTri[key] {
			if strings.HasPrefix(lower[i:], b.lits[j]) && b.res[j].MatchString(ua) {
				return true
			}
		}
	}
	return b.rest != nil && b.rest.MatchString(ua)
}

// BotPatterns is how many patterns of the embedded list are in use.
func BotPatterns() int { bots.compile(); return bots.n }

// knownBotInstances are the example user agents the list gives for each
// pattern (for tests).
func knownBotInstances() []string {
	var list []crawlerPattern
	if err := json.Unmarshal(crawlerUserAgents, &list); err != nil {
		return nil
	}
	var out []string
	for _, p := range list {
		if notBots[p.Pattern] {
			continue
		}
		out = append(out, p.Instances...)
	}
	return out
}
