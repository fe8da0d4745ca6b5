package platformsim

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/pnstream/pnstream/internal/axeapi"
	"github.com/pnstream/pnstream/internal/redact"
)

// Success bodies. The field names and types are privatenumber's, which
// follow reference §2–§3; api_test.go also checks the raw JSON.
type (
	bindAnswer struct {
		success
		axeapi.BindResponse
	}
	queryAnswer struct {
		success
		axeapi.BindingInfo
	}
)

// defaultBindHours is the documented default binding lifetime.
const defaultBindHours = 168

// bind is CreateAXEBinding (reference §2).
func (a *api) bind(r *http.Request, now time.Time) (any, error) {
	f, err := decodeFields(r)
	if err != nil {
		return nil, err
	}
	p := &parser{f: f}
	x := p.str("virtualNum", 32)
	area := p.str("areaCode", 32)
	mode := p.str("areaMatchMode", 1)
	bd := Binding{
		BindNum:        p.str("bindNum", 32),
		ExtendNum:      p.str("extendNum", 4),
		DisplayNumMode: p.str("displayNumMode", 1),
		RecordHintTone: p.str("recordHintTone", 128),
		CallbackTone:   p.str("callbackTone", 128),
		CallbackNum:    p.str("callbackNum", 32),
		TimeUnit:       p.str("timeUnit", 1),
		UserData:       p.str("userData", 256),
	}
	bd.RecordFlag, _ = p.flag("recordFlag")
	bindExp, bindSet := p.integer("bindExpiredTime")
	cbExp, _ := p.integer("callbackExpiredTime")
	if p.err != nil {
		return nil, p.err
	}

	switch {
	case x != "": // wins over areaCode
		p.check(checkNumber("virtualNum", x))
	case area != "":
		if !areaCodePattern.MatchString(area) {
			p.check(invalid("areaCode", "%q is not an area code such as 0755", redact.Truncate(area, 40)))
		}
	default:
		p.check(invalid("virtualNum", "required, or areaCode"))
	}
	if mode != "" {
		p.check(checkEnum("areaMatchMode", mode, axeapi.AreaMatchStrict, axeapi.AreaMatchLoose))
	}
	if bd.BindNum == "" {
		p.check(invalid("bindNum", "required"))
	}
	p.check(checkNumber("bindNum", bd.BindNum))
	if bd.ExtendNum != "" {
		p.check(checkExtension("extendNum", bd.ExtendNum, a.bindings.ExtensionDigits()))
	}
	bd.ExpirySetAtBind = bd.TimeUnit != "" || bindSet
	bd.DisplayNumMode = orDefault(bd.DisplayNumMode, axeapi.DisplayVirtualNum)
	bd.TimeUnit = orDefault(bd.TimeUnit, axeapi.TimeUnitHours)
	p.check(a.checkOptions(&bd, bindExp, bindSet, cbExp))
	if p.err != nil {
		return nil, p.err
	}
	if x != "" && !a.numbers[x] {
		return nil, &axeapi.APIError{ResultCode: codeNotAppNumber, ResultDesc: "virtualNum is not a number of this app"}
	}

	created, err := a.create(bd, x, area, mode, now)
	if err != nil {
		return nil, err
	}
	return bindAnswer{success: succeeded, BindResponse: axeapi.BindResponse{
		SubscriptionID:      created.SubscriptionID,
		VirtualNum:          created.VirtualNum,
		ExtendNum:           created.ExtendNum,
		BindExpiredTime:     created.BindExpiredTime,
		CallbackExpiredTime: created.CallbackExpiredTime,
	}}, nil
}

// create stores the binding on X, or with an areaCode on the first of the
// area's X numbers that can take it; none → 1011002.
func (a *api) create(bd Binding, x, area, mode string, now time.Time) (Binding, error) {
	if x != "" {
		bd.VirtualNum = x
		return a.bindings.Create(bd, now)
	}
	for _, c := range a.numbersFor(area, mode) {
		bd.VirtualNum = c
		created, err := a.bindings.Create(bd, now)
		if errors.Is(err, ErrExtensionTaken) || errors.Is(err, ErrDuplicateBinding) {
			continue // this X cannot take it: try the next
		}
		return created, err
	}
	return Binding{}, &axeapi.APIError{ResultCode: codeNoNumber, ResultDesc: "Insufficient number resources for areaCode " + area}
}

