package ids

import (
	"strings"
	"testing"
)

func TestProduct(t *testing.T) {
	for _, tt := range []struct {
		id string
		ok bool
	}{
		{"SKU-00042", true}, {"a", true}, {strings.Repeat("x", 40), true}, {"TEST-AB12", true},
		{"", false}, {"-SKU", false}, {strings.Repeat("x", 41), false}, {"SKU 1", false},
		{"SKU_1", false}, {"SKU/../1", false}, {"ÄBC", false}, {"SKU\x00", false}, {"%2E%2E", false},
	} {
		if got := Product(tt.id); got != tt.ok {
			t.Errorf("Product(%q) = %v, want %v", tt.id, got, tt.ok)
		}
	}
}

func TestCategory(t *testing.T) {
	for _, tt := range []struct {
		name string
		ok   bool
	}{
		{"books", true}, {"home-garden", true}, {"a1", true},
		{"", false}, {"Books", false}, {"1books", false}, {"-x", false}, {strings.Repeat("a", 41), false}, {"a_b", false},
	} {
		if got := Category(tt.name); got != tt.ok {
			t.Errorf("Category(%q) = %v, want %v", tt.name, got, tt.ok)
		}
	}
}

func TestUUID(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		ok       bool
	}{
		{"0192F0A4-2B6C-7D1E-8F00-112233445566", "0192f0a4-2b6c-7d1e-8f00-112233445566", true},
		{"0192f0a4-2b6c-7d1e-8f00-112233445566", "0192f0a4-2b6c-7d1e-8f00-112233445566", true},
		{"{0192f0a4-2b6c-7d1e-8f00-112233445566}", "", false},
		{"urn:uuid:0192f0a4-2b6c-7d1e-8f00-112233445566", "", false},
		{"0192f0a42b6c7d1e8f00112233445566", "", false},
		{"not-a-uuid", "", false}, {"", "", false},
	} {
		got, ok := UUID(tt.in)
		if ok != tt.ok || got != tt.want {
			t.Errorf("UUID(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
