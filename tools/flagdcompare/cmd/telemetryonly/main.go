// Command telemetryonly imports only the shop's telemetry package, which
// internal/flags imports and the shop has anyway: measure.sh subtracts it from
// cmd/own to show what the own provider itself weighs.
package main

import (
	"fmt"

	"github.com/otelshop/shop/telemetry"
)

func main() {
	var t *telemetry.Telemetry
	fmt.Println(t == nil)
}
