package vmtest

import (
	"fmt"
	"io"
	"sync"
	"testing"
)

// A VM test's log is mostly console lines: the failure a helper reports
// sits among thousands of them. The helpers keep each failure here too,
// so a TestMain can print them together after the run (PrintRecap),
// where a CI log's tail shows them.
var recap struct {
	sync.Mutex
	lines []string
}

// fatalf records the failure for the recap and fails the test.
func fatalf(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	recap.Lock()
	recap.lines = append(recap.lines, t.Name()+": "+msg)
	recap.Unlock()
	t.Fatal(msg)
}

// PrintRecap writes the failures the helpers reported, if any.
func PrintRecap(w io.Writer) {
	recap.Lock()
	defer recap.Unlock()
	if len(recap.lines) == 0 {
		return
	}
	fmt.Fprintf(w, "--- failures reported by vmtest helpers (%d):\n", len(recap.lines))
	for _, l := range recap.lines {
		fmt.Fprintf(w, "    %s\n", l)
	}
}
