// Package docs_test checks that the README says what the code does: its
// settings table lists exactly the variables the commands read, with their
// defaults, and the files of its record path exist.
package docs_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// usageLine matches one flag of daemon.Parse's usage: the flag, its
// variable, then on the next line the usage and the default, if any.
var usageLine = regexp.MustCompile(`(?m)^  -(\S+)  \((PN_[A-Z0-9_]+)\)\n    \t.*?(?: \(default "(.*)"\))?$`)

// helpVariables builds the commands and returns every PN_* variable their
// -help lists, with its default.
func helpVariables(t *testing.T, commands ...string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	for _, c := range commands {
		args = append(args, "github.com/pnstream/pnstream/cmd/"+c)
	}
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	vars := map[string]string{}
	for _, c := range commands {
		out, err := exec.Command(filepath.Join(dir, c), "-help").CombinedOutput()
		if err != nil {
			t.Fatalf("%s -help: %v\n%s", c, err, out)
		}
		n := 0
		for _, m := range usageLine.FindAllStringSubmatch(string(out), -1) {
			vars[m[2]] = m[3]
			n++
		}
		if n < 5 {
			t.Fatalf("%s -help lists %d variables; has its usage format changed?\n%s", c, n, out)
		}
	}
	return vars
}

// readmeSection returns the README's section under the heading, up to the
// next heading of the same level.
func readmeSection(t *testing.T, heading string) string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("README.md has no %q", heading)
	}
	s = s[i+len(heading)+2:]
	level := heading[:strings.IndexByte(heading, ' ')+1]
	if j := strings.Index(s, "\n"+level); j >= 0 {
		s = s[:j]
	}
	return s
}

var (
	variableName = regexp.MustCompile(`PN_[A-Z0-9_]+`)
	// oneDefault is a default cell holding one value: `x`, perhaps with a
	// remark in brackets.
	oneDefault = regexp.MustCompile("^`([^`]*)`(?: \\(.*\\))?$")
)

// TestSettingsTableMatchesTheCommands: every variable ingest and the
// recorder read is in the README's settings table, every variable there is
// read by one of them, and where a row names one variable and one default,
// the default is the command's.
func TestSettingsTableMatchesTheCommands(t *testing.T) {
	vars := helpVariables(t, "ingest", "recorder")
	table := map[string]bool{}
	for _, line := range strings.Split(readmeSection(t, "## Configuration"), "\n") {
		if !strings.HasPrefix(line, "| `PN_") {
			continue
		}
		cells := strings.Split(line, "|")
		names := variableName.FindAllString(cells[1], -1)
		for _, name := range names {
			table[name] = true
			if _, ok := vars[name]; !ok {
				t.Errorf("README settings table lists %s, which neither ingest nor recorder reads", name)
			}
		}
		def := strings.TrimSpace(cells[2])
		if m := oneDefault.FindStringSubmatch(def); len(names) == 1 && m != nil {
			if want, ok := vars[names[0]]; ok && !sameValue(m[1], want) {
				t.Errorf("README: %s defaults to `%s`, the commands to %q", names[0], m[1], want)
			}
		}
	}
	for name := range vars {
		if !table[name] {
			t.Errorf("%s is read by ingest or recorder but missing from the README settings table", name)
		}
	}
}

// sameValue compares a README default with a -help one: durations by
// value ("5m" is "5m0s").
func sameValue(readme, help string) bool {
	if readme == help {
		return true
	}
	a, aerr := time.ParseDuration(readme)
	b, berr := time.ParseDuration(help)
	return aerr == nil && berr == nil && a == b
}

// repoPath is a path of this repository the README names in backticks.
var repoPath = regexp.MustCompile("`((?:cmd|internal|schemas|deploy|docs)/[A-Za-z0-9_./-]+)`")

// TestReadmePathsExist: every file or directory the README names exists,
// so its record path cannot point at code that moved.
func TestReadmePathsExist(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, m := range repoPath.FindAllStringSubmatch(string(b), -1) {
		seen++
		p := strings.TrimSuffix(m[1], "/")
		if _, err := os.Stat(filepath.Join("..", p)); err != nil {
			t.Errorf("README names %s: %v", m[1], err)
		}
	}
	if seen < 10 {
		t.Fatalf("README names %d paths; has its format changed?", seen)
	}
}
