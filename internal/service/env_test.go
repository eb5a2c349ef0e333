package service

import (
	"strings"
	"testing"
	"time"
)

// Every malformed setting is reported, all at once, with its name and value;
// defaults stand for what is unset.
func TestEnv_ReadsTypedValuesAndReportsEveryBadOne(t *testing.T) {
	vars := map[string]string{
		"GOOD_DURATION": "250ms", "GOOD_INT": "7", "GOOD_FLOAT": "0.5",
		"BAD_DURATION": "soon", "NEGATIVE": "-1s", "ZERO": "0s",
		"BAD_INT": "seven", "BIG_INT": "99", "BAD_FLOAT": "2",
	}
	env := NewEnv(func(k string) string { return vars[k] })
	if got := env.String("UNSET", "dflt"); got != "dflt" {
		t.Errorf("String of unset = %q", got)
	}
	if got := env.Duration("GOOD_DURATION", time.Second); got != 250*time.Millisecond {
		t.Errorf("Duration = %s", got)
	}
	if got := env.Int("GOOD_INT", 1, 0, 10); got != 7 {
		t.Errorf("Int = %d", got)
	}
	if got := env.Float("GOOD_FLOAT", 0, 0, 1); got != 0.5 {
		t.Errorf("Float = %g", got)
	}
	if env.Err() != nil {
		t.Fatalf("good values reported: %v", env.Err())
	}
	if got := env.Duration("BAD_DURATION", time.Second); got != time.Second {
		t.Errorf("a bad duration gave %s, want the default", got)
	}
	env.Duration("NEGATIVE", time.Second)
	env.PositiveDuration("ZERO", time.Second)
	env.Int("BAD_INT", 1, 0, 10)
	env.Int("BIG_INT", 1, 0, 10)
	env.Float("BAD_FLOAT", 0, 0, 1)
	err := env.Err()
	if err == nil {
		t.Fatal("no error for six bad values")
	}
	for _, name := range []string{"BAD_DURATION", "NEGATIVE", "ZERO", "BAD_INT", "BIG_INT", "BAD_FLOAT"} {
		if !strings.Contains(err.Error(), name+"=") {
			t.Errorf("the error does not name %s: %v", name, err)
		}
	}
}

func TestDefinition_Addresses(t *testing.T) {
	http := Definition{Name: "orders", Port: 8085, Protocol: HTTP}
	grpc := Definition{Name: "inventory", Port: 8084, Protocol: GRPC}
	if http.AddrEnv() != "ORDERS_ADDR" || http.PeerEnv() != "ORDERS_URL" || http.DefaultAddr() != "127.0.0.1:8085" ||
		http.PeerAddress("10.0.0.1:80") != "http://10.0.0.1:80" {
		t.Errorf("HTTP service: %s %s %s %s", http.AddrEnv(), http.PeerEnv(), http.DefaultAddr(), http.PeerAddress("10.0.0.1:80"))
	}
	if grpc.PeerEnv() != "INVENTORY_TARGET" || grpc.PeerAddress("10.0.0.1:80") != "10.0.0.1:80" {
		t.Errorf("gRPC service: %s %s", grpc.PeerEnv(), grpc.PeerAddress("10.0.0.1:80"))
	}
}
