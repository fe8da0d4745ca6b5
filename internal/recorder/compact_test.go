package recorder

import (
	"reflect"
	"testing"

	"github.com/pnstream/pnstream/internal/privatenumber"
)

// TestFeeStringsAreEveryString: a string field missing from feeStrings
// would keep the decoder's copy of the message alive through compactFee.
func TestFeeStringsAreEveryString(t *testing.T) {
	var r privatenumber.FeeRecord
	listed := map[*string]bool{}
	for _, p := range feeStrings(&r) {
		listed[p] = true
	}
	v := reflect.ValueOf(&r).Elem()
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.String && !listed[f.Addr().Interface().(*string)] {
			t.Errorf("FeeRecord.%s is not in feeStrings", v.Type().Field(i).Name)
		}
	}
	if len(listed) != len(feeStrings(&r)) {
		t.Errorf("feeStrings lists a field twice")
	}
}

func TestCompactFeeKeepsEveryValue(t *testing.T) {
	raw := []byte(`{"direction":1,"spId":"sp","appKey":"ak","icid":"i-1","bindNum":"+8617000000000","sessionId":"s-1",` +
		`"subscriptionId":"sub","callerNum":"+8613800000000","calleeNum":"+8617000000000","fwdDisplayNum":"+8617000000000",` +
		`"fwdDstNum":"+8613900000000","callInTime":"2024-01-01 00:00:00","recordFlag":1,"recordDomain":"d","recordBucketName":"b",` +
		`"recordObjectName":"o","mptyId":"m","serviceType":"005","hostName":"h","extendNumber":"42","areaCode":"010"}`)
	r, err := privatenumber.DecodeFeeRecord(raw)
	if err != nil {
		t.Fatal(err)
	}
	got := compactFee(r)
	if !reflect.DeepEqual(got, r) {
		t.Errorf("compactFee changed the record:\n got %+v\nwant %+v", got, r)
	}
}
