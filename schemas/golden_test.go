package schemas_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/schemas"
)

// compile compiles one embedded JSON Schema under its own file name.
func compile(t *testing.T, name string, doc []byte) *jsonschema.Schema {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(name, v); err != nil {
		t.Fatalf("add %s: %v", name, err)
	}
	s, err := c.Compile(name)
	if err != nil {
		t.Fatalf("compile %s: %v", name, err)
	}
	return s
}

// sampleKind tells from a testdata file name which push it is and whether
// it must be accepted: "[invalid-|seed-]{fee|event|numstatus}[-...].json". A name
// starting with "invalid-" must be rejected; every other must be accepted.
func sampleKind(t *testing.T, name string) (kind privatenumber.Kind, valid bool) {
	t.Helper()
	base, invalid := strings.CutPrefix(name, "invalid-")
	base = strings.TrimPrefix(base, "seed-")
	base = strings.TrimSuffix(base, ".json")
	head, _, _ := strings.Cut(base, "-")
	switch head {
	case "fee":
		return privatenumber.FeePush, !invalid
	case "event":
		return privatenumber.EventPush, !invalid
	case "numstatus":
		return privatenumber.NumStatusPush, !invalid
	}
	t.Fatalf("testdata/%s: name must be [invalid-|seed-]{fee|event|numstatus}[-...].json", name)
	return 0, false
}

// TestGolden validates every sample push in testdata/ against its JSON
// Schema and decodes it with privatenumber.DecodePush: both must accept the
// valid samples and reject the invalid ones, so that the published contract
// and the code that enforces it cannot drift apart unnoticed. Only identity
// makes a sample invalid (tolerance, DESIGN.md).
//
// Each schema also describes the documented form: with its
// $defs/tolerated replaced by false, it accepts a valid sample exactly when
// the decoder notes no anomaly in it; wantAnomalies pins the anomalies of
// the samples made to show them.
//
// The schema is an approximation of the decoder on spellings no sample
// exercises: it does not check that a date exists (2019-02-30) or fits a
// DateTime, or that a numeric string fits in 32 bits, and counts maxLength
// in characters where the decoder counts bytes.
func TestGolden(t *testing.T) {
	feeSchema := compile(t, schemas.FeePushSchemaFile, schemas.FeePushSchema())
	eventSchema := compile(t, schemas.CallEventSchemaFile, schemas.CallEventSchema())
	numStatusSchema := compile(t, schemas.NumStatusSchemaFile, schemas.NumStatusPushSchema())
	feeStrict := compile(t, schemas.FeePushSchemaFile, documentedOnly(t, schemas.FeePushSchema()))
	eventStrict := compile(t, schemas.CallEventSchemaFile, documentedOnly(t, schemas.CallEventSchema()))
	numStatusStrict := compile(t, schemas.NumStatusSchemaFile, documentedOnly(t, schemas.NumStatusPushSchema()))

	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 10 {
		t.Fatalf("found %d samples in testdata, want the seeds and the invalid samples", len(files))
	}
	var seenValid, seenInvalid, seenAnomalies int
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			kind, want := sampleKind(t, name)
			body, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			sch, strict := eventSchema, eventStrict
			switch kind {
			case privatenumber.FeePush:
				sch, strict = feeSchema, feeStrict
			case privatenumber.NumStatusPush:
				sch, strict = numStatusSchema, numStatusStrict
			}

			schemaErr := validate(sch, body)
			anomalies, decodeErr := decode(body, kind)
			if got := schemaErr == nil; got != want {
				t.Errorf("schema accepts = %v, want %v; schema error: %v", got, want, schemaErr)
			}
			if got := decodeErr == nil; got != want {
				t.Errorf("DecodePush accepts = %v, want %v; decode error: %v", got, want, decodeErr)
			}
			if decodeErr != nil && !errors.Is(decodeErr, privatenumber.ErrInvalid) {
				t.Errorf("decode error %v does not match privatenumber.ErrInvalid", decodeErr)
			}
			if !want {
				return
			}
			strictErr := validate(strict, body)
			if (strictErr == nil) != (len(anomalies) == 0) {
				t.Errorf("the documented form accepts = %v, but the decoder notes anomalies %v; schema error: %v", strictErr == nil, anomalies, strictErr)
			}
			if w, ok := wantAnomalies[name]; ok && fmt.Sprint(anomalies) != w {
				t.Errorf("anomalies %v, want %s", anomalies, w)
			}
			if len(anomalies) > 0 {
				seenAnomalies++
			}
		})
		if _, valid := sampleKind(t, name); valid {
			seenValid++
		} else {
			seenInvalid++
		}
	}
	if seenValid == 0 || seenInvalid == 0 || seenAnomalies == 0 {
		t.Errorf("testdata has %d valid (%d with anomalies) and %d invalid samples; want all three kinds", seenValid, seenAnomalies, seenInvalid)
	}
	for name := range wantAnomalies {
		if _, err := os.Stat(filepath.Join("testdata", name)); err != nil {
			t.Errorf("wantAnomalies names %s: %v", name, err)
		}
	}
}

