package platformsim

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pnstream/pnstream/internal/axeapi"
	"github.com/pnstream/pnstream/internal/redact"
)

// Query v2 and the virtual-number API (reference §3, §11.2). Only the
// parameters and the next-page field nextCusor (sic) are documented; the
// list names (bindInfoList, numberList with bindCount) are the simulator's
// choice, and privatenumber's client accepts several.

// Page sizes: limit is 1..100, default 50 (documented for the
// virtual-number API; query v2 is given the same bounds, UNCONFIRMED).
const (
	defaultPageLimit = 50
	maxPageLimit     = 100
)

var cursorPattern = regexp.MustCompile(`^\d{13}_\d{1,20}$`)

type (
	bindingPageAnswer struct {
		success
		Bindings []axeapi.BindingInfo `json:"bindInfoList"`
		Next     string               `json:"nextCusor,omitempty"`
	}
	numberCount struct {
		Number    string `json:"number"`
		BindCount int    `json:"bindCount"`
	}
	numberPageAnswer struct {
		success
		Numbers []numberCount `json:"numberList"`
		Next    string        `json:"nextCusor,omitempty"`
	}
)

// pageParams reads cursor (absent = the first page) and limit.
func pageParams(q url.Values) (ms int64, skip uint64, limit int, err error) {
	limit = defaultPageLimit
	if s := q.Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > maxPageLimit {
			return 0, 0, 0, invalid("limit", "%q: want an integer in 1..%d", redact.Truncate(s, 40), maxPageLimit)
		}
	}
	c := q.Get("cursor")
	if c == "" {
		return 0, 0, limit, nil
	}
	if !cursorPattern.MatchString(c) {
		return 0, 0, 0, invalid("cursor", `%q does not match \d{13}_\d{1,20} (first page: %s)`, redact.Truncate(c, 40), axeapi.FirstCursor)
	}
	head, tail, _ := strings.Cut(c, "_")
	ms, err1 := strconv.ParseInt(head, 10, 64)
	skip, err2 := strconv.ParseUint(tail, 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, 0, invalid("cursor", "%q out of range", redact.Truncate(c, 40))
	}
	return ms, skip, limit, nil
}

// serveQueryV2 pages through the bindings a query selects, oldest first.
// A cursor is the creation time in milliseconds of the last binding
// returned and how many bindings of that millisecond were returned, so a
// page boundary inside one millisecond is exact. A binding deleted between
// two pages may shift the next page's start within that millisecond.
func (a *api) serveQueryV2(w http.ResponseWriter, r *http.Request) {
	if !a.admit(w, r, http.MethodGet) {
		return
	}
	answer, err := a.queryV2(r, a.cfg.Now())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, answer)
}

func (a *api) queryV2(r *http.Request, now time.Time) (any, error) {
	q := r.URL.Query()
	ms, skip, limit, err := pageParams(q)
	if err != nil {
		return nil, err
	}
	sid, err1 := queryParam(q, "subscriptionId", 64, false)
	x, err2 := queryParam(q, "virtualNum", 32, false)
	e, err3 := queryParam(q, "extendNum", 4, false)
	if err := firstOf(err1, err2, err3); err != nil {
		return nil, err
	}
	var list []Binding
	switch {
	case sid != "" || e != "": // one binding, as query v1 finds it
		bd, err := a.lookup(sid, x, e, now)
		if err != nil {
			return nil, err
		}
		list = []Binding{bd}
	case x != "":
		if err := checkNumber("virtualNum", x); err != nil {
			return nil, err
		}
		for _, bd := range a.bindings.Snapshot(now) {
			if bd.VirtualNum == x {
				list = append(list, bd)
			}
		}
	default:
		return nil, invalid("virtualNum", "required, or subscriptionId, or virtualNum and extendNum")
	}

	// Skip what earlier pages returned.
	i := 0
	for i < len(list) && list[i].CreatedAt.UnixMilli() < ms {
		i++
	}
	for n := uint64(0); i < len(list) && list[i].CreatedAt.UnixMilli() == ms && n < skip; n++ {
		i++
	}
	end := min(i+limit, len(list))
	answer := bindingPageAnswer{success: succeeded, Bindings: make([]axeapi.BindingInfo, 0, end-i)}
	for _, bd := range list[i:end] {
		answer.Bindings = append(answer.Bindings, bindingInfo(bd))
	}
	if end < len(list) {
		last := list[end-1].CreatedAt.UnixMilli()
		n := 0
		for k := end - 1; k >= 0 && list[k].CreatedAt.UnixMilli() == last; k-- {
			n++
		}
		answer.Next = fmt.Sprintf("%013d_%d", last, n)
	}
	return answer, nil
}

// serveVirtualNumbers answers the app's X numbers with their binding
// counts, number (optional) selecting one, paged over the configured
// order; the cursor's second part is the offset in that order.
func (a *api) serveVirtualNumbers(w http.ResponseWriter, r *http.Request) {
	if !a.admit(w, r, http.MethodGet) {
		return
	}
	q := r.URL.Query()
	_, skip, limit, err := pageParams(q)
	if err == nil {
		var number string
		if number, err = queryParam(q, "number", 32, false); err == nil {
			var answer numberPageAnswer
			if answer, err = a.virtualNumbers(number, skip, limit); err == nil {
				writeJSON(w, http.StatusOK, answer)
				return
			}
		}
	}
	a.fail(w, r, err)
}

func (a *api) virtualNumbers(number string, skip uint64, limit int) (numberPageAnswer, error) {
	numbers := a.cfg.VirtualNumbers
	if number != "" {
		if err := checkNumber("number", number); err != nil {
			return numberPageAnswer{}, err
		}
		if !a.numbers[number] {
			return numberPageAnswer{}, &axeapi.APIError{ResultCode: codeNotAppNumber, ResultDesc: "number is not a number of this app"}
		}
		numbers = []string{number}
	}
	counts := map[string]int{}
	for _, bd := range a.bindings.Snapshot(a.cfg.Now()) {
		counts[bd.VirtualNum]++
	}
	start := int(min(skip, uint64(len(numbers))))
	end := min(start+limit, len(numbers))
	answer := numberPageAnswer{success: succeeded, Numbers: make([]numberCount, 0, end-start)}
	for _, x := range numbers[start:end] {
		answer.Numbers = append(answer.Numbers, numberCount{Number: x, BindCount: counts[x]})
	}
	if end < len(numbers) {
		answer.Next = fmt.Sprintf("%013d_%d", 0, end)
	}
	return answer, nil
}
