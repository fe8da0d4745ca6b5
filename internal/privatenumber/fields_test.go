package privatenumber

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// The decoders' key lists are written out for speed (feeKeys, the
// feeKeyExact switch, feeJSON, statusJSON, the numInfo item's keys); these
// tests derive the keys from the models by reflection, so that a field
// added to FeeRecord, CallEvent or NumberStatus cannot silently miss a
// decoder.

// jsonNames returns the JSON names of t's fields in field order, leaving
// out fields tagged json:"-" and untagged ones.
func jsonNames(t reflect.Type) []string {
	var names []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}

// sameNames reports the names of want missing from got and the names of
// got not in want, or "" when the two are equal in order.
func sameNames(got, want []string) string {
	if slices.Equal(got, want) {
		return ""
	}
	var missing, extra []string
	for _, n := range want {
		if !slices.Contains(got, n) {
			missing = append(missing, n)
		}
	}
	for _, n := range got {
		if !slices.Contains(want, n) {
			extra = append(extra, n)
		}
	}
	var diff []string
	if missing != nil {
		diff = append(diff, "missing "+strings.Join(missing, ","))
	}
	if extra != nil {
		diff = append(diff, "extra "+strings.Join(extra, ","))
	}
	if diff == nil {
		return "the same names in another order"
	}
	return strings.Join(diff, "; ")
}

func TestFeeKeysAreFeeRecordTags(t *testing.T) {
	want := jsonNames(reflect.TypeFor[FeeRecord]())
	// In FeeRecord's order: the fee* constants number the fields, and
	// Anomalies come in field order.
	if diff := sameNames(feeKeys[:], want); diff != "" {
		t.Errorf("feeKeys against FeeRecord's json tags: %s", diff)
	}
	if diff := sameNames(jsonNames(reflect.TypeFor[feeJSON]()), want); diff != "" {
		t.Errorf("feeJSON against FeeRecord's json tags: %s", diff)
	}
	for f, key := range feeKeys {
		if got, ok := feeKeyExact([]byte(key)); !ok || got != f {
			t.Errorf("feeKeyExact(%q) = %d, %v; want %d", key, got, ok, f)
		}
	}
}

func TestPushKeysArePushBodyTags(t *testing.T) {
	if diff := sameNames(pushKeys, jsonNames(reflect.TypeFor[pushBody]())); diff != "" {
		t.Errorf("pushKeys against pushBody's json tags: %s", diff)
	}
}

// sample is a JSON value for a field of type t and the value the field
// takes from it, for every type a model field has.
func sample(t *testing.T, typ reflect.Type) (string, reflect.Value) {
	one := Int(1) // in every documented range
	switch typ {
	case reflect.TypeFor[string]():
		return `"v1"`, reflect.ValueOf("v1")
	case reflect.TypeFor[Int]():
		return `1`, reflect.ValueOf(one)
	case reflect.TypeFor[*Int]():
		return `1`, reflect.ValueOf(&one)
	case reflect.TypeFor[Time]():
		return `"2024-05-02 11:00:00"`, reflect.ValueOf(Time{at("2024-05-02 11:00:00")})
	}
	t.Fatalf("no sample value of type %v: add one", typ)
	return "", reflect.Value{}
}

// TestEveryFeeRecordTagIsDecoded sets each tagged field of FeeRecord in a
// record and checks that both decoders fill the field.
func TestEveryFeeRecordTagIsDecoded(t *testing.T) {
	const ids = `"icid":"i","sessionId":"s","callInTime":"2024-05-01 10:00:00"`
	typ := reflect.TypeFor[FeeRecord]()
	for f := range typ.Fields() {
		key, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if key == "" || key == "-" {
			continue
		}
		js, want := sample(t, f.Type)
		field := f.Name
		if field == "ExtendNumber" {
			field = "ExtendNum" // the AXE sample's spelling, folded into ExtendNum
		}
		raw := []byte(`{` + ids + `,"` + key + `":` + js + `}`)
		for _, d := range []struct {
			name   string
			decode func([]byte) (FeeRecord, error)
		}{
			{"one-pass", DecodeFeeRecord},
			{"encoding/json", func(raw []byte) (FeeRecord, error) { return decodeFeeRecordJSON("", raw) }},
		} {
			r, err := d.decode(raw)
			if err != nil {
				t.Errorf("%s %s: %v", d.name, raw, err)
				continue
			}
			if got := reflect.ValueOf(r).FieldByName(field); !reflect.DeepEqual(got.Interface(), want.Interface()) {
				t.Errorf("%s %s: %s is %v, want %v", d.name, raw, field, got, want)
			}
		}
	}
}