// checkOptions checks the bind fields shared with modify's rules and fills
// the lifetimes: bindExp defaults to 168 hours in bd.TimeUnit.
func (a *api) checkOptions(bd *Binding, bindExp int, bindSet bool, cbExp int) error {
	if err := checkEnum("displayNumMode", bd.DisplayNumMode, axeapi.DisplayVirtualNum, axeapi.DisplayCaller); err != nil {
		return err
	}
	if bd.CallbackTone != "" && bd.CallbackNum != "" {
		return invalid("callbackTone", "mutually exclusive with callbackNum")
	}
	if bd.CallbackNum != "" {
		if err := checkNumber("callbackNum", bd.CallbackNum); err != nil {
			return err
		}
	}
	if err := checkEnum("timeUnit", bd.TimeUnit, axeapi.TimeUnitHours, axeapi.TimeUnitMinutes); err != nil {
		return err
	}
	if !bindSet {
		bindExp = defaultBindHours
		if bd.TimeUnit == axeapi.TimeUnitMinutes {
			bindExp *= 60
		}
	}
	if err := checkLifetime("bindExpiredTime", bindExp, bd.TimeUnit); err != nil {
		return err
	}
	if err := checkLifetime("callbackExpiredTime", cbExp, bd.TimeUnit); err != nil {
		return err
	}
	if bindExp != 0 && cbExp > bindExp {
		return invalid("callbackExpiredTime", "%d exceeds bindExpiredTime %d", cbExp, bindExp)
	}
	bd.BindExpiredTime, bd.CallbackExpiredTime = bindExp, cbExp
	return nil
}

// numbersFor lists the app's X numbers an areaCode bind may use, best
// first. An X's city is its AreaCodes entry or, for a landline X without
// one, its area code (+86, the code without its 0, the number). Strict
// mode (the default, UNCONFIRMED) uses those, loose mode falls back to
// every X of the app (the province step is skipped: the simulator knows
// no provinces).
func (a *api) numbersFor(area, mode string) []string {
	var local, others []string
	for _, x := range a.cfg.VirtualNumbers {
		if a.inArea(x, area) {
			local = append(local, x)
		} else {
			others = append(others, x)
		}
	}
	if mode == axeapi.AreaMatchLoose {
		return append(local, others...)
	}
	return local
}

func (a *api) inArea(x, area string) bool {
	if code, ok := a.cfg.AreaCodes[x]; ok {
		return code == area
	}
	return strings.HasPrefix(x, "+86"+strings.TrimPrefix(area, "0"))
}

// unbind deletes a binding (reference §3).
func (a *api) unbind(r *http.Request, now time.Time) (any, error) {
	bd, err := a.lookupQuery(r, now)
	if err != nil {
		return nil, err
	}
	if _, err := a.bindings.Delete(bd.SubscriptionID, now); err != nil {
		return nil, err
	}
	return succeeded, nil
}

// query answers one binding, flat (query v1, reference §3).
func (a *api) query(r *http.Request, now time.Time) (any, error) {
	bd, err := a.lookupQuery(r, now)
	if err != nil {
		return nil, err
	}
	return queryAnswer{success: succeeded, BindingInfo: bindingInfo(bd)}, nil
}

// bindingInfo is a binding as the query APIs answer it.
func bindingInfo(bd Binding) axeapi.BindingInfo {
	return axeapi.BindingInfo{
		SubscriptionID:      bd.SubscriptionID,
		VirtualNum:          bd.VirtualNum,
		ExtendNum:           bd.ExtendNum,
		BindNum:             bd.BindNum,
		DisplayNumMode:      bd.DisplayNumMode,
		RecordFlag:          axeapi.Flag(bd.RecordFlag),
		RecordHintTone:      bd.RecordHintTone,
		CallbackTone:        bd.CallbackTone,
		CallbackNum:         bd.CallbackNum,
		TimeUnit:            bd.TimeUnit,
		BindExpiredTime:     bd.BindExpiredTime,
		CallbackExpiredTime: bd.CallbackExpiredTime,
		UserData:            bd.UserData,
	}
}

func (a *api) lookupQuery(r *http.Request, now time.Time) (Binding, error) {
	q := r.URL.Query()
	sid, err1 := queryParam(q, "subscriptionId", 64, false)
	x, err2 := queryParam(q, "virtualNum", 32, false)
	e, err3 := queryParam(q, "extendNum", 4, false)
	if err := firstOf(err1, err2, err3); err != nil {
		return Binding{}, err
	}
	return a.lookup(sid, x, e, now)
}

