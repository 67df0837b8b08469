package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParsePods(t *testing.T) {
	tests := []struct {
		in      string
		want    []int
		wantErr bool
	}{
		{"10,50,100", []int{10, 50, 100}, false},
		{" 10 , 50 ", []int{10, 50}, false},
		{"", nil, false},
		{"10,x", nil, true},
		{"0", nil, true},
		{"200", nil, true},
	}
	for _, tt := range tests {
		got, err := parsePods(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("parsePods(%q) error = %v, want error %t", tt.in, err, tt.wantErr)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("parsePods(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}
