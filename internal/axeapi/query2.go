package axeapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"

	"github.com/pnstream/pnstream/internal/privatenumber"
)

// Paths of the binding queries beyond v1 (reference §3, §11.2).
const (
	// PathAXEv2 is query v2: the bindings of one X, page by page.
	PathAXEv2 = "/rest/caas/extendnumber/v2.0"
	// PathVirtualNumber answers the binding count of an X number.
	PathVirtualNumber = "/rest/caas/virtualnumber/v1.0"
	// FirstCursor is the cursor of the first page; the platform's cursors
	// match \d{13}_\d{1,20}.
	FirstCursor = "0000000000000_0"
	// MaxPageLimit is the largest page size (documented 1..100, default 50,
	// for the count API; query v2's bounds are not published and taken to
	// be the same).
	MaxPageLimit = 100
)

// maxEmptyPages bounds the pages in a row without a binding that still
// name a next cursor: a platform that keeps answering so is looping.
const maxEmptyPages = 10

// QueryBindingsV2 iterates over the bindings that ref selects with query
// v2: all the bindings of an X when only ref.VirtualNum is set. limit is
// the page size, 1..MaxPageLimit; 0 means MaxPageLimit. Pages are fetched
// as the caller iterates and no further once it stops. An error is yielded
// once, last: the listing is then incomplete. A cursor the platform names
// a second time is such an error, not an endless loop.
func (c *Client) QueryBindingsV2(ctx context.Context, ref BindingRef, limit int) iter.Seq2[BindingInfo, error] {
	return func(yield func(BindingInfo, error) bool) {
		if limit == 0 {
			limit = MaxPageLimit
		}
		if limit < 1 || limit > MaxPageLimit {
			yield(BindingInfo{}, fmt.Errorf("query v2 %s: limit %d out of 1..%d", ref, limit, MaxPageLimit))
			return
		}
		cursor, seen, empty := FirstCursor, map[string]bool{}, 0
		for {
			seen[cursor] = true
			q := ref.query()
			q.Set("cursor", cursor)
			q.Set("limit", strconv.Itoa(limit))
			var p bindingPage
			if err := c.call(ctx, http.MethodGet, PathAXEv2, q, nil, &p); err != nil {
				yield(BindingInfo{}, fmt.Errorf("query v2 %s, cursor %s: %w", ref, cursor, err))
				return
			}
			for _, b := range p.Bindings {
				if !yield(b, nil) {
					return
				}
			}
			next := string(p.Next)
			switch {
			case next == "":
				return
			case seen[next]:
				yield(BindingInfo{}, fmt.Errorf("query v2 %s: the platform named cursor %s again after %s; listing incomplete", ref, next, cursor))
				return
			}
			if empty = empty + 1; len(p.Bindings) > 0 {
				empty = 0
			}
			if empty >= maxEmptyPages {
				yield(BindingInfo{}, fmt.Errorf("query v2 %s: %d empty pages in a row, still a next cursor; listing incomplete", ref, empty))
				return
			}
			cursor = next
		}
	}
}

// bindingPage is a query v2 answer. Only the next-page field is documented
// (spelled nextCusor, sic); nextCursor is accepted too. The list's name is
// not published (reference §11.2, UNCONFIRMED): the first array among
// bindingListFields is taken, and an answer without a list but with a
// subscriptionId is one flat binding, as query v1 answers.
type bindingPage struct {
	Next     text
	Bindings []BindingInfo
}

// bindingListFields are the names tried for query v2's list, in order;
// the simulator sends bindInfoList.
var bindingListFields = []string{"bindInfoList", "bindInfos", "bindInfo", "bindList", "bindings", "subscriptionList", "records", "data"}

func (p *bindingPage) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("query v2 answer: %w", err)
	}
	if err := nextCursor(m, &p.Next); err != nil {
		return err
	}
	for _, name := range bindingListFields {
		raw := bytes.TrimSpace(m[name])
		if len(raw) == 0 || raw[0] != '[' {
			continue
		}
		if err := json.Unmarshal(raw, &p.Bindings); err != nil {
			return fmt.Errorf("query v2 answer: %s: %w", name, err)
		}
		return nil
	}
	if _, ok := m["subscriptionId"]; ok {
		var one BindingInfo
		if err := json.Unmarshal(b, &one); err != nil {
			return fmt.Errorf("query v2 answer: %w", err)
		}
		p.Bindings = []BindingInfo{one}
	}
	return nil
}

