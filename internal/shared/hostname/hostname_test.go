package hostname

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{"node-a\n", "node-a", ""},
		{"# the rack's name\n\n  node-a  \nignored\n", "node-a", ""},
		{"node-a.example.com\n", "node-a.example.com", ""},
		{"", "", ""},
		{"# only a comment\n", "", ""},
		{"Node_A\n", "", `"Node_A" is not a valid host name`},
		{strings.Repeat("a", 65) + "\n", "", "longer than 64"},
	}
	for _, tt := range tests {
		got, err := Parse([]byte(tt.in))
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%q: %v", tt.in, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%q: err %v, want one containing %q", tt.in, err, tt.err)
		case got != tt.want:
			t.Errorf("%q = %q, want %q", tt.in, got, tt.want)
		}
	}
}
