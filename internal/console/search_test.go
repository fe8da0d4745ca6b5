package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pnstream/pnstream/internal/console"
)

// Search by X and open the call, over plain HTTP.
func TestSearchAndCallPage(t *testing.T) {
	w := simulate(t, 6)
	icid, x, _ := w.recordedCall(t)
	c := newClient(t, w.console(t, console.RoleViewer).URL)
	c.login()
	status, body, _ := c.get("/search?x=" + url.QueryEscape(x) + "&all=1")
	if status != http.StatusOK || !strings.Contains(body, icid) {
		t.Fatalf("search: %d\n%s", status, body)
	}
	status, body, _ = c.get("/calls/" + icid)
	if status != http.StatusOK || !strings.Contains(body, `id="integrity" class="ok"`) {
		t.Fatalf("call page: %d\n%s", status, body)
	}
}

// The auditor's page lists the accesses.
func TestAuditPage(t *testing.T) {
	w := simulate(t, 2)
	c := newClient(t, w.console(t, console.RoleAuditor).URL)
	c.login()
	status, body, _ := c.get("/audit")
	if status != http.StatusOK || !strings.Contains(body, "auditor-user") {
		t.Fatalf("audit: %d\n%s", status, body)
	}
}
