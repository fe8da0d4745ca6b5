package bench

import (
	"fmt"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/recorder"
)

// The peers stage runs Bento 1.20.0 (internal/bench/peers/bento) on the
// same workloads as pnstream, on the same servers, with streams of its own
// shaped like pnstream's so that the two never share data. Both sides run
// as child processes of pnbench: pnstream's bin/ingest and bin/recorder
// configured as in production, Bento's bin/bento with the configs below.
const (
	peerFees        = "PEER_FEES"
	peerFeeSubject  = "peer.fees"
	peerEvents      = "PEER_EVENTS"
	peerEventPrefix = "peer.events."
	peerFeePath     = "/fees"
	peerEventPath   = "/events"
)

// pnIngestEnv is bin/ingest's environment: production's defaults but for
// the listen address, NATS and the credential the load generator signs
// with, so push authentication is on (an environment variable, as a
// deployment passes the secret, not a flag on the command line).
func pnIngestEnv(natsURL, addr string) []string {
	return []string{
		"PN_NATS_URL=" + natsURL,
		"PN_INGEST_ADDR=" + addr,
		"PN_PUSH_AUTH=required",
		"PN_APP_KEY=" + benchAppKey,
		"PN_APP_SECRET=" + benchAppSecret,
	}
}

// pnRecorderEnv is bin/recorder's environment: production's defaults (the
// batching, the PII policy, the gap detector, the X-number watch and the
// retention job) but for NATS, ClickHouse's address and database, the
// admin address, a fresh consumer prefix and the streams' storage (as the
// bench provisioned them). Without PN_S3_ENDPOINT the mirror is off and
// recording jobs wait in PN_RECORDINGS, as in the recorder stage.
func pnRecorderEnv(natsURL, clickhouseAddr, database, adminAddr, consumerPrefix, storage string) []string {
	return []string{
		"PN_NATS_URL=" + natsURL,
		"PN_CLICKHOUSE_ADDR=" + clickhouseAddr,
		"PN_CLICKHOUSE_DATABASE=" + database,
		"PN_RECORDER_ADMIN_ADDR=" + adminAddr,
		"PN_RECORDER_CONSUMER_PREFIX=" + consumerPrefix,
		"PN_STREAM_STORAGE=" + storage,
	}
}

// bentoIngestConfig is Bento's http_server -> nats_jetstream pipeline for
// one push kind on addr: a fee push is split into one message per CDR
// (feeLst), an event push is published whole; each message carries the
// Nats-Msg-Id pnstream gives it (privatenumber's MsgID), and http_server
// answers 200 only once the output acked the whole push, i.e. once
// JetStream acked every publish. max_in_flight is the output's default.
func bentoIngestConfig(natsURL, addr string, fees bool) map[string]any {
	in := map[string]any{
		"address":       addr,
		"allowed_verbs": []any{"POST"},
		"timeout":       "30s",
	}
	out := map[string]any{
		"urls":          []any{natsURL},
		"max_in_flight": 1024, // the default, stated
	}
	var processors []any
	if fees {
		in["path"] = peerFeePath
		processors = []any{
			map[string]any{"mapping": "root = this.feeLst"},
			map[string]any{"unarchive": map[string]any{"format": "json_array"}},
		}
		out["subject"] = peerFeeSubject
		out["headers"] = map[string]any{"Nats-Msg-Id": `fee:${! json("icid") }`}
	} else {
		in["path"] = peerEventPath
		out["subject"] = peerEventPrefix + `${! json("eventType") }`
		out["headers"] = map[string]any{
			"Nats-Msg-Id": `event:${! json("statusInfo.sessionId") }:${! json("eventType") }:${! json("statusInfo.timestamp") }`,
		}
	}
	conf := bentoBase()
	conf["input"] = map[string]any{"http_server": in}
	if processors != nil {
		conf["pipeline"] = map[string]any{"processors": processors}
	}
	conf["output"] = map[string]any{"nats_jetstream": out}
	return conf
}

// bentoRecorderConfig is Bento's nats_jetstream -> sql_insert pipeline:
// a durable push consumer of PEER_FEES, and inserts into
// database.fee_records (made by pnstream's own migrations) through
// clickhouse-go's database/sql driver, with the recorder's batching policy
// (BatchSize records, BatchMaxBytes, BatchWait). max_ack_pending is
// BatchSize: about four of the ~5,500-CDR batches that BatchMaxBytes
// closes, as the recorder's 4×BatchSize is for its pull consumer. More
// overflows the 64 MiB that nats.go buffers for Bento's push subscription
// (measured at 4×BatchSize: "slow consumer, messages dropped", each lost
// delivery waiting ack_wait for its redelivery). sql_insert's
// max_in_flight is its default.
func bentoRecorderConfig(natsURL, durable, clickhouseAddr, database string) map[string]any {
	rc := recorder.DefaultConfig()
	conf := bentoBase()
	conf["input"] = map[string]any{"nats_jetstream": map[string]any{
		"urls":            []any{natsURL},
		"stream":          peerFees,
		"subject":         peerFeeSubject,
		"durable":         durable,
		"deliver":         "all",
		"ack_wait":        rc.AckWait.String(),
		"max_ack_pending": rc.BatchSize,
	}}
	conf["output"] = map[string]any{"sql_insert": map[string]any{
		"driver":        "clickhouse",
		"dsn":           "clickhouse://" + clickhouseAddr + "/" + database + "?compress=lz4&dial_timeout=5s&read_timeout=300s",
		"table":         "fee_records",
		"columns":       toAny(feeColumns()),
		"args_mapping":  feeArgsMapping(),
		"max_in_flight": 64, // the default, stated
		"batching": map[string]any{
			"count":     rc.BatchSize,
			"byte_size": rc.BatchMaxBytes,
			"period":    rc.BatchWait.String(),
		},
	}}
	return conf
}