// lookup finds the active binding named by subscriptionId (which wins) or
// by virtualNum and extendNum, which must come together.
func (a *api) lookup(sid, x, e string, now time.Time) (Binding, error) {
	if sid == "" {
		switch {
		case x == "" && e == "":
			return Binding{}, invalid("subscriptionId", "required, or virtualNum and extendNum")
		case x == "":
			return Binding{}, invalid("virtualNum", "required with extendNum")
		case e == "":
			return Binding{}, invalid("extendNum", "required with virtualNum")
		}
		if err := checkNumber("virtualNum", x); err != nil {
			return Binding{}, err
		}
		if err := checkExtension("extendNum", e, a.bindings.ExtensionDigits()); err != nil {
			return Binding{}, err
		}
	}
	return a.bindings.Lookup(sid, x, e, now)
}

// modify changes the fields a PUT body sets (reference §3). The binding is
// found by subscriptionId or virtualNum+extendNum in the body.
//
// A new bindExpiredTime counts from the modify (UNCONFIRMED) in the
// request's timeUnit, hours when left out; a new callbackExpiredTime
// likewise. When the bind itself set the lifetime, query keeps reporting
// the bind-time timeUnit and bindExpiredTime (documented quirk) while the
// binding expires by the new one. Setting callbackTone clears callbackNum
// and the reverse: the two are exclusive.
func (a *api) modify(r *http.Request, now time.Time) (any, error) {
	f, err := decodeFields(r)
	if err != nil {
		return nil, err
	}
	p := &parser{f: f}
	sid, x, e := p.str("subscriptionId", 64), p.str("virtualNum", 32), p.str("extendNum", 4)
	display := p.str("displayNumMode", 1)
	record, recordSet := p.flag("recordFlag")
	hint := p.str("recordHintTone", 128)
	tone, num := p.str("callbackTone", 128), p.str("callbackNum", 32)
	unit := p.str("timeUnit", 1)
	bindExp, bindSet := p.integer("bindExpiredTime")
	cbExp, cbSet := p.integer("callbackExpiredTime")
	userData, userSet := p.str("userData", 256), f.present("userData")
	if p.err != nil {
		return nil, p.err
	}
	if display != "" {
		p.check(checkEnum("displayNumMode", display, axeapi.DisplayVirtualNum, axeapi.DisplayCaller))
	}
	if tone != "" && num != "" {
		p.check(invalid("callbackTone", "mutually exclusive with callbackNum"))
	}
	if num != "" {
		p.check(checkNumber("callbackNum", num))
	}
	effUnit := orDefault(unit, axeapi.TimeUnitHours)
	p.check(checkEnum("timeUnit", effUnit, axeapi.TimeUnitHours, axeapi.TimeUnitMinutes))
	if bindSet {
		p.check(checkLifetime("bindExpiredTime", bindExp, effUnit))
	}
	if cbSet {
		p.check(checkLifetime("callbackExpiredTime", cbExp, effUnit))
	}
	if bindSet && cbSet && bindExp != 0 && cbExp > bindExp {
		p.check(invalid("callbackExpiredTime", "%d exceeds bindExpiredTime %d", cbExp, bindExp))
	}
	if p.err != nil {
		return nil, p.err
	}
	bd, err := a.lookup(sid, x, e, now)
	if err != nil {
		return nil, err
	}
	_, err = a.bindings.Modify(bd.SubscriptionID, now, func(b *Binding) error {
		if display != "" {
			b.DisplayNumMode = display
		}
		if recordSet {
			b.RecordFlag = record
		}
		if hint != "" {
			b.RecordHintTone = hint
		}
		if tone != "" {
			b.CallbackTone, b.CallbackNum = tone, ""
		}
		if num != "" {
			b.CallbackTone, b.CallbackNum = "", num
		}
		if userSet {
			b.UserData = userData
		}
		if bindSet {
			b.ExpiresAt = expiry(now, effUnit, bindExp)
		}
		if cbSet {
			b.CallbackValidity = lifetime(effUnit, cbExp)
			b.CallbackExpiredTime = cbExp
		}
		if !b.ExpirySetAtBind {
			if unit != "" {
				b.TimeUnit = unit
			}
			if bindSet {
				b.BindExpiredTime = bindExp
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return succeeded, nil
}

func firstOf(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
