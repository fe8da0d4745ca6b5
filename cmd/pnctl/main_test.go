package main

import (
	"testing"

	"github.com/pnstream/pnstream/internal/testenv"
)

// The servers of the operations commands' tests; the API commands' tests
// use the simulator in-process.
var (
	chServer *testenv.ClickHouseServer
	s3Server *testenv.S3Server
)

func TestMain(m *testing.M) { testenv.Main(m, testenv.Servers{ClickHouse: &chServer, S3: &s3Server}) }