// wantAnomalies are the anomalies of the samples that show tolerance, in
// body order, each record's in field order.
var wantAnomalies = map[string]string{
	"fee-2018-click-to-call-no-call-in-time.json": "[callInTime:missing]",
	"fee-tolerant-empty-call-in-time.json":        "[callInTime:missing]",
	"fee-tolerant-unknown-time-format.json":       "[callInTime:format]",
	"fee-tolerant-numbers-for-strings.json":       "[subscriptionId:type mptyId:type serviceType:type extendNum:type]",
	"fee-tolerant-number-for-service-type.json":   "[serviceType:type]",
	"fee-tolerant-enums-out-of-range.json":        "[direction:range recordFlag:range direction:range recordFlag:range]",
	"fee-tolerant-direction-out-of-range.json":    "[direction:range]",
	"fee-tolerant-record-flag-word.json":          "[recordFlag:type]",
	"fee-tolerant-word-for-int.json":              "[fwdUnaswRsn:type]",
	"fee-tolerant-fraction-for-int.json":          "[sipStatusCode:type]",
	"fee-axe-optional-fields.json":                "[]",
	"event-tolerant-unknown-type.json":            "[eventType:unknown]",
	"event-tolerant-fraction-state-code.json":     "[statusInfo.stateCode:type]",
	"event-tolerant-numbers-for-strings.json":     "[statusInfo.caller:type statusInfo.stateDesc:type statusInfo.callRelDirection:range]",
	"event-disconnect-call-rel-direction.json":    "[]",
}

// documentedOnly returns the schema doc with $defs/tolerated replaced by
// false: the documented form alone.
func documentedOnly(t *testing.T, doc []byte) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	defs, ok := m["$defs"].(map[string]any)
	if _, has := defs["tolerated"]; !ok || !has {
		t.Fatal("the schema has no $defs/tolerated")
	}
	defs["tolerated"] = false
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// validate applies a schema to a body; a body that is not JSON is rejected
// as the platform contract would.
func validate(sch *jsonschema.Schema, body []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return err
	}
	return sch.Validate(inst)
}

// decode reports whether DecodePush takes the whole body (an error for
// the body, or for any record the push would reject) and the anomalies of
// what it took.
func decode(body []byte, kind privatenumber.Kind) ([]privatenumber.Anomaly, error) {
	p, err := privatenumber.DecodePush(body, kind)
	if err != nil {
		return nil, err
	}
	if p.Event != nil {
		return p.Event.Anomalies, nil
	}
	var as []privatenumber.Anomaly
	for _, r := range p.Fees {
		as = append(as, r.Anomalies...)
	}
	for _, n := range p.Numbers {
		as = append(as, n.Anomalies...)
	}
	return as, p.Err()
}

// TestFeeSchemaCoversRecord keeps the fee schema's record properties and the
// JSON fields of privatenumber.FeeRecord the same set, so a field added to
// one is documented in the other.
func TestFeeSchemaCoversRecord(t *testing.T) {
	var doc struct {
		Defs struct {
			FeeRecord struct {
				Required   []string                   `json:"required"`
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"feeRecord"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(schemas.FeePushSchema(), &doc); err != nil {
		t.Fatal(err)
	}
	var props []string
	for k := range doc.Defs.FeeRecord.Properties {
		props = append(props, k)
	}
	slices.Sort(props)
	fields := feeRecordJSONFields()
	if !slices.Equal(props, fields) {
		t.Errorf("fee schema properties\n%v\nwant the FeeRecord JSON fields\n%v", props, fields)
	}
	for _, r := range doc.Defs.FeeRecord.Required {
		if !slices.Contains(fields, r) {
			t.Errorf("required %q is not a FeeRecord field", r)
		}
	}
}

// feeRecordJSONFields lists the JSON names of privatenumber.FeeRecord,
// sorted.
func feeRecordJSONFields() []string {
	var names []string
	for f := range reflect.TypeFor[privatenumber.FeeRecord]().Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
