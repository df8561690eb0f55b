package dataapi

import (
	"encoding/json"
	"sync"

	"github.com/db9/db9/internal/dataapi/payload"
)

// maxClaimSets bounds the kept claim settings (memory): past it they are
// all dropped.
const maxClaimSets = 4096

// maxClaimText is the longest claims text kept; longer ones (rare, and
// costly to keep) are decoded per request.
const maxClaimText = 4096

// claimCache keeps the request.jwt.claim.<name> settings of a claims
// object by its text: a token is sent many times, and decoding its claims
// on every request costs more than the rest of the setup statement.
type claimCache struct {
	mu sync.RWMutex // read by every request, written once per claims text
	m  map[string][][]byte
}

func newClaimCache() *claimCache { return &claimCache{m: map[string][][]byte{}} }

// settings returns name, value, name, value... for the claims that get a
// setting of their own (claimKey). The slices are shared: read only.
func (c *claimCache) settings(claims json.RawMessage) [][]byte {
	c.mu.RLock()
	s, ok := c.m[string(claims)]
	c.mu.RUnlock()
	if ok {
		return s
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(claims, &m) == nil {
		for k, v := range m {
			if claimKey(k) {
				s = append(s, []byte("request.jwt.claim."+k), []byte(payload.ScalarText(v)))
			}
		}
	}
	if len(claims) > maxClaimText {
		return s
	}
	c.mu.Lock()
	if len(c.m) >= maxClaimSets {
		clear(c.m)
	}
	c.m[string(claims)] = s
	c.mu.Unlock()
	return s
}