// eventOnly are CallEvent's fields that statusInfo does not hold.
var eventOnly = []string{"EventType", "Anomalies", "Raw"}

// TestEveryCallEventFieldIsDecoded checks that statusJSON has a member for
// each of CallEvent's statusInfo fields, and that decoding one fills it.
func TestEveryCallEventFieldIsDecoded(t *testing.T) {
	var fields []string
	for f := range reflect.TypeFor[CallEvent]().Fields() {
		if !slices.Contains(eventOnly, f.Name) {
			fields = append(fields, f.Name)
		}
	}
	status := reflect.TypeFor[statusJSON]()
	var members []string
	for f := range status.Fields() {
		members = append(members, f.Name)
	}
	if diff := sameNames(members, fields); diff != "" {
		t.Fatalf("statusJSON's fields against CallEvent's statusInfo fields: %s", diff)
	}
	const ids = `"sessionId":"s","timestamp":"2024-01-01 00:00:00"`
	for f := range status.Fields() {
		key := f.Tag.Get("json")
		model, _ := reflect.TypeFor[CallEvent]().FieldByName(f.Name)
		js, want := sample(t, model.Type)
		raw := []byte(`{"eventType":"answer","statusInfo":{` + ids + `,"` + key + `":` + js + `}}`)
		e, err := DecodeCallEvent(raw)
		if err != nil {
			t.Errorf("%s: %v", raw, err)
			continue
		}
		if got := reflect.ValueOf(e).FieldByName(f.Name); !reflect.DeepEqual(got.Interface(), want.Interface()) {
			t.Errorf("%s: %s is %v, want %v", raw, f.Name, got, want)
		}
	}
}

// numberOnly are NumberStatus's fields that a numInfo item does not hold.
var numberOnly = []string{"Anomalies", "Raw", "StreamSeq"}

// TestEveryNumberStatusFieldIsDecoded checks that each of NumberStatus's
// item fields is read from the member of its name (lowerCamel), whose
// scanning is written out in scanNumInfoItem.
func TestEveryNumberStatusFieldIsDecoded(t *testing.T) {
	for f := range reflect.TypeFor[NumberStatus]().Fields() {
		if slices.Contains(numberOnly, f.Name) {
			continue
		}
		key := string(unicode.ToLower(rune(f.Name[0]))) + f.Name[1:]
		js, want := sample(t, f.Type)
		raw := []byte(`{"number":"+8617000000000","` + key + `":` + js + `}`)
		n, err := DecodeNumberStatus(raw)
		if err != nil {
			t.Errorf("%s: %v", raw, err)
			continue
		}
		if got := reflect.ValueOf(n).FieldByName(f.Name); !reflect.DeepEqual(got.Interface(), want.Interface()) {
			t.Errorf("%s: %s is %v, want %v", raw, f.Name, got, want)
		}
		// And in a push, the way ingest decodes it.
		p, err := DecodePush([]byte(`{"eventType":"numStatus","numInfo":[`+string(raw)+`]}`), NumStatusPush)
		if err != nil || len(p.Numbers) != 1 {
			t.Errorf("push of %s: %v", raw, err)
			continue
		}
		if got := reflect.ValueOf(p.Numbers[0]).FieldByName(f.Name); !reflect.DeepEqual(got.Interface(), want.Interface()) {
			t.Errorf("push of %s: %s is %v, want %v", raw, f.Name, got, want)
		}
	}
}