// bentoBase is what every config shares: no HTTP API server (http_server
// listens on its own address), warnings only in the log.
func bentoBase() map[string]any {
	return map[string]any{
		"http":   map[string]any{"enabled": false},
		"logger": map[string]any{"level": "WARN", "format": "logfmt"},
	}
}

// peerFeeColumns are the raw insert's columns and the two optional ones
// the recorder also fills; call_in_time_derived and anomalies take their
// defaults (0, []), which is what the recorder writes for a valid CDR.
const peerFeeColumns = rawFeeColumns + ", call_duration, area_code"

func feeColumns() []string {
	return strings.Split(peerFeeColumns, ", ")
}

// feeArg is how Bento's bloblang computes one fee_records column from a
// CDR, in the order of peerFeeColumns.
type feeArg struct{ column, expr string }

// feeArgs maps each column as pnstream's recorder fills it for a valid
// CDR: times in privatenumber.TimeLayout, UTC, NULL when empty or absent;
// absent numbers 0; extend_num from extendNum or extendNumber; raw the
// record's JSON (Bento's re-encoding of it: unarchive re-marshals the
// elements of feeLst). pnstream's tolerance (numbers as strings, other
// time layouts, out-of-range enums) is not reproduced.
func feeArgs() []feeArg {
	str := func(field string) string { return "this." + field + `.or("")` }
	num := func(field, typ string) string { return "this." + field + ".or(0)." + typ + "()" }
	tm := func(field string) string {
		return "this." + field + `.or("").not_empty().ts_parse("` + privatenumber.TimeLayout + `").catch(null)`
	}
	return []feeArg{
		{"direction", num("direction", "uint8")},
		{"sp_id", str("spId")}, {"app_key", str("appKey")}, {"icid", "this.icid"}, {"bind_num", str("bindNum")},
		{"session_id", str("sessionId")}, {"subscription_id", str("subscriptionId")}, {"caller_num", str("callerNum")},
		{"callee_num", str("calleeNum")}, {"fwd_display_num", str("fwdDisplayNum")}, {"fwd_dst_num", str("fwdDstNum")},
		{"call_in_time", `this.callInTime.ts_parse("` + privatenumber.TimeLayout + `")`},
		{"fwd_start_time", tm("fwdStartTime")}, {"fwd_alerting_time", tm("fwdAlertingTime")},
		{"fwd_answer_time", tm("fwdAnswerTime")}, {"call_end_time", tm("callEndTime")}, {"fail_time", tm("failTime")},
		{"record_start_time", tm("recordStartTime")},
		{"fwd_unasw_rsn", num("fwdUnaswRsn", "int32")}, {"ul_fail_reason", num("ulFailReason", "int32")},
		{"sip_status_code", num("sipStatusCode", "int32")}, {"call_out_unasw_rsn", num("callOutUnaswRsn", "int32")},
		{"record_flag", num("recordFlag", "uint8")},
		{"record_domain", str("recordDomain")}, {"record_bucket_name", str("recordBucketName")},
		{"record_object_name", str("recordObjectName")}, {"record_file_download_url", str("recordFileDownloadUrl")},
		{"tts_play_times", num("ttsPlayTimes", "int32")}, {"tts_trans_duration", num("ttsTransDuration", "int32")},
		{"mpty_id", str("mptyId")}, {"service_type", `this.serviceType.or("").string()`}, {"host_name", str("hostName")},
		{"extend_num", `this.extendNum.or(this.extendNumber).or("")`},
		{"raw", "content().string()"},
		{"ingested_at", `now().ts_parse("2006-01-02T15:04:05Z07:00")`},
		{"call_duration", "this.callDuration.int32().catch(null)"},
		{"area_code", str("areaCode")},
	}
}

// feeArgsMapping is sql_insert's args_mapping: one array element a column.
func feeArgsMapping() string {
	args := feeArgs()
	exprs := make([]string, len(args))
	for i, a := range args {
		exprs[i] = a.expr
	}
	return "root = [\n  " + strings.Join(exprs, ",\n  ") + "\n]\n"
}

func toAny(xs []string) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// bentoYAML renders a config for `bento -c`.
func bentoYAML(conf map[string]any) ([]byte, error) {
	out, err := yaml.Marshal(conf)
	if err != nil {
		return nil, fmt.Errorf("bento config: %w", err)
	}
	return out, nil
}