// nextCursor reads the next-page cursor: nextCusor as documented (sic), or
// nextCursor.
func nextCursor(m map[string]json.RawMessage, next *text) error {
	for _, name := range []string{"nextCusor", "nextCursor"} {
		if raw, ok := m[name]; ok {
			if err := json.Unmarshal(raw, next); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if *next != "" {
				return nil
			}
		}
	}
	return nil
}

// CountBindings returns how many bindings X has, from the virtual-number
// API (GET PathVirtualNumber with number, cursor and limit). The answer's
// shape is not published (reference §11.2, UNCONFIRMED). Accepted: a count
// at the top level, or a list of numbers whose item for X carries the
// count, followed over pages; the count's name is one of
// bindingCountFields (the simulator sends numberList items with
// bindCount). An answer with no count for X is an error, never 0.
func (c *Client) CountBindings(ctx context.Context, virtualNum string) (int, error) {
	cursor, seen := FirstCursor, map[string]bool{}
	for {
		seen[cursor] = true
		q := url.Values{"number": {virtualNum}, "cursor": {cursor}, "limit": {strconv.Itoa(MaxPageLimit)}}
		var p countPage
		if err := c.call(ctx, http.MethodGet, PathVirtualNumber, q, nil, &p); err != nil {
			return 0, fmt.Errorf("count bindings of %s: %w", virtualNum, err)
		}
		if n, ok := p.count(virtualNum); ok {
			return n, nil
		}
		next := string(p.next)
		switch {
		case next == "":
			return 0, fmt.Errorf("count bindings of %s: %w", virtualNum, errNoCount)
		case seen[next]:
			return 0, fmt.Errorf("count bindings of %s: the platform named cursor %s again", virtualNum, next)
		}
		cursor = next
	}
}

var errNoCount = errors.New("the answer carries no binding count for this number")

// bindingCountFields are the names tried for a binding count, in order.
var bindingCountFields = []string{"bindCount", "bindingCount", "bindNumCount", "count", "total", "totalCount"}

// numberListFields are the names tried for the list of numbers.
var numberListFields = []string{"numberList", "numbers", "virtualNumList", "numberInfoList", "data"}

type countPage struct {
	next   text
	top    map[string]json.RawMessage
	listed bool // the answer has a list of numbers
	items  []map[string]json.RawMessage
}

func (p *countPage) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &p.top); err != nil {
		return fmt.Errorf("virtual number answer: %w", err)
	}
	if err := nextCursor(p.top, &p.next); err != nil {
		return err
	}
	for _, name := range numberListFields {
		raw := bytes.TrimSpace(p.top[name])
		if len(raw) > 0 && raw[0] == '[' {
			if err := json.Unmarshal(raw, &p.items); err != nil {
				return fmt.Errorf("virtual number answer: %s: %w", name, err)
			}
			p.listed = true
			break
		}
	}
	return nil
}

// count finds X's count: in X's list item when there is a list (a
// top-level total then counts the list's items, not bindings), else at the
// top level.
func (p *countPage) count(x string) (int, bool) {
	if !p.listed {
		return countIn(p.top)
	}
	for _, it := range p.items {
		var num text
		if json.Unmarshal(it["number"], &num) == nil && string(num) == x {
			return countIn(it)
		}
	}
	return 0, false
}

func countIn(m map[string]json.RawMessage) (int, bool) {
	for _, name := range bindingCountFields {
		if raw, ok := m[name]; ok {
			var n privatenumber.Int
			if json.Unmarshal(raw, &n) == nil && string(bytes.TrimSpace(raw)) != "null" && string(bytes.TrimSpace(raw)) != `""` {
				return int(n), true
			}
		}
	}
	return 0, false
}
